"""PNG plots of a `loadtest.formats` report (needs matplotlib: the training venv has it).

    .venv-train/bin/python -m loadtest.plots reports/bench.json

Writes <report>-accuracy-latency.png, <report>-throughput-memory.png and <report>-latency.png.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path((argv or sys.argv[1:] or ["reports/bench.json"])[0])
    stem = str(path.with_suffix(""))
    results = [r for r in json.loads(path.read_text())["results"] if "error" not in r]

    def scatter(points: list[tuple[float, float, str]], **labels: str) -> Any:
        fig, ax = plt.subplots(figsize=(8, 5))
        for x, y, name in points:
            ax.scatter(x, y, s=60)
            ax.annotate(name, (x, y), fontsize=7, xytext=(4, 4), textcoords="offset points")
        ax.set(xscale="log", **labels)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        return fig

    fig = scatter([(r["p50_ms"], r["accuracy"], r["variant"]["name"]) for r in results
                   if r.get("accuracy") is not None and r.get("p50_ms")],
                  xlabel="single-stream p50 latency (ms, log)", ylabel="exact match (test rows)",
                  title="Accuracy against latency (warm 15-item catalogs, 2 CPU cores)")
    fig.savefig(stem + "-accuracy-latency.png", dpi=120)

    fig = scatter([(r["peak_rss_mb"], r["rps"]["16"], r["variant"]["name"]) for r in results
                   if r.get("peak_rss_mb") and r.get("rps", {}).get("16")],
                  xlabel="peak RSS (MB, log)", ylabel="requests/s at 16 concurrent clients",
                  title="Throughput against memory")
    fig.savefig(stem + "-throughput-memory.png", dpi=120)

    with_latency = [r for r in results if r.get("single_ms")]
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(with_latency) + 1.5))
    ax.boxplot([r["single_ms"] for r in with_latency], orientation="horizontal", showfliers=True)
    ax.set_yticks(range(1, len(with_latency) + 1), [r["variant"]["name"] for r in with_latency], fontsize=8)
    ax.set(xscale="log", xlabel="single-stream latency (ms, log)", title="Latency distributions")
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    fig.savefig(stem + "-latency.png", dpi=120)
    print(f"wrote {stem}-{{accuracy-latency,throughput-memory,latency}}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
