"""Evaluate served artifacts on the test split: accuracy, validity, false actions, calibration.

    python -m training.evaluate --manifest artifacts/gemma3-270m-cart/manifest.json
    python -m training.evaluate --manifest ... --variant q8_0=runs/gemma3-270m/gguf/merged-q8_0.gguf \
        --variant q4_k_m=runs/gemma3-270m/gguf/merged-q4_k_m.gguf

Writes reports/eval.json and reports/eval.md. The first model is the one served by default (the
PyPI Q4_K_M base with the shipped LoRA adapter); each ``--variant name=model.gguf[+adapter.gguf]``
adds a row to the per-format table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from app.artifacts import load_manifest, resolve
from app.backends import make_backend
from app.backends.base import Query, Result
from app.calibration import Calibrator
from app.core.config import Settings
from app.domain import OTHER
from training.jsonl import read_jsonl
from training.metrics import compute, coverage_curve, natural, selective


def pad_catalogs(rows: list[dict[str, Any]], size: int, seed: int = 0) -> list[dict[str, Any]]:
    """The same rows with each catalog grown to ``size`` entries: the row's own entries plus entries of
    the test, dev and natural sets' catalogs, shuffled. Rows whose product is missing from their catalog
    are left out: an added entry could be the product they ask for under another name."""
    import random

    universe: dict[str, None] = {}
    for path in [Path("data/test.jsonl"), Path("data/dev.jsonl"), *sorted(Path("data/natural").glob("*.jsonl"))]:
        for row in read_jsonl(path):
            universe.update(dict.fromkeys(row["catalog"]))
    pool = sorted(universe)
    rng = random.Random(seed)
    padded = []
    for row in rows:
        if row["intent"] != OTHER and row["product"] is None:
            continue
        entries = dict.fromkeys(row["catalog"])
        own = {entry.casefold() for entry in row["catalog"]}
        while len(entries) < size:
            entries.update(dict.fromkeys(e for e in rng.sample(pool, size - len(entries)) if e.casefold() not in own))
        catalog = list(entries)[: max(size, len(row["catalog"]))]
        rng.shuffle(catalog)
        padded.append({**row, "catalog": catalog})
    return padded


def variant_settings(model_path: Path, lora_path: Path | None, threads: int = 2, no_product_bias: float = 0.0,
                     other_bias: float = 0.0, queue_size: int = 256, layout: str = "causal") -> Settings:
    """The settings that serve one evaluated file: a GGUF on the llama.cpp engine, or ``hf:<dir>[@dtype]``
    on transformers (fp32 unless a dtype is named). An explicit file gets no calibration: raw confidences."""
    common = {"queue_size": queue_size, "warmup": False, "no_product_bias": no_product_bias, "other_bias": other_bias}
    if str(model_path).startswith("hf:"):
        model, _, dtype = str(model_path).removeprefix("hf:").partition("@")
        return Settings(backend="hf", hf_model=model, hf_adapter=lora_path, hf_dtype=dtype or "float32", **common)
    return Settings(model_path=model_path, lora_path=lora_path, threads=threads, catalog_layout=layout, **common)


def predict(model_path: Path, lora_path: Path | None, rows: list[dict[str, Any]], threads: int = 2,
            desc: str = "eval", no_product_bias: float = 0.0, other_bias: float = 0.0, layout: str = "causal",
            ) -> tuple[list[dict[str, Any]], float]:
    """Answers for ``rows`` from the backend the service would build for this file (make_backend),
    through the Backend protocol; every request is queued at once, in order, as a loaded service sees them."""
    backend = make_backend(variant_settings(model_path, lora_path, threads, no_product_bias, other_bias,
                                            queue_size=len(rows) + 1, layout=layout))
    backend.start()
    try:
        started = time.perf_counter()
        with tqdm(total=len(rows), desc=desc, unit="row") as progress:

            async def one(query: Query) -> Result:
                result = (await backend.classify([query], timeout_s=3600))[0]
                progress.update(1)
                return result

            async def every() -> list[Result]:
                return list(await asyncio.gather(*(one(Query(r["text"], tuple(r["catalog"]))) for r in rows)))

            results = asyncio.run(every())
        preds = [{"intent": r.intent, "product": r.product, "quantity": r.quantity, "confidence": r.confidence}
                 for r in results]
        return preds, time.perf_counter() - started
    finally:
        backend.close()


def markdown(report: dict[str, Any]) -> str:
    main = report["models"][0]
    m = main["metrics"]
    lines = [
        "# Evaluation report", "",
        f"Split `{report['split']}` ({m['n']} rows, held-out templates and product forms). "
        f"Command: `{report['command']}`.", "",
        f"## {main['name']}", "",
        "| metric | value |", "|---|---|",
        f"| exact match | {m['exact_match']:.4f} |",
        f"| exact match, add/remove only (the study's measure) | {m['paper_exact_match_add_remove']:.4f} |",
        f"| invalid outputs | {m['invalid_output_rate']:.4f} |",
        f"| false actions on `other` | {m['false_action_rate_on_other']:.4f} |",
        f"| expected calibration error (served, calibrated on {report.get('calibration_fitted_on', 'val')}) | {m['ece']:.4f} |",
        f"| expected calibration error, raw model probability | {m.get('ece_raw', m['ece']):.4f} |",
        f"| mean confidence | {m['mean_confidence']:.4f} |",
        "", "### By language", "", "| language | exact match |", "|---|---|",
        *(f"| {k} | {v:.4f} |" for k, v in m["exact_match_by_language"].items()),
        "", "### By intent", "", "| intent | exact match |", "|---|---|",
        *(f"| {k} | {v:.4f} |" for k, v in m["exact_match_by_intent"].items()),
        "", "### By tag (how the row was made)", "",
        "`unseen_form`: the product is named in a wording held out from training; `seen_form`: add/remove rows",
        "naming it in a trained wording (templates are held out in both).", "",
        "| tag | rows | exact match |", "|---|---|---|",
        *(f"| {k} | {v['n']} | {v['exact_match']:.4f} |" for k, v in m["exact_match_by_tag"].items()),
        *_natural_lines(m),
        *_selective_lines(report, m),
        "", "### Per field", "", "| field | accuracy |", "|---|---|",
        *(f"| {k} | {v:.4f} |" for k, v in m["field_accuracy"].items()),
        "", "### Confusion (gold -> predicted intent)", "", "| pair | count |", "|---|---|",
        *(f"| {k} | {v} |" for k, v in m["confusion"].items()),
        "", "## Accuracy per format", "",
        "| format | exact match | add/remove (study) | invalid | false actions | ECE | rows/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for model in report["models"]:
        mm = model["metrics"]
        lines.append(
            f"| {model['name']} | {mm['exact_match']:.4f} | {mm['paper_exact_match_add_remove']:.4f} | "
            f"{mm['invalid_output_rate']:.4f} | {mm['false_action_rate_on_other']:.4f} | {mm['ece']:.4f} | "
            f"{model['rows_per_s']:.1f} |"
        )
    for extra in report.get("extra_rows", []):
        lines.append(extra)
    return "\n".join(lines) + "\n"


def _natural_lines(m: dict[str, Any]) -> list[str]:
    """The natural set's section: hand-written requests, never trained on (data/natural/)."""
    if "natural" not in m:
        return []
    nat = m["natural"]
    cart, oos = nat["cart"], nat["out_of_scope"]
    lines = [
        "", "### Natural set: hand-written requests, never trained on", "",
        "| measure | value |", "|---|---|",
        f"| cart commands, exact match | {cart['exact_match']:.4f} ({cart['n']} rows) |",
        f"| cart commands answered without confirmation / their exact match | {cart['answered_directly']:.1%} / "
        f"{cart['exact_match_answered_directly']:.4f} |",
        f"| out-of-scope messages that became cart actions | {oos['cart_action_rate']:.4f} ({oos['n']} rows) |",
        f"| ... of them without the confirmation flag | {oos['unflagged_cart_action_rate']:.4f} |",
        "", "| cart commands by language | rows | exact match |", "|---|---|---|",
        *(f"| {k} | {v['n']} | {v['exact_match']:.4f} |" for k, v in cart["by_language"].items()),
        "", "| cart commands by catalog | rows | exact match |", "|---|---|---|",
        *(f"| {k} | {v['n']} | {v['exact_match']:.4f} |" for k, v in cart["by_catalog"].items()),
        "", "| cart commands by kind | rows | exact match |", "|---|---|---|",
        *(f"| {k} | {v['n']} | {v['exact_match']:.4f} |" for k, v in cart["by_kind"].items()),
        "", "| out of scope by language | rows | became cart actions | without the flag |", "|---|---|---|---|",
        *(f"| {k} | {v['n']} | {v['cart_action_rate']:.4f} | {v['unflagged_cart_action_rate']:.4f} |"
          for k, v in oos["by_language"].items()),
        "", "| out of scope by kind | rows | became cart actions | without the flag |", "|---|---|---|---|",
        *(f"| {k} | {v['n']} | {v['cart_action_rate']:.4f} | {v['unflagged_cart_action_rate']:.4f} |"
          for k, v in oos["by_kind"].items()),
        "", "| misses by kind of error | rows |", "|---|---|",
        *(f"| {k} | {v} |" for k, v in nat["misses"].items()),
    ]
    return lines


