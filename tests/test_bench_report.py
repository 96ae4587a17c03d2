"""The service bench's report: a layout whose 200-entry catalogs were all shed reads 'none answered';
entries read back from the entry store, and a preloaded store, are reported as such."""

from __future__ import annotations

from typing import Any

from loadtest.bench import markdown, ratios


def run(layout: str, huge_p50: float | None) -> dict[str, Any]:
    return {
        "layout": layout,
        "warm": {"single_stream_ms": {"p50": 100.0, "p95": 150.0}, "requests_per_s": {"1": 9.0, "4": 12.0, "16": 16.0},
                 "failures": 0},
        "cold": {"single_stream_ms": {"p50": 250.0, "p95": 450.0}, "requests_per_s": {"1": 4.0, "4": 4.0, "16": 4.0},
                 "not_answered": {"1": 0, "4": 0, "16": 10}, "entry_cache_hit_rate": 0.6},
        "cold_200_entries": {"n": 6, "p50_ms": huge_p50, "max_ms": huge_p50, "failures": 0 if huge_p50 else 6},
        "server_rss_mb": 600.0, "server_peak_rss_mb": 610.0,
    }


def test_report_gives_ratios_and_says_when_no_200_entry_request_was_answered() -> None:
    preloaded = run("entries+preloaded", 300.0)
    preloaded["cold"]["entry_store_rate"] = 0.4
    preloaded["preload_s"] = 250.0
    runs = [run("entries", 2000.0), run("causal", None), preloaded]
    result = {"command": "python -m loadtest.bench", "machine": "2 cores", "prior_requests": 300, "cold_requests": 480,
              "universe_entries": 6672, "layouts": {r["layout"]: r for r in runs},
              "study_style_ms": {"n": 40, "mean": 2500.0}, "speedup_vs_study_style_mean": 25.0}
    md = markdown(result)
    assert ratios(runs[0])["cold_p50_over_warm_p50"] == 2.5
    assert "| entries | 2.50x | 3.00x | 20.00x | 0.25x | 600 MB (610 MB) |" in md
    assert "| causal: cold, 200 entries | none answered | | | | | 6 of 6 | |" in md
    assert "| causal | 2.50x | 3.00x | none answered |" in md
    assert "fresh catalogs | 250 | 450 | 4.0 | 4.0 | 4.0 | 10 of 480 | 60% + 40% from the store |" in md
    assert "all 6672 entries of the universe were written into its entry store by `python -m app.preload` (250 s)" in md
