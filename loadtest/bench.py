"""Service benchmark: latency, throughput and memory of the real server, warm and cold catalogs, per
catalog layout, against the study's decoding.

    python -m loadtest.bench                     # both layouts, about 12 minutes on 2 cores
    python -m loadtest.bench --quick             # about 4 minutes
    python -m loadtest.bench --layouts entries   # one layout
    python -m loadtest.bench --preload           # and the entries layout with the universe preloaded

Starts the service (default model) as a subprocess on a free port, once per catalog layout
(``SHOPINTENT_CATALOG_LAYOUT``: ``causal``, one cached prefix per catalog, or ``entries``, each entry
encoded once for every catalog it is in), and talks HTTP to it like a storefront. Each server first
sees prior traffic (cold requests of another seed: a service in production has seen its popular
products before). Warm: 15-entry catalogs, each sent once before timing. Cold, on the same server:
every request brings a catalog of its own (5-30 entries, and 200, drawn from a universe of ~6,700
entries with Zipf popularity, so entries recur while catalogs do not), as real carts do. Then the
warm requests are decoded the study's way (its prompt, full JSON token by token under a GBNF grammar,
llama-cpp-python's high-level API) and the ratio is printed. Writes reports/bench-service.json and
reports/bench-service.md. Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from app.artifacts import DEFAULT_MANIFEST, load_manifest
from loadtest.common import machine, percentile, rss_mb
from loadtest.server import Server
from loadtest.workload import catalog_universe, cold_requests, requests_with_15_item_catalogs, run_load, study_style

CLIENTS = (1, 4, 16)


def cache_counts(url: str) -> dict[str, float]:
    """The service's prefix and entry cache counters (Prometheus text)."""
    text = httpx.get(url + "/metrics", timeout=10).text
    counts: dict[str, float] = {}
    for name, result, value in re.findall(r'^shopintent_(prefix|entry)_cache_total\{result="(\w+)"\} (\S+)$', text, re.M):
        counts[f"{name}_{result}"] = float(value)
    return counts


def hit_rate(before: dict[str, float], after: dict[str, float], kind: str, result: str = "hit") -> float | None:
    """The share of ``kind`` lookups between the two counts that ended as ``result`` (entries: "hit" in
    the KV cache, "stored": read back from the entry store, "miss": evaluated)."""
    delta = {r: after.get(f"{kind}_{r}", 0) - before.get(f"{kind}_{r}", 0) for r in ("hit", "stored", "miss")}
    total = sum(delta.values())
    return delta[result] / total if total else None


def measure(layout: str, manifest: str, work: dict[str, Any], settings: dict[str, str],
            preload: list[str] | None = None) -> dict[str, Any]:
    """One server with this layout (and these SHOPINTENT_ settings) through the whole workload. Its
    entry store starts empty (a directory of its own, removed after), so the run repeats; with
    ``preload``, those entries are written into it first (``python -m app.preload``), as a shop
    would with its product list."""
    store = tempfile.mkdtemp(prefix="bench-entry-store-")
    env = {"SHOPINTENT_MODEL_MANIFEST": manifest, "SHOPINTENT_CATALOG_LAYOUT": layout,
           "SHOPINTENT_ENTRY_STORE_DIR": store, **settings}
    preload_s = None
    if preload is not None:
        products = Path(store) / "products.txt"
        products.write_text("\n".join(preload) + "\n")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "app.preload", str(products)], env={**os.environ, **env}, check=True)
        preload_s = time.perf_counter() - started
    server = Server(env)
    bodies, cold = work["bodies"], work["cold"]
    try:
        asyncio.run(run_load(server.url, work["prior"], 4))  # traffic seen before the measurement
        asyncio.run(run_load(server.url, work["warm"], 1))  # one request per warm catalog
        single, _, fail_single = asyncio.run(run_load(server.url, bodies, 1))
        _, rps4, fail4 = asyncio.run(run_load(server.url, bodies, 4))
        conc16, rps16, fail16 = asyncio.run(run_load(server.url, bodies * work["repeat16"], 16))
        before = cache_counts(server.url)
        cold_runs = {c: asyncio.run(run_load(server.url, cold[c], c)) for c in CLIENTS}
        after = cache_counts(server.url)
        huge_ms, _, huge_fail = asyncio.run(run_load(server.url, work["huge"], 1))
        rss, peak = rss_mb(server.proc.pid)
    finally:
        server.stop()
        shutil.rmtree(store, ignore_errors=True)
    return {
        "layout": layout + ("+preloaded" if preload is not None else ""),
        "preload_s": preload_s,
        "warm": {
            "single_stream_ms": {"p50": percentile(single, 50), "p95": percentile(single, 95), "mean": statistics.mean(single)},
            "requests_per_s": {"1": 1000 / statistics.mean(single), "4": rps4, "16": rps16},
            "concurrency_16_ms": {"p50": percentile(conc16, 50), "p95": percentile(conc16, 95)},
            "failures": fail_single + fail4 + fail16,
        },
        "cold": {
            "single_stream_ms": {"p50": percentile(cold_runs[1][0], 50), "p95": percentile(cold_runs[1][0], 95)},
            # answered (200) requests per second; the rest were shed (429) by admission control
            "requests_per_s": {str(c): cold_runs[c][1] * (1 - cold_runs[c][2] / len(cold[c])) for c in CLIENTS},
            "not_answered": {str(c): cold_runs[c][2] for c in CLIENTS},
            "entry_cache_hit_rate": hit_rate(before, after, "entry"),
            "entry_store_rate": hit_rate(before, after, "entry", "stored"),
            "prefix_cache_hit_rate": hit_rate(before, after, "prefix"),
        },
        "cold_200_entries": {"n": len(work["huge"]), "p50_ms": percentile(huge_ms, 50) if huge_ms else None,
                             "max_ms": max(huge_ms, default=None), "failures": huge_fail},
        "server_rss_mb": rss,
        "server_peak_rss_mb": peak,
        "single_stream_raw_ms": single,
    }


