"""Backends behind one protocol; ``make_backend`` picks one from the settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importing a backend module must not need pydantic (the GPU check's bare image)
    from app.backends.base import Backend
    from app.core.config import Settings


def make_backend(settings: Settings) -> Backend:
    backend, threshold = _make(settings)
    backend.confirm_below = threshold if settings.confirm_below is None else settings.confirm_below
    return backend


def _make(settings: Settings) -> tuple[Backend, float]:
    """The backend, and the confirmation threshold (for llamacpp: ``EngineConfig.confirm_below``)."""
    if settings.backend == "fake":
        from app.backends.fake import FakeBackend

        return FakeBackend(), 0.0
    if settings.backend == "llamacpp":
        from app.backends.engine import engine_config
        from app.backends.llamacpp import LlamaCppBackend

        config = engine_config(settings)
        return LlamaCppBackend(config), config.confirm_below
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
            attribute_bias=settings.attribute_bias,
            word_bias=settings.word_bias,
        ), 0.0
    if settings.backend == "vllm":
        from app.backends.vllm import VLLMBackend

        assert settings.vllm_url is not None  # checked by Settings
        return VLLMBackend(settings.vllm_url, model_name=settings.model_name or "",
                           max_quantity=settings.max_quantity, queue_size=settings.queue_size), 0.0
    raise ValueError(f"backend {settings.backend!r} is not available in this build")
