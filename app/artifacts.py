"""The served model: the PyPI base GGUF plus the committed LoRA adapter, checked by SHA-256.

    python -m app.artifacts check     # locate the base, verify both checksums, print the plan

Serving the original Q4_K_M base with the adapter applied at load time keeps the fine-tune
intact; merging and requantizing to Q4_K_M erased it in a test here (accuracy 0.99 -> 0.37).
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.models import packaged_gguf

STAMP_DIR = Path("models/.verified")


@dataclass(frozen=True)
class ServedModel:
    name: str
    format: str
    model_path: Path
    lora_path: Path | None
    base: str | None
    calibration: dict[str, list[float]] | None = None


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


def resolve(manifest_path: Path) -> ServedModel:
    manifest = load_manifest(manifest_path)
    base = manifest["base"]
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
    return ServedModel(manifest["name"], manifest["format"], model_path, lora_path, base["name"],
                       manifest.get("calibration"))


def main(argv: list[str]) -> int:
    args = [a for a in argv if a != "check"]
    served = resolve(Path(args[0]) if args else Path("artifacts/gemma3-270m-cart/manifest.json"))
    print(f"model   {served.name} ({served.format})")
    print(f"base    {served.model_path}")
    print(f"adapter {served.lora_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
