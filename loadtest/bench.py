"""Service benchmark: latency, throughput and memory of the real server, against the study's decoding.

    python -m loadtest.bench            # about 3 minutes on 2 cores
    python -m loadtest.bench --quick    # about 1 minute

Starts the service (default model, Q4_K_M base + LoRA) as a subprocess on a free port and talks
HTTP to it, like a storefront. Warm: catalogs have 15 items; each is sent once before timing (warm
prefix cache). Cold, in the same run on the same server: every request brings a catalog of its own
(5-30 entries, and 200, drawn from a universe of ~6,700 entries with Zipf popularity, so entries
recur while catalogs do not), as real carts do. Then the warm requests are decoded the study's way
(its prompt, full JSON token by token under a GBNF grammar, llama-cpp-python's high-level API) and
the ratio is printed. Writes reports/bench-service.json and reports/bench-service.md. Run it on an
idle machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
from pathlib import Path

from app.artifacts import DEFAULT_MANIFEST
from loadtest.common import machine, percentile, rss_mb
from loadtest.server import Server
from loadtest.workload import catalog_universe, cold_requests, requests_with_15_item_catalogs, run_load, study_style


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--manifest", default=str(DEFAULT_MANIFEST))
    parser.add_argument("--out", default="reports/bench-service")
    args = parser.parse_args(argv)
    n_cat, per_cat, n_study = (8, 12, 20) if args.quick else (20, 20, 40)
    n_cold, n_huge = (24, 3) if args.quick else (80, 6)
    universe = catalog_universe()
    cold = {c: cold_requests(n_cold * max(1, c // 4), seed=c, universe=universe) for c in (1, 4, 16)}
    huge = cold_requests(n_huge, sizes=(200, 200), seed=200, universe=universe)
    bodies = requests_with_15_item_catalogs(n_cat, per_cat)
    random.Random(1).shuffle(bodies)
    warm = list({tuple(b["catalog"]): b for b in bodies}.values())

    from app.artifacts import resolve

    served = resolve(Path(args.manifest), merge=True)
    server = Server({"SHOPINTENT_MODEL_MANIFEST": args.manifest})
    try:
        asyncio.run(run_load(server.url, warm, 1))  # warm the prefix cache: one request per catalog
        single, _, fail_single = asyncio.run(run_load(server.url, bodies, 1))
        conc16, rps16, fail16 = asyncio.run(run_load(server.url, bodies * (1 if args.quick else 2), 16))
        _, rps4, fail4 = asyncio.run(run_load(server.url, bodies, 4))
        cold_runs = {c: asyncio.run(run_load(server.url, cold[c], c)) for c in (1, 4, 16)}
        huge_ms, _, huge_fail = asyncio.run(run_load(server.url, huge, 1))
        rss, peak = rss_mb(server.proc.pid)
    finally:
        server.stop()
    study = study_style(bodies[:n_study], str(served.model_path), str(served.lora_path) if served.lora_path else None)
    ours_same = single[:n_study]
    result = {
        "model": served.name,
        "machine": machine(),
        "requests": len(bodies),
        "catalog_items": 15,
        "single_stream_ms": {"p50": percentile(single, 50), "p95": percentile(single, 95), "mean": statistics.mean(single)},
        "concurrency_16": {"requests_per_s": rps16, "p50_ms": percentile(conc16, 50), "p95_ms": percentile(conc16, 95)},
        "failures": fail_single + fail16 + fail4,
        "warm_requests_per_s": {"1": 1000 / statistics.mean(single), "4": rps4, "16": rps16},
        "cold": {
            "catalog_entries": "5-30", "universe_entries": len(universe),
            "single_stream_ms": {"p50": percentile(cold_runs[1][0], 50), "p95": percentile(cold_runs[1][0], 95)},
            # answered (200) requests per second; the rest were shed (429) by admission control
            "requests_per_s": {str(c): cold_runs[c][1] * (1 - cold_runs[c][2] / len(cold[c])) for c in (1, 4, 16)},
            "shed": {str(c): cold_runs[c][2] for c in (1, 4, 16)},
            "failures": sum(cold_runs[c][2] for c in (1, 4, 16)),
        },
        "cold_200_entries": {"n": len(huge), "p50_ms": percentile(huge_ms, 50), "max_ms": max(huge_ms),
                             "failures": huge_fail},
        "server_rss_mb": rss,
        "server_peak_rss_mb": peak,
        "study_style_ms": {"n": len(study), "p50": percentile(study, 50), "mean": statistics.mean(study)},
        "speedup_vs_study_style_mean": statistics.mean(study) / statistics.mean(ours_same),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out + ".json").write_text(json.dumps(result, indent=2))
    md = [
        f"Made by `python -m loadtest.bench` on {result['machine']}.", "",
        "| measure | value |", "|---|---|",
        f"| single stream p50 / p95 | {result['single_stream_ms']['p50']:.1f} / {result['single_stream_ms']['p95']:.1f} ms |",
        f"| 16 concurrent clients | {rps16:.1f} req/s (p50 {percentile(conc16, 50):.0f} ms, p95 {percentile(conc16, 95):.0f} ms) |",
        f"| server RSS (peak) | {rss:.0f} MB ({peak:.0f} MB) |",
        f"| study-style decoding (JSON under GBNF), mean | {result['study_style_ms']['mean']:.0f} ms |",
        f"| speed-up, ours vs study-style, same {len(study)} requests | {result['speedup_vs_study_style_mean']:.1f}x |",
        f"| failed requests | {result['failures']} |",
        "", "Cold catalogs (every request brings a catalog the service has not seen) beside warm ones, same run:", "",
        "| | p50 ms | p95 ms | answered req/s, 1 client | 4 clients | 16 clients | not answered (429/504) |",
        "|---|---|---|---|---|---|---|",
        f"| warm: 15-entry catalogs, cached | {result['single_stream_ms']['p50']:.0f} | "
        f"{result['single_stream_ms']['p95']:.0f} | {result['warm_requests_per_s']['1']:.1f} | {rps4:.1f} | "
        f"{rps16:.1f} | {fail_single + fail16 + fail4} |",
        f"| cold: 5-30 entries, fresh | {result['cold']['single_stream_ms']['p50']:.0f} | "
        f"{result['cold']['single_stream_ms']['p95']:.0f} | {result['cold']['requests_per_s']['1']:.1f} | "
        f"{result['cold']['requests_per_s']['4']:.1f} | {result['cold']['requests_per_s']['16']:.1f} | "
        f"{result['cold']['failures']} of {sum(len(v) for v in cold.values())} |",
        f"| cold: 200 entries, fresh | {result['cold_200_entries']['p50_ms']:.0f} | "
        f"{result['cold_200_entries']['max_ms']:.0f} (max) | | | | {huge_fail} |",
        "", f"Cold p50 / warm p50: {result['cold']['single_stream_ms']['p50'] / result['single_stream_ms']['p50']:.2f}x; "
        f"cold p95 / warm p95: {result['cold']['single_stream_ms']['p95'] / result['single_stream_ms']['p95']:.2f}x; "
        f"throughput at 16 clients, cold / warm: {result['cold']['requests_per_s']['16'] / rps16:.2f}x. "
        f"Entries drawn from a universe of {len(universe)}.",
    ]
    Path(args.out + ".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
