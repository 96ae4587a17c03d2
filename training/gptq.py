"""GPTQ 4-bit export of the merged fine-tuned model (gptqmodel), calibrated on our training split.

    .venv-train/bin/python -m training.gptq --config training/configs/gemma3-270m.yaml   # ~2 min, 2 CPU cores

Reads runs/<run>/merged-hf (written by `make export`) and writes runs/<run>/gptq, an HF checkpoint
that transformers (the hf backend) and vLLM load. gptqmodel 7.7 declares torch >= 2.14.1 but,
installed with ``--no-deps`` beside torch 2.13, it quantizes on CPU (`make gptq` installs it so).
Calibration uses real training prompts with their answers, so the Hessians see the catalog /
request / answer distribution the model serves, not web text.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path
from typing import Any

from app.prompt import answer_pieces, catalog_prefix, query_suffix
from training.config import load_config
from training.jsonl import read_jsonl
from training.train import TrainConfig


def calibration_texts(train_file: str, n: int, seed: int = 0) -> list[str]:
    rows = read_jsonl(train_file)
    random.Random(seed).shuffle(rows)
    return [catalog_prefix(r["catalog"]) + query_suffix(r["text"]) + "".join(answer_pieces(r["intent"], r["product"], r["quantity"]))
            for r in rows[:n]]


def per_layer_type_rope_only(config: Any) -> None:
    """Drop the flat keys gptqmodel adds beside Gemma 3's per-layer-type rope parameters.

    It writes ``rope_type: "default"`` and ``rope_theta: {global, local}`` next to the
    ``full_attention`` / ``sliding_attention`` entries; transformers 5.17 then fails while saving
    (``'str' object has no attribute 'get'``, seen on the GPU machine) and 5.24 carries the junk along.
    """
    rope = getattr(config, "rope_parameters", None)
    layer_types = set(getattr(config, "layer_types", None) or ())
    if isinstance(rope, dict) and layer_types and not layer_types.isdisjoint(rope):
        config.rope_parameters = {k: v for k, v in rope.items() if k in layer_types}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("--samples", type=int, default=256, help="calibration rows (128-256 is the usual range)")
    parser.add_argument("--bits", type=int, default=4)
    parser.add_argument("--group-size", type=int, default=128)
    parser.add_argument("--device", default="cpu", help="cpu here; cuda on a GPU machine")
    args = parser.parse_args(argv)
    config = load_config(TrainConfig, args.config)
    run = Path(config.out_dir)
    merged, out = run / "merged-hf", run / "gptq"
    if not (merged / "config.json").exists():
        raise SystemExit(f"{merged} is missing: run `make export` first")

    import gptqmodel
    import torch
    from gptqmodel import GPTQModel, QuantizeConfig

    torch.set_num_threads(config.threads)
    # gptqmodel sizes its CPU worker pool from the machine; on 2 cores its default fails at start.
    gptqmodel._default_cpu_workers = lambda: max(1, config.threads)  # type: ignore[attr-defined]
    started = time.time()
    model = GPTQModel.load(str(merged), QuantizeConfig(bits=args.bits, group_size=args.group_size), device=args.device)
    model.quantize(calibration_texts(config.train_file, args.samples), batch_size=8)
    per_layer_type_rope_only(model.model.config)
    model.save(str(out))
    print(f"GPTQ {args.bits}-bit checkpoint in {out} after {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
