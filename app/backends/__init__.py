"""Backends behind one protocol; ``make_backend`` picks one from the settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importing a backend module must not need pydantic (the GPU check's bare image)
    from app.backends.base import Backend
    from app.core.config import Settings


def make_backend(settings: Settings) -> Backend:
    backend, fitted_threshold = _make(settings)
    backend.confirm_below = fitted_threshold if settings.confirm_below is None else settings.confirm_below
    return backend


def _make(settings: Settings) -> tuple[Backend, float]:
    """The backend, and the confirmation threshold fitted with its calibration (0 where none is)."""
    if settings.backend == "fake":
        from app.backends.fake import FakeBackend

        return FakeBackend(), 0.0
    if settings.backend == "llamacpp":
        from app.artifacts import resolve
        from app.backends.llamacpp import LlamaCppBackend

        calibration, bias, other, threshold = None, 0.0, 0.0, 0.0
        if settings.model_path is not None:
            model_path, lora_path = settings.model_path, settings.lora_path
            name, fmt, base = settings.model_name or settings.model_path.stem, "gguf", None
        else:
            served = resolve(settings.model_manifest, merge=settings.merge_adapter and settings.lora_path is None)
            model_path, lora_path = served.model_path, settings.lora_path or served.lora_path
            name, fmt, base = settings.model_name or served.name, served.format, served.base
            calibration = served.calibration if settings.lora_path is None else None
            bias = served.no_product_bias if settings.lora_path is None else 0.0
            other = served.other_bias if settings.lora_path is None else 0.0
            threshold = served.confirm_below if calibration is not None else 0.0
        backend = LlamaCppBackend(
            model_path,
            lora_path,
            model_name=name,
            fmt=fmt,
            base=base,
            threads=settings.threads,
            max_batch=settings.max_batch,
            batch_tokens=settings.batch_tokens,
            cache_mb=settings.cache_mb,
            max_catalog_tokens=settings.max_catalog_tokens,
            max_query_tokens=settings.max_query_tokens,
            max_quantity=settings.max_quantity,
            queue_size=settings.queue_size,
            warmup=settings.warmup,
            draft=settings.draft,
            draft_max_active=settings.draft_max_active,
            calibration=calibration,
            no_product_bias=bias if settings.no_product_bias is None else settings.no_product_bias,
            other_bias=other if settings.other_bias is None else settings.other_bias,
        )
        return backend, threshold
    if settings.backend == "hf":
        from app.backends.hf import HFBackend

        assert settings.hf_model is not None  # checked by Settings
        return HFBackend(
            settings.hf_model,
            str(settings.hf_adapter) if settings.hf_adapter else None,
            dtype=settings.hf_dtype,
            model_name=settings.model_name or "",
            max_quantity=settings.max_quantity,
            queue_size=settings.queue_size,
            warmup=settings.warmup,
            no_product_bias=settings.no_product_bias or 0.0,
            other_bias=settings.other_bias or 0.0,
        ), 0.0
    if settings.backend == "vllm":
        from app.backends.vllm import VLLMBackend

        assert settings.vllm_url is not None  # checked by Settings
        return VLLMBackend(settings.vllm_url, model_name=settings.model_name or "",
                           max_quantity=settings.max_quantity, queue_size=settings.queue_size), 0.0
    raise ValueError(f"backend {settings.backend!r} is not available in this build")
