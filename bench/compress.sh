#!/usr/bin/env bash
# bench/COMPRESS.md's figures: bytes on disk (du -sb) and test accuracy of a default-recipe run and of its
# compressed copies. Usage: bench/compress.sh DATASET [DATA_DIR] [WORK_DIR]; one markdown row per variant.
set -euo pipefail
dataset=$1 data_dir=${2:-../shared/datasets} work=${3:-runs/compress}
mkdir -p "$work"
run=$work/$dataset
[ -e "$run" ] || doccat train --dataset "$dataset" --data-dir "$data_dir" --out "$run" -q > /dev/null
accuracy() { doccat evaluate "$1" --data-dir "$data_dir" | python3 -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["accuracy"])'; }
base=$(accuracy "$run")
echo "| $dataset | uncompressed | $(du -sb "$run" | cut -f1) | $base | |"
for variant in "16" "8" "8 100000" "8 20000"; do
  set -- $variant
  out=$work/$dataset-$1${2:+-$2}
  doccat compress "$run" --out "$out" --bits "$1" ${2:+--max-features "$2"} --overwrite > /dev/null
  acc=$(accuracy "$out")
  echo "| $dataset | --bits $1${2:+ --max-features $2} | $(du -sb "$out" | cut -f1) | $acc | $(python3 -c "print(f'{100 * ($acc - $base):+.2f}')") |"
done
