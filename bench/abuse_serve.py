"""`doccat serve` under ApacheBench, then under abuse: 1,000 slow-body connections and 4 large /explain requests.

    .venv/bin/python bench/abuse_serve.py RUN_DIR [--port 8765] [--seconds 10]

Starts the server on loopback, measures with `ab` (apt-get install apache2-utils; a tool this project did not
write) one-text and 64-text POST /predict: requests/s, p50/p99 ms, failed requests. Then holds 1,000
connections that announce a 2,000-byte body and send 9 bytes, and 4 /explain requests of 1,000 distinct words
each, and measures the one-text /predict again while they are held. The server's RSS (VmRSS) is read before,
during and after. Prints one JSON object; everything stops by itself (ab -t, the server killed at the end).
"""
from __future__ import annotations

import argparse
import json
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def ab(url: str, body: bytes, seconds: int, concurrency: int = 8) -> dict:
    """ab's figures for POSTing `body` for `seconds`, `concurrency` requests at once."""
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        f.write(body)
        f.flush()
        out = subprocess.run(["ab", "-q", "-n", "1000000", "-c", str(concurrency), "-t", str(seconds), "-s", "30",
                              "-p", f.name, "-T", "application/json", url + "/predict"],
                             capture_output=True, text=True).stdout
    grab = lambda pattern: float(re.search(pattern, out).group(1)) if re.search(pattern, out) else None  # noqa: E731
    return {"requests_per_s": grab(r"Requests per second:\s+([\d.]+)"), "p50_ms": grab(r"\n\s+50%\s+(\d+)"),
            "p99_ms": grab(r"\n\s+99%\s+(\d+)"), "complete": grab(r"Complete requests:\s+(\d+)"),
            "failed": grab(r"Failed requests:\s+(\d+)"), "non_2xx": grab(r"Non-2xx responses:\s+(\d+)") or 0}


def slow_bodies(port: int, n: int, hold: float) -> list[socket.socket]:
    """`n` connections that announce a body and send 9 bytes of it, then nothing (closed after `hold` s)."""
    socks = []
    for _ in range(n):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 2000\r\n\r\n{\"text\": ")
            socks.append(s)
        except OSError:
            break
    threading.Timer(hold, lambda: [s.close() for s in socks]).start()
    return socks


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--seconds", type=int, default=10, help="of each ab measurement")
    args = p.parse_args(argv)
    url = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen([sys.executable, "-m", "doccat", "serve", args.run_dir, "--port", str(args.port)],
                              stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        one = json.dumps({"text": "the team won the match in the last minute"}).encode()
        batch = json.dumps({"texts": [f"stocks fell {i} points as the bank raised rates" for i in range(64)]}).encode()
        report = {"rss_start_mib": rss_mib(server.pid), "idle": {
            "one_text": ab(url, one, args.seconds), "64_texts": ab(url, batch, args.seconds)}}
        report["rss_after_idle_mib"] = rss_mib(server.pid)
        held = slow_bodies(args.port, 1000, args.seconds + 5.0)  # held through the measurement below
        big = " ".join(f"word{i}" for i in range(1000))
        explains = [threading.Thread(target=lambda: httpx.post(url + "/explain", json={"text": big}, timeout=120))
                    for _ in range(4)]
        for t in explains:
            t.start()
        time.sleep(0.5)
        report["slow_connections_opened"] = len(held)
        report["rss_during_mib"] = rss_mib(server.pid)
        report["abused"] = {"one_text": ab(url, one, args.seconds)}
        report["rss_during_late_mib"] = rss_mib(server.pid)
        for t in explains:
            t.join()
        time.sleep(15)  # the slow connections closed (and timed out on the server's side)
        report["rss_end_mib"] = rss_mib(server.pid)
        report["rss_end_over_start"] = report["rss_end_mib"] / report["rss_start_mib"]
        print(json.dumps(report, indent=1))
    finally:
        server.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