def _selective_lines(report: dict[str, Any], m: dict[str, Any]) -> list[str]:
    if "selective" not in m:
        return []
    direct = m["selective"]
    return [
        "", "### Acting without asking", "",
        f"Answers under the confirmation threshold ({direct['threshold']:.4f} calibrated confidence, fitted on "
        f"{report.get('calibration_fitted_on', 'dev')} for {report.get('confirm_precision', 0.99):.0%} exact above "
        "it) come back with `needs_confirmation: true`: the storefront confirms those with the shopper.", "",
        "| answered directly | exact match of those | false actions on `other`, unconfirmed | confirmed first |",
        "|---|---|---|---|",
        f"| {direct['coverage']:.1%} | {direct['exact_match']:.4f} | {direct['false_action_rate_on_other']:.4f} | "
        f"{1 - direct['coverage']:.1%} |",
        "", "Exact match among the most confident answers (risk-coverage):", "",
        "| most confident | " + " | ".join(f"{p['coverage']:.0%}" for p in m["coverage_curve"]) + " |",
        "|---|" + "---|" * len(m["coverage_curve"]),
        "| exact match | " + " | ".join(f"{p['exact_match']:.4f}" for p in m["coverage_curve"]) + " |",
    ]


def plot_coverage(rows: list[dict[str, Any]], preds: list[dict[str, Any]], direct: dict[str, Any], path: str,
                  split: str) -> None:
    """Exact match against the share answered directly (needs matplotlib; skipped without it)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no coverage plot")
        return
    shares = [i / 40 for i in range(2, 41)]
    curve = coverage_curve(rows, preds, shares)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([p["coverage"] for p in curve], [p["exact_match"] for p in curve], label="most confident answers")
    ax.scatter([direct["coverage"]], [direct["exact_match"]], color="C3", zorder=3,
               label=f"served threshold {direct['threshold']:.2f}")
    ax.axhline(0.99, color="grey", linestyle=":", label="0.99")
    ax.set_xlabel("share of messages answered without confirmation")
    ax.set_ylabel("exact match of those")
    ax.set_title(f"Risk-coverage on {split} ({len(rows)} rows)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", default="artifacts/gemma3-270m-cart/manifest.json")
    parser.add_argument("--split", default="data/test.jsonl")
    parser.add_argument("--limit", type=int, help="evaluate only the first N rows")
    parser.add_argument("--variant", action="append", default=[],
                        help="name=model.gguf[+adapter.gguf], or name=hf:<dir>[@dtype][+peft_adapter_dir]")
    parser.add_argument("--out", default="reports/eval")
    parser.add_argument("--pad-catalog", type=int, metavar="N",
                        help="grow every catalog to N entries from the other sets' entries (accuracy by catalog size)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-product-bias", type=float, help="override the manifest's decoding bias (nats)")
    parser.add_argument("--other-bias", type=float, help="override the manifest's 'other' bias (nats)")
    parser.add_argument("--layout", choices=("causal", "entries"),
                        help="catalog layout (app.prompt); default: the manifest's first, as served")
    args = parser.parse_args(argv)

    split = Path(args.split)  # a file, or a folder of them (the natural set: data/natural/)
    rows = [row for f in (sorted(split.glob("*.jsonl")) if split.is_dir() else [split]) for row in read_jsonl(f)]
    rows = rows[: args.limit]
    if args.pad_catalog:
        rows = pad_catalogs(rows, args.pad_catalog)
    served = resolve(Path(args.manifest), merge=True)  # exactly what the service serves
    models = [(f"{served.format} (served)", served.model_path, served.lora_path)]
    for spec in args.variant:
        name, _, paths = spec.partition("=")
        model, _, adapter = paths.partition("+")
        models.append((name, Path(model), Path(adapter) if adapter else None))

    report: dict[str, Any] = {"split": args.split, "command": "python -m training.evaluate " + " ".join(sys.argv[1:] if argv is None else argv),
                              "models": []}
    calibrator = Calibrator(served.calibration["x"], served.calibration["y"]) if served.calibration else None
    bias = served.no_product_bias if args.no_product_bias is None else args.no_product_bias
    report["no_product_bias"] = bias
    other_bias = served.other_bias if args.other_bias is None else args.other_bias
    report["other_bias"] = other_bias
    if served.calibration:
        report["calibration_fitted_on"] = served.calibration.get("fitted_on", "val")
    report["confirm_below"] = served.confirm_below
    layout = args.layout or served.layouts[0]
    report["layout"] = layout
    report["confirm_precision"] = load_manifest(Path(args.manifest)).get("decoding", {}).get("confirm_precision", 0.99)
    for name, model_path, lora_path in models:
        preds, seconds = predict(model_path, lora_path, rows, args.threads, desc=f"{name}, {layout}",
                                 no_product_bias=bias, other_bias=other_bias, layout=layout)
        metrics = compute(rows, preds)
        if calibrator is not None and name.endswith("(served)"):
            calibrated = [{**p, "confidence": calibrator(p["confidence"])} for p in preds]
            metrics["ece_raw"] = metrics["ece"]
            metrics["ece"] = compute(rows, calibrated)["ece"]
            metrics["selective"] = selective(rows, calibrated, served.confirm_below)
            if all("kinds" in r for r in rows):
                metrics["natural"] = natural(rows, calibrated, served.confirm_below)
            metrics["coverage_curve"] = coverage_curve(rows, preds)
            plot_coverage(rows, calibrated, metrics["selective"], args.out + "-coverage.png", args.split)
        report["models"].append({"name": name, "model": str(model_path), "adapter": str(lora_path) if lora_path else None,
                                 "metrics": metrics, "rows_per_s": len(rows) / seconds})
        print(f"{name}: exact {metrics['exact_match']:.4f}, invalid {metrics['invalid_output_rate']:.4f}, "
              f"false actions {metrics['false_action_rate_on_other']:.4f}, {len(rows) / seconds:.1f} rows/s")
        if name.endswith("(served)"):
            errors = [{"row": r, "pred": p} for r, p in zip(rows, preds, strict=True)
                      if (r["intent"], r["product"], r["quantity"]) != (p["intent"], p["product"], p["quantity"])]
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out + "-errors.jsonl").write_text(
                "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in errors), encoding="utf-8")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out + ".json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    Path(args.out + ".md").write_text(markdown(report), encoding="utf-8")
    print(f"wrote {args.out}.json and {args.out}.md")


if __name__ == "__main__":
    main()