def layout_table(run: dict[str, Any], n_cold: int) -> list[str]:
    warm, cold, huge = run["warm"], run["cold"], run["cold_200_entries"]
    w1, c1 = warm["single_stream_ms"], cold["single_stream_ms"]
    hit, stored = cold["entry_cache_hit_rate"], cold.get("entry_store_rate")
    hits = "" if hit is None else f"{hit:.0%}" + ("" if not stored else f" + {stored:.0%} from the store")
    huge_ms = ("none answered |" if huge["p50_ms"] is None
               else f"{huge['p50_ms']:.0f} | {huge['max_ms']:.0f} (max)")
    return [
        f"| {run['layout']}: warm, 15 entries, cached | {w1['p50']:.0f} | {w1['p95']:.0f} | "
        f"{warm['requests_per_s']['1']:.1f} | {warm['requests_per_s']['4']:.1f} | {warm['requests_per_s']['16']:.1f} | "
        f"{warm['failures']} | |",
        f"| {run['layout']}: cold, 5-30 entries, fresh catalogs | {c1['p50']:.0f} | {c1['p95']:.0f} | "
        f"{cold['requests_per_s']['1']:.1f} | {cold['requests_per_s']['4']:.1f} | {cold['requests_per_s']['16']:.1f} | "
        f"{sum(cold['not_answered'].values())} of {n_cold} | {hits} |",
        f"| {run['layout']}: cold, 200 entries | {huge_ms} | | | | {huge['failures']} of {huge['n']} | |",
    ]


