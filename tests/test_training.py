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
    from app.backends.engine import engine_config
    from app.backends.llamacpp import LlamaCppBackend
    from app.core.config import Settings
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
    backend = LlamaCppBackend(engine_config(Settings(model_path=Path(packaged_gguf(config.base)), lora_path=gguf,
                                                     warmup=False)))
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
    from app.backends.engine import engine_config
    from app.backends.hf import HFBackend
    from app.backends.llamacpp import LlamaCppBackend
    from app.core.config import Settings
    from app.core.models import packaged_gguf
    from training.models import hf_dir

    if not Path("runs/gemma3-270m/adapter").exists():
        pytest.skip("needs the trained adapter in runs/gemma3-270m (make train)")
    rows = [json.loads(line) for line in Path("data/test.jsonl").read_text().splitlines()][:60]
    queries = [Query(r["text"], tuple(r["catalog"])) for r in rows]
    hf = HFBackend(hf_dir("gemma3-270m"), "runs/gemma3-270m/adapter", dtype="float32", warmup=False)
    hf.start()
    gguf = LlamaCppBackend(engine_config(Settings(model_path=Path(packaged_gguf("gemma3-270m")),
                                                  lora_path=Path("artifacts/gemma3-270m-cart/adapter.gguf"),
                                                  warmup=False)))
    gguf.start()
    try:
        a = hf.classify_sync(queries, 600)
        b = gguf.classify_sync(queries, 600)
    finally:
        hf.close()
        gguf.close()
    agree = sum((x.intent, x.product, x.quantity) == (y.intent, y.product, y.quantity) for x, y in zip(a, b, strict=True))
    assert agree / len(queries) >= 0.9


def test_soup_is_the_exact_mean_of_the_deltas(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    from training.soup import soup

    torch.manual_seed(0)
    key_a, key_b = "base_model.model.layers.0.q_proj.lora_A.weight", "base_model.model.layers.0.q_proj.lora_B.weight"
    parts = []
    for i in range(3):
        part = tmp_path / f"step{i}"
        part.mkdir()
        weights = {key_a: torch.randn(4, 8), key_b: torch.randn(6, 4)}
        save_file(weights, str(part / "adapter_model.safetensors"))
        (part / "adapter_config.json").write_text(json.dumps({"r": 4, "lora_alpha": 8, "peft_type": "LORA"}))
        parts.append((part, weights))
    out = soup([p for p, _ in parts], tmp_path / "soup")
    merged = load_file(str(out / "adapter_model.safetensors"))
    config = json.loads((out / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"]) == (12, 24)  # same alpha/r scaling as the parts
    expected = sum(w[key_b] @ w[key_a] for _, w in parts) / 3
    assert torch.allclose(merged[key_b] @ merged[key_a], expected, atol=1e-5)
