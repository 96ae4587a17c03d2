"""Training end to end on a few rows: train -> PEFT adapter -> GGUF adapter -> llama.cpp, and the
HF model agreeing with its GGUF export on fixed inputs. Needs the training stack: `make test-slow`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.slow


def test_tiny_run_trains_exports_and_serves(tmp_path: Path) -> None:
    from app.backends.base import Query, check_result
    from app.backends.llamacpp import LlamaCppBackend
    from app.core.models import packaged_gguf
    from training.config import load_config
    from training.export import convert_adapter
    from training.models import hf_dir
    from training.train import TrainConfig, train

    config = load_config(TrainConfig, "training/configs/smoke.yaml", out_dir=str(tmp_path / "run"))
    adapter_dir = train(config)
    assert (adapter_dir / "adapter_model.safetensors").exists()
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert len(log) == config.steps and all(r["loss"] > 0 for r in log)
    gguf = convert_adapter(adapter_dir, hf_dir(config.base), tmp_path / "adapter.gguf")
    assert gguf.stat().st_size > 1_000_000
    backend = LlamaCppBackend(packaged_gguf(config.base), gguf, warmup=False)
    backend.start()
    try:
        catalog = ("Milk", "Bread")
        result = backend.classify_sync([Query("add 2 milk", catalog)])[0]
        assert check_result(result, catalog, backend.max_quantity)
    finally:
        backend.close()


def test_hf_and_gguf_agree_on_fixed_inputs() -> None:
    """The shipped adapter, in fp32 HF and as Q4_K_M base + GGUF adapter, on the same 60 rows."""
    from app.backends.base import Query
    from app.backends.hf import HFBackend
    from app.backends.llamacpp import LlamaCppBackend
    from app.core.models import packaged_gguf
    from training.models import hf_dir

    if not Path("runs/gemma3-270m/adapter").exists():
        pytest.skip("needs the trained adapter in runs/gemma3-270m (make train)")
    rows = [json.loads(line) for line in Path("data/test.jsonl").read_text().splitlines()][:60]
    queries = [Query(r["text"], tuple(r["catalog"])) for r in rows]
    hf = HFBackend(hf_dir("gemma3-270m"), "runs/gemma3-270m/adapter", dtype="float32", warmup=False)
    hf.start()
    gguf = LlamaCppBackend(packaged_gguf("gemma3-270m"), "artifacts/gemma3-270m-cart/adapter.gguf", warmup=False)
    gguf.start()
    try:
        a = hf.classify_sync(queries, 600)
        b = gguf.classify_sync(queries, 600)
    finally:
        hf.close()
        gguf.close()
    agree = sum((x.intent, x.product, x.quantity) == (y.intent, y.product, y.quantity) for x, y in zip(a, b, strict=True))
    assert agree / len(queries) >= 0.9