def ratios(run: dict[str, Any]) -> dict[str, float | None]:
    warm, cold, huge = run["warm"], run["cold"], run["cold_200_entries"]
    return {
        "cold_p50_over_warm_p50": cold["single_stream_ms"]["p50"] / warm["single_stream_ms"]["p50"],
        "cold_p95_over_warm_p95": cold["single_stream_ms"]["p95"] / warm["single_stream_ms"]["p95"],
        "cold_200_p50_over_warm_p50": (None if huge["p50_ms"] is None
                                       else huge["p50_ms"] / warm["single_stream_ms"]["p50"]),
        "cold_over_warm_throughput_16": cold["requests_per_s"]["16"] / warm["requests_per_s"]["16"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--manifest", default=str(DEFAULT_MANIFEST))
    parser.add_argument("--layouts", help="comma-separated; default: every layout the model was trained for")
    parser.add_argument("--out", default="reports/bench-service")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a service setting for every server, e.g. --set ENTRY_SLOTS=800 (SHOPINTENT_ is added)")
    parser.add_argument("--preload", action="store_true",
                        help="also serve the entries layout with the whole universe preloaded into its entry store")
    parser.add_argument("--render", metavar="FILE.json", help="only remake FILE.md from a run's FILE.json")
    args = parser.parse_args(argv)
    if args.render:
        result = json.loads(Path(args.render).read_text())
        Path(args.render).with_suffix(".md").write_text(markdown(result))
        return
    settings: dict[str, str] = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--set wants NAME=VALUE, not {item!r}")
        settings["SHOPINTENT_" + name.upper().removeprefix("SHOPINTENT_")] = value
    layouts = (args.layouts.split(",") if args.layouts
               else load_manifest(Path(args.manifest)).get("catalog_layouts", ["causal"]))
    n_cat, per_cat, n_study = (8, 12, 20) if args.quick else (20, 20, 40)
    n_cold, n_huge, n_prior = (24, 3, 60) if args.quick else (80, 6, 300)
    universe = catalog_universe()
    bodies = requests_with_15_item_catalogs(n_cat, per_cat)
    random.Random(1).shuffle(bodies)
    work = {
        "prior": cold_requests(n_prior, seed=999, universe=universe),
        "cold": {c: cold_requests(n_cold * max(1, c // 4), seed=c, universe=universe) for c in CLIENTS},
        "huge": cold_requests(n_huge, sizes=(200, 200), seed=200, universe=universe),
        "bodies": bodies,
        "warm": list({tuple(b["catalog"]): b for b in bodies}.values()),
        "repeat16": 1 if args.quick else 2,
    }
    n_cold_total = sum(len(v) for v in work["cold"].values())

    from app.artifacts import resolve

    runs = [measure(layout, args.manifest, work, settings) for layout in layouts]
    if args.preload:
        runs.append(measure("entries", args.manifest, work, settings, preload=universe))
    served = resolve(Path(args.manifest), merge=True)
    study = study_style(bodies[:n_study], str(served.model_path), str(served.lora_path) if served.lora_path else None)
    first = runs[0]
    ours_same = first.pop("single_stream_raw_ms")[:n_study]
    for run in runs[1:]:
        run.pop("single_stream_raw_ms")
    result = {
        "model": served.name,
        "machine": machine(),
        "warm_requests": len(bodies),
        "cold_requests": n_cold_total,
        "prior_requests": len(work["prior"]),
        "universe_entries": len(universe),
        "settings": settings,
        "layouts": {run["layout"]: {**run, "ratios": ratios(run)} for run in runs},
        "study_style_ms": {"n": len(study), "p50": percentile(study, 50), "mean": statistics.mean(study)},
        "speedup_vs_study_style_mean": statistics.mean(study) / statistics.mean(ours_same),
    }
    flags = "".join(f" --set {item}" for item in args.set)
    layouts_flag = f" --layouts {args.layouts}" if args.layouts else ""
    result["command"] = (f"python -m loadtest.bench{' --quick' if args.quick else ''}{layouts_flag}"
                         f"{' --preload' if args.preload else ''}{flags}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out + ".json").write_text(json.dumps(result, indent=2))
    md = markdown(result)
    Path(args.out + ".md").write_text(md)
    print(md, end="")


def markdown(result: dict[str, Any]) -> str:
    """The report of one bench run (its JSON): ``python -m loadtest.bench --render FILE.json`` remakes it."""
    runs = list(result["layouts"].values())
    md = [
        f"Made by `{result['command']}` on {result['machine']}.", "",
        f"Every server first saw {result['prior_requests']} cold requests of other catalogs. Cold catalogs draw "
        f"their entries from a universe of {result['universe_entries']} with Zipf popularity; no cold catalog "
        "was sent before. Latencies are of answered requests; shed (429/503) and timed-out (504) ones are counted "
        "apart.", "",
        "| layout and catalogs | p50 ms | p95 ms | answered req/s, 1 client | 4 clients | 16 clients "
        "| not answered (429/504) | entry cache hits |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        md += layout_table(run, result["cold_requests"])
    md += ["", "| layout | cold p50 / warm p50 | cold p95 / warm p95 | 200-entry cold p50 / warm p50 "
           "| cold / warm req/s at 16 clients | server RSS (peak) |", "|---|---|---|---|---|---|"]
    for run in runs:
        r = ratios(run)
        huge = "none answered" if r["cold_200_p50_over_warm_p50"] is None else f"{r['cold_200_p50_over_warm_p50']:.2f}x"
        md.append(f"| {run['layout']} | {r['cold_p50_over_warm_p50']:.2f}x | {r['cold_p95_over_warm_p95']:.2f}x | "
                  f"{huge} | {r['cold_over_warm_throughput_16']:.2f}x | "
                  f"{run['server_rss_mb']:.0f} MB ({run['server_peak_rss_mb']:.0f} MB) |")
    for run in runs:
        if run.get("preload_s") is not None:
            md += ["", f"{run['layout']}: before its server started, all {result['universe_entries']} entries of the "
                   f"universe were written into its entry store by `python -m app.preload` ({run['preload_s']:.0f} s), "
                   "as a shop would with its product list."]
    if len(runs) > 1:
        a, b = runs[0], runs[1]
        md += ["", f"{b['layout']} / {a['layout']}, cold p50: "
               f"{b['cold']['single_stream_ms']['p50'] / a['cold']['single_stream_ms']['p50']:.2f}x; "
               f"warm p50: {b['warm']['single_stream_ms']['p50'] / a['warm']['single_stream_ms']['p50']:.2f}x."]
    md += ["", f"Study-style decoding (its prompt, JSON under GBNF), same {result['study_style_ms']['n']} warm "
           f"requests: mean {result['study_style_ms']['mean']:.0f} ms; ours ({runs[0]['layout']}) is "
           f"{result['speedup_vs_study_style_mean']:.1f}x faster."]
    return "\n".join(md) + "\n"


if __name__ == "__main__":
    main()
