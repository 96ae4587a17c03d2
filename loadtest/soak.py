"""Overload soak: 200 Locust users against the real service on 2 cores, RSS sampled throughout.

    python -m loadtest.soak                    # 5 minutes (the acceptance run)
    python -m loadtest.soak --seconds 60       # a shorter look

Passes when the only non-2xx answers are 429 (plus the 4xx that bad inputs must get), nothing
failed or crashed, and RSS grew by at most 10% from the first minute to the last. Writes
loadtest/results/soak.json and prints the numbers.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from loadtest.common import rss_mb
from loadtest.server import Server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--queue-size", type=int, default=64)
    args = parser.parse_args(argv)
    out = Path("loadtest/results")
    out.mkdir(parents=True, exist_ok=True)
    server = Server({"SHOPINTENT_QUEUE_SIZE": str(args.queue_size), "SHOPINTENT_LOG_LEVEL": "warning"})
    samples: list[tuple[float, float]] = []
    try:
        locust = subprocess.Popen(
            [sys.executable, "-m", "locust", "-f", "loadtest/locustfile.py", "--headless", "--host", server.url,
             "-u", str(args.users), "-r", "50", "-t", f"{args.seconds}s", "--csv", str(out / "soak"),
             "--only-summary"],
            env={**__import__("os").environ, "SHOPINTENT_SLO_P95_MS": "100000", "SHOPINTENT_SLO_FAILURE_RATIO": "0"},
        )
        started = time.time()
        while locust.poll() is None:
            if server.proc.poll() is not None:
                locust.kill()
                raise SystemExit("the server died under load")
            samples.append((time.time() - started, rss_mb(server.proc.pid)[0]))
            time.sleep(5)
        alive = server.proc.poll() is None
    finally:
        server.stop()
    first = [rss for t, rss in samples if t <= 60]
    last = [rss for t, rss in samples if t >= samples[-1][0] - 60]
    growth = statistics.mean(last) / statistics.mean(first) - 1
    with (out / "soak_stats.csv").open() as f:
        total = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
    failures = list(csv.DictReader((out / "soak_failures.csv").open()))
    result = {
        "seconds": args.seconds, "users": args.users, "requests": int(total["Request Count"]),
        "failures": int(total["Failure Count"]), "failure_kinds": [f["Error"] for f in failures],
        "p50_ms": float(total["50%"]), "p95_ms": float(total["95%"]), "rps": float(total["Requests/s"]),
        "rss_first_minute_mb": statistics.mean(first), "rss_last_minute_mb": statistics.mean(last),
        "rss_growth": growth, "server_alive": alive,
    }
    (out / "soak.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    ok = alive and result["failures"] == 0 and growth <= 0.10
    print("SOAK PASSED" if ok else "SOAK FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
