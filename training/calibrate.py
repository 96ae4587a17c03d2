"""Fit the served decoding on the dev split and store it in the manifest.

    python -m training.calibrate --manifest artifacts/gemma3-270m-cart/manifest.json
    python -m training.calibrate --keep-biases   # refit only the confidence map and the threshold (one pass)

Three things are fitted, all on dev (the test split is never used for fitting). Dev, not val: val
shares training's templates and product wordings, so on val the model rarely meets a word it does
not know, and a bias fitted there under-weights the commonest real error (a listed product named
in an unfamiliar way, answered "not in catalog"). Dev's wordings are as new to the model as test's.
- the "not in catalog" bias: the nats added to that choice where the product is decided. The grid
  value with the best exact match wins, except that any value within --tolerance of the best and
  nearer 0 is preferred: a more negative bias trades "not in catalog" answers for listed products
  (the shopper can rephrase) against actions on the wrong product for unlisted ones (worse), so a
  gain of a row or two on dev does not justify it.
- the "other" bias: the nats added to "other" at the intent decision, tried with that product bias.
  The best exact match wins; within --tolerance, the value with the fewest false actions on "other"
  rows (a cart action the shopper did not ask for is the costliest error).
- the confidence calibration: the isotonic map of the model's answer probability (decoded with
  those biases) onto the accuracy observed on dev.
- the confirmation threshold: the lowest calibrated confidence at and above which dev's answers
  reach --confirm-precision exact match (0.99). The service flags answers under it
  ``needs_confirmation``: the storefront asks the shopper before acting on those.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.artifacts import DEFAULT_MANIFEST, resolve
from app.calibration import fit_isotonic
from app.domain import OTHER
from training.evaluate import predict
from training.jsonl import read_jsonl
from training.metrics import exact, expected_calibration_error, pick_confirm_below, selective


@dataclass(frozen=True)
class Run:
    """One decoding setting scored on the split."""

    exact: float
    false_actions: float  # on "other" rows
    preds: list[dict[str, Any]]
    correct: list[bool]


def pick_bias(exact_by_bias: dict[float, float], tolerance: float) -> float:
    """The bias nearest 0 whose exact match is within ``tolerance`` of the best (ties: the positive one)."""
    best = max(exact_by_bias.values())
    return min((b for b, a in exact_by_bias.items() if a >= best - tolerance), key=lambda b: (abs(b), -b))


def pick_other_bias(runs: dict[float, tuple[float, float]], tolerance: float) -> float:
    """runs: bias -> (exact match, false-action rate on "other"). The best exact within ``tolerance``
    with the fewest false actions; then the smallest bias."""
    best = max(exact for exact, _ in runs.values())
    near = [b for b, (exact, _) in runs.items() if exact >= best - tolerance]
    return min(near, key=lambda b: (runs[b][1], abs(b)))


def false_action_rate(rows: list[dict[str, Any]], preds: list[dict[str, Any]]) -> float:
    other = [p for r, p in zip(rows, preds, strict=True) if r["intent"] == OTHER]
    return float(sum(p["intent"] != OTHER for p in other)) / max(1, len(other))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", default=str(DEFAULT_MANIFEST))
    parser.add_argument("--split", default="data/dev.jsonl")
    parser.add_argument("--biases", default="0,-1,-2,-3,-4,-5", help="'not in catalog' biases to try, nats")
    parser.add_argument("--other-biases", default="0,1,2,3,4,5,6", help="'other' biases to try, nats")
    parser.add_argument("--tolerance", type=float, default=0.003,
                        help="exact-match margin within which the bias nearest 0 wins (0.003 = 3 rows of 900)")
    parser.add_argument("--confirm-precision", type=float, default=0.99,
                        help="exact match required of the answers given without confirmation")
    parser.add_argument("--layout", choices=("causal", "entries"),
                        help="catalog layout to fit for; default: the manifest's first, as served")
    parser.add_argument("--keep-biases", action="store_true",
                        help="keep the manifest's two biases and their grids; refit only the confidence map and "
                        "the confirmation threshold (one pass over the split instead of about twelve)")
    args = parser.parse_args(argv)
    rows = read_jsonl(args.split)
    served = resolve(Path(args.manifest), merge=True)  # exactly what the service serves
    stem = Path(args.split).stem
    layout = args.layout or served.layouts[0]

    def score(no_product_bias: float, other_bias: float, desc: str) -> Run:
        preds, _ = predict(served.model_path, served.lora_path, rows, desc=f"{stem}, {layout}, {desc}",
                           no_product_bias=no_product_bias, other_bias=other_bias, layout=layout)
        correct = [exact(r, p) for r, p in zip(rows, preds, strict=True)]
        return Run(sum(correct) / len(rows), false_action_rate(rows, preds), preds, correct)

    manifest = json.loads(Path(args.manifest).read_text())
    if args.keep_biases:
        bias, other_bias = served.no_product_bias, served.other_bias
        chosen = score(bias, other_bias, f"bias {bias:+.1f}, other {other_bias:+.1f}")
        decoding = {**manifest["decoding"], "exact_match": round(chosen.exact, 4)}
    else:
        runs: dict[float, Run] = {}
        for bias in sorted({float(b) for b in args.biases.split(",")}, key=abs):
            run = runs[bias] = score(bias, 0.0, f"bias {bias:+.1f}")
            missing = [c for r, c in zip(rows, run.correct, strict=True) if r["intent"] != OTHER and r["product"] is None]
            print(f"bias {bias:+.1f}: exact {run.exact:.4f}; unlisted products caught {sum(missing)}/{len(missing)}")
        bias = pick_bias({b: run.exact for b, run in runs.items()}, args.tolerance)
        other_runs = {0.0: runs[bias]}
        for other in sorted({float(b) for b in args.other_biases.split(",")} - {0.0}):
            run = other_runs[other] = score(bias, other, f"other {other:+.1f}")
            print(f"other bias {other:+.1f}: exact {run.exact:.4f}; false actions on other {run.false_actions:.4f}")
        other_bias = pick_other_bias({b: (run.exact, run.false_actions) for b, run in other_runs.items()}, args.tolerance)
        chosen = other_runs[other_bias]
        decoding = {"no_product_bias": bias, "other_bias": other_bias, "fitted_on": args.split, "layout": layout,
                    "exact_match": round(chosen.exact, 4),
                    "grid": {f"{b:+.1f}": round(run.exact, 4) for b, run in runs.items()},
                    "other_grid": {f"{b:+.1f}": {"exact": round(run.exact, 4),
                                                 "false_actions": round(run.false_actions, 4)}
                                   for b, run in sorted(other_runs.items())}}
    accuracy, preds, correct = chosen.exact, chosen.preds, chosen.correct
    confidences = [p["confidence"] for p in preds]
    calibrator = fit_isotonic(confidences, correct)
    calibrated = [calibrator(c) for c in confidences]
    confirm_below = pick_confirm_below(calibrated, correct, args.confirm_precision)
    direct = selective(rows, [{**p, "confidence": c} for p, c in zip(preds, calibrated, strict=True)], confirm_below)
    manifest["decoding"] = {**decoding, "confirm_below": round(confirm_below, 6),
                            "confirm_precision": args.confirm_precision, "answered_directly": direct}
    manifest["calibration"] = {**calibrator.to_dict(), "fitted_on": args.split, "rows": len(rows)}
    Path(args.manifest).write_text(json.dumps(manifest, indent=2) + "\n")
    before = expected_calibration_error(confidences, correct)
    after = expected_calibration_error(calibrated, correct)
    print(f"no_product_bias {bias:+.1f}, other_bias {other_bias:+.1f} ({stem} exact {accuracy:.4f}); ECE {before:.4f} -> {after:.4f} (in-sample); "
          f"{len(calibrator.xs)} breakpoints written to {args.manifest}")
    print(f"confirm below {confirm_below:.4f}: {direct['coverage']:.1%} of {stem} answered directly at "
          f"{direct['exact_match']:.4f} exact (in-sample)")


if __name__ == "__main__":
    main()
