"""Interleaved A/B of server settings on identical requests (the README's drafting comparison).

    python -m loadtest.ab "off=SHOPINTENT_DRAFT=false" "on=SHOPINTENT_DRAFT=true"
    git worktree add /tmp/before b04fba5 && ln -s "$PWD/models" /tmp/before/models
    python -m loadtest.ab "before=@/tmp/before" "after=@."        # two versions of the code

Each NAME=KEY=VALUE[,KEY=VALUE] starts the real server with those variables (NAME=@DIR[,KEY=VALUE]:
the code checked out in DIR); the settings run in
turn, twice, so drift on a noisy machine hits each of them alike. Per run: single-stream p50/p95
on 96 requests over 8 warm 15-item catalogs, requests/s at 16 clients, and the server's RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
from pathlib import Path

from loadtest.common import machine, percentile, rss_mb
from loadtest.server import Server
from loadtest.workload import requests_with_15_item_catalogs, run_load


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("settings", nargs="+", help="NAME=KEY=VALUE[,KEY=VALUE...]")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, help="also write the runs to this JSON file")
    args = parser.parse_args(argv)
    bodies = requests_with_15_item_catalogs(8, 12)
    random.Random(1).shuffle(bodies)
    warm = list({tuple(b["catalog"]): b for b in bodies}.values())
    configs = []
    for spec in args.settings:
        name, _, rest = spec.partition("=")
        tree = None
        if rest.startswith("@"):
            where, _, rest = rest[1:].partition(",")
            tree = Path(where).resolve()
        configs.append((name, tree, dict(kv.split("=", 1) for kv in rest.split(",") if kv)))
    results = []
    for round_ in range(args.rounds):
        for name, tree, env in configs:
            server = Server({"SHOPINTENT_LOG_LEVEL": "warning", **env}, tree)
            try:
                asyncio.run(run_load(server.url, warm, 1))  # warm the prefix cache
                single, _, fail1 = asyncio.run(run_load(server.url, bodies, 1))
                _, rps, fail16 = asyncio.run(run_load(server.url, bodies, 16))
                rss, peak = rss_mb(server.proc.pid)
            finally:
                server.stop()
            results.append({"round": round_, "setting": name, "p50_ms": round(percentile(single, 50), 1),
                            "p95_ms": round(percentile(single, 95), 1), "rps_16": round(rps, 1),
                            "rss_mb": round(rss), "peak_rss_mb": round(peak), "failures": fail1 + fail16})
            print(json.dumps(results[-1]), flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"command": "python -m loadtest.ab " + " ".join(argv or sys.argv[1:]),
                                        "machine": machine(), "runs": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
