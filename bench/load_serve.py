"""A bounded load test of `doccat serve`: N concurrent clients for S seconds, then it stops by itself.

    .venv/bin/doccat serve runs/ag --port 8000 &
    .venv/bin/python bench/load_serve.py --url http://127.0.0.1:8000 --texts ../shared/datasets/ag_news/test.csv

Each client loops: POST /predict with `--batch` texts (drawn in turn from --texts, a CSV whose last
column is the text, or a few built-in sentences), waits for the answer, sends the next. Prints
requests/s, docs/s, p50/p99 latency and the error count (any non-200 or transport error) as JSON.
Needs httpx (in the `test` extra).
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import itertools
import json
import sys
import time

import httpx

BUILTIN = ["Stocks fell sharply on Wall Street after the central bank raised interest rates.",
           "The home team scored twice in the final minutes to win the championship match.",
           "Astronomers using a new telescope found water vapour on a distant planet.",
           "Leaders met in Geneva to discuss a ceasefire as fighting continued in the region."]


def read_texts(path: str | None, limit: int = 5000) -> list[str]:
    if not path:
        return BUILTIN
    with open(path, newline="", encoding="utf-8") as f:
        return [row[-1] for row in itertools.islice(csv.reader(f), limit) if row]


async def client(http: httpx.AsyncClient, url: str, texts, batch: int, stop_at: float, latencies: list, errors: list):
    while time.perf_counter() < stop_at:
        body = {"texts": [next(texts) for _ in range(batch)], "k": 1}
        t0 = time.perf_counter()
        try:
            r = await http.post(url, json=body)
            if r.status_code != 200:
                errors.append(r.status_code)
                continue
        except httpx.HTTPError as e:
            errors.append(type(e).__name__)
            continue
        latencies.append(time.perf_counter() - t0)


def percentile(sorted_xs: list[float], q: float) -> float:
    return sorted_xs[min(len(sorted_xs) - 1, int(q * len(sorted_xs)))] if sorted_xs else float("nan")


async def run(args) -> dict:
    texts = itertools.cycle(read_texts(args.texts))
    headers = {"X-API-Key": args.api_key} if args.api_key else {}
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    latencies, errors = [], []
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as http:
        health = await http.get(args.url + "/health")
        health.raise_for_status()
        t0 = time.perf_counter()
        stop_at = t0 + args.seconds
        await asyncio.gather(*(client(http, args.url + "/predict", texts, args.batch, stop_at, latencies, errors)
                               for _ in range(args.clients)))
        elapsed = time.perf_counter() - t0
    lat = sorted(latencies)
    return {"clients": args.clients, "seconds": round(elapsed, 2), "texts_per_request": args.batch,
            "requests": len(lat), "requests_per_s": round(len(lat) / elapsed, 1),
            "docs_per_s": round(len(lat) * args.batch / elapsed, 1),
            "p50_ms": round(1000 * percentile(lat, 0.50), 2), "p99_ms": round(1000 * percentile(lat, 0.99), 2),
            "errors": len(errors), "error_kinds": sorted({str(e) for e in errors})}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default="http://127.0.0.1:8000")
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--batch", type=int, default=1, help="texts per request")
    p.add_argument("--texts", help="CSV file whose last column is the text (default: built-in sentences)")
    p.add_argument("--api-key")
    args = p.parse_args(argv)
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=2))
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
