"""Average LoRA checkpoints of one run into one adapter (a "model soup" of its weight deltas).

    python -m training.soup runs/gemma3-270m/adapter-step1800 runs/gemma3-270m/adapter-step2400 \
        --out runs/gemma3-270m/adapter-soup

The mean of the deltas B_i A_i is itself a LoRA of rank k*r: the A matrices stacked, the B matrices
side by side, each divided by k. It is exact, not the approximate mean of A and of B. The served
model merges the adapter into the base, so the larger rank costs no serving time.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path


def soup(adapters: list[Path], out: Path) -> Path:
    import torch
    from safetensors.torch import load_file, save_file

    configs = [json.loads((a / "adapter_config.json").read_text()) for a in adapters]
    r, alpha = configs[0]["r"], configs[0]["lora_alpha"]
    if any(c["r"] != r or c["lora_alpha"] != alpha for c in configs):
        raise SystemExit("the checkpoints differ in rank or alpha: soup only checkpoints of one run")
    weights = [load_file(str(a / "adapter_model.safetensors")) for a in adapters]
    k = len(adapters)
    merged: dict[str, torch.Tensor] = {}
    for name in weights[0]:
        if ".lora_A." in name:
            merged[name] = torch.cat([w[name] for w in weights], dim=0).contiguous()
        elif ".lora_B." in name:
            merged[name] = (torch.cat([w[name] for w in weights], dim=1) / k).contiguous()
        else:
            raise SystemExit(f"unexpected tensor {name}: only plain LoRA A/B weights can be souped")
    out.mkdir(parents=True, exist_ok=True)
    save_file(merged, str(out / "adapter_model.safetensors"))
    # Same scaling alpha/r as the parts, at k times the rank.
    config = {**configs[0], "r": r * k, "lora_alpha": alpha * k, "souped_from": [str(a) for a in adapters]}
    (out / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n")
    for extra in ("tokenizer.json", "tokenizer_config.json"):
        if (adapters[0] / extra).exists():
            shutil.copy(adapters[0] / extra, out / extra)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("adapters", nargs="+", type=Path, help="peft adapter directories of one run")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    print(f"wrote {soup(args.adapters, args.out)} from {len(args.adapters)} checkpoints")


if __name__ == "__main__":
    main()
