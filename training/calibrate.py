"""Fit the confidence calibration on the validation split and store it in the manifest.

    python -m training.calibrate --manifest artifacts/gemma3-270m-cart/manifest.json

The served confidence is then the isotonic map of the model's answer probability onto the
accuracy observed on val. The test split is never used for fitting.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from app.artifacts import resolve
from app.core.calibration import fit_isotonic
from training.data.generate import read_jsonl
from training.evaluate import predict
from training.metrics import exact, expected_calibration_error


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", default="artifacts/gemma3-270m-cart/manifest.json")
    parser.add_argument("--split", default="data/val.jsonl")
    args = parser.parse_args(argv)
    rows = read_jsonl(args.split)
    served = resolve(Path(args.manifest), merge=True)  # exactly what the service serves
    preds, _ = predict(served.model_path, served.lora_path, rows, desc="val")
    confidences = [p["confidence"] for p in preds]
    correct = [exact(r, p) for r, p in zip(rows, preds, strict=True)]
    calibrator = fit_isotonic(confidences, correct)
    manifest = json.loads(Path(args.manifest).read_text())
    manifest["calibration"] = {**calibrator.to_dict(), "fitted_on": args.split, "rows": len(rows)}
    Path(args.manifest).write_text(json.dumps(manifest, indent=2) + "\n")
    before = expected_calibration_error(confidences, correct)
    after = expected_calibration_error([calibrator(c) for c in confidences], correct)
    print(f"val ECE {before:.4f} -> {after:.4f} (in-sample); {len(calibrator.xs)} breakpoints written to {args.manifest}")


if __name__ == "__main__":
    main()
