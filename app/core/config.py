"""Service settings: one class, read from ``SHOPINTENT_*`` environment variables, checked at start."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.artifacts import DEFAULT_MANIFEST

Backend = Literal["llamacpp", "hf", "vllm", "fake"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOPINTENT_", env_file=".env", extra="ignore")

    # -- the model -----------------------------------------------------------------------
    backend: Backend = "llamacpp"
    model_manifest: Path = Field(
        default=DEFAULT_MANIFEST,
        description="Manifest of the shipped fine-tuned model (base + LoRA adapter, checksums).",
    )
    model_path: Path | None = Field(default=None, description="A GGUF file to serve instead of the manifest's base.")
    lora_path: Path | None = Field(default=None, description="A GGUF LoRA adapter applied at load time.")
    merge_adapter: bool = Field(
        default=True,
        description="Fold the manifest's adapter into the base once (cached in models/served/) instead of "
        "applying it at run time: faster, at the same accuracy (docs/results.md).",
    )
    model_name: str | None = Field(default=None, description="Name reported in responses; defaults to the manifest's.")
    hf_model: str | None = Field(default=None, description="hf backend: HF model id or directory (merged or base).")
    hf_adapter: Path | None = Field(default=None, description="hf backend: a PEFT adapter directory.")
    hf_dtype: Literal["float32", "bfloat16", "float16", "auto"] = "auto"
    vllm_url: str | None = Field(default=None, description="vllm backend: base URL of an OpenAI-compatible server.")

    # -- the engine ----------------------------------------------------------------------
    threads: int = Field(default_factory=lambda: max(1, os.cpu_count() or 1), ge=1, le=256)
    max_batch: int = Field(default=16, ge=1, le=128, description="Requests decoded together in one step.")
    batch_tokens: int = Field(default=256, ge=32, le=8192, description="Tokens per llama.cpp decode call.")
    cache_mb: int = Field(default=64, ge=1, le=16384, description="Prefix (catalog or entry) KV cache bound, in "
                          "MB: 64 holds ~6,800 tokens of 8-bit KV, about 1,000 catalog entries.")
    cache_slots: int = Field(default=32, ge=1, le=1024, description="Catalog prefixes cached at most (one "
                             "llama.cpp sequence each); 20 catalogs that rotate thrashed 16.")
    catalog_layout: Literal["causal", "entries"] | None = Field(
        default=None,
        description="How the catalog is encoded: 'causal' (one prefix per catalog, cached per catalog) or "
        "'entries' (each entry encoded on its own and cached once for every catalog it is in: a catalog never "
        "seen costs what its new entries cost). Unset: the manifest's first layout; the model must be "
        "trained for the one chosen.",
    )
    entry_slots: int = Field(default=1000, ge=1, le=1000, description="Catalog entries cached at most in the "
                             "'entries' layout (one llama.cpp sequence each; our llama.cpp build has 1024 in "
                             "all). The cells they hold count toward cache_mb.")
    entry_store_mb: int = Field(default=1024, ge=0, le=10_000_000, description="On-disk bound of the entry store "
                                "('entries' layout): the KV state of every entry evaluated, read back when it "
                                "is not in the cache (~0.2 ms instead of ~35 ms of model time per entry). ~95 KB "
                                "per entry, so 1024 holds ~11,000 products; adds no RSS. 0: off.")
    entry_store_dir: Path = Field(default=Path("models/entry-store"), description="Where the entry store keeps its "
                                  "files (one directory per model; those of earlier models are deleted).")
    max_catalog_tokens: int = Field(default=2048, ge=64, le=32768)
    max_query_tokens: int = Field(default=256, ge=16, le=4096, description="Longer texts keep head and tail.")
    max_quantity: int = Field(default=999, ge=1, le=99999)
    no_product_bias: float | None = Field(
        default=None, ge=-20, le=20,
        description="Nats added to 'not in catalog' where the product is chosen; unset: the manifest's value "
        "(fitted on dev by training.calibrate). Lower: fewer 'not found', more guesses.",
    )
    other_bias: float | None = Field(
        default=None, ge=-20, le=20,
        description="Nats added to 'other' at the intent decision; unset: the manifest's value (fitted on dev by "
        "training.calibrate). Higher: fewer false cart actions, more commands read as 'other'.",
    )
    attribute_bias: float = Field(
        default=4.0, ge=0, le=20,
        description="Nats added per number or short code of a catalog entry that the message names, where entries "
        "part (app.attributes): 'the 20W one' picks 'Charger 20W' over 'Charger 65W'. 0: the model alone.",
    )
    word_bias: float = Field(
        default=2.0, ge=0, le=20,
        description="Nats added per word of a catalog entry's name that the message names (inflected forms "
        "too), where entries part (app.lexical): 'the espresso coffee beans' leans to 'Coffee Beans Espresso' over "
        "'Espresso Cups'. 0: the model alone.",
    )
    confirm_below: float | None = Field(
        default=None, ge=0, le=1,
        description="Answers with a confidence below this come back with needs_confirmation=true (ask the shopper "
        "before acting); unset: the manifest's value (fitted on dev by training.calibrate for 99% exact "
        "match above it); 0: never.",
    )
    draft: bool = Field(
        default=True,
        description="Draft ' add/remove <quantity>' for the model to verify in the same call (one model call "
        "instead of about three per answer while the machine is not busy).",
    )
    draft_max_active: int = Field(default=2, ge=1, le=128, description="Draft only while fewer requests are in flight.")

    # -- the service ---------------------------------------------------------------------
    host: str = "0.0.0.0"
    port: int = Field(default=8000, ge=1, le=65535)
    queue_size: int = Field(default=256, ge=1, le=100000, description="Waiting requests; more get 429.")
    request_timeout_s: float = Field(default=10.0, gt=0, le=600)
    retry_after_s: int = Field(default=1, ge=1, le=3600)
    max_text_chars: int = Field(default=2000, ge=1, le=100000)
    max_catalog_items: int = Field(default=200, ge=1, le=10000)
    max_item_chars: int = Field(default=200, ge=1, le=10000)
    max_batch_items: int = Field(default=64, ge=1, le=1024)
    max_body_bytes: int = Field(default=1_000_000, ge=1024, le=100_000_000)
    warmup: bool = True
    preflight: bool = Field(
        default=True,
        description="Before serving, start the llama.cpp engine once in a child process (app.doctor): a build "
        "whose kernels this CPU cannot run then stops start-up with a message and exit status 4, not a signal.",
    )
    grace_period_s: float = Field(default=30.0, ge=0, le=3600, description="Drain time after SIGTERM.")
    drain_delay_s: float = Field(
        default=1.0, ge=0, le=600,
        description="After SIGTERM, keep accepting this long while /readyz answers 503, so load balancers stop "
        "sending before the listener closes (the kernel resets connections still queued when it does).",
    )
    log_format: Literal["json", "text"] = "json"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_payloads: bool = Field(
        default=False,
        description="Log each classified text with its answer and request id, at info level (off: texts, "
        "which are private, never reach the logs).",
    )
    api_keys: str | None = Field(default=None, description="Comma-separated API keys; unset: open API.")
    api_keys_file: Path | None = Field(default=None, description="A file with one API key per line.")
    rate_limit_per_s: float = Field(default=0.0, ge=0, description="Per-key requests/s; 0: no limit.")
    rate_limit_burst: int = Field(default=20, ge=1)
    cors_origins: str = Field(default="", description="Comma-separated allowed origins; empty: CORS off.")

    @field_validator("model_path", "lora_path", "hf_adapter", "api_keys_file")
    @classmethod
    def _must_exist(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file() and not value.is_dir():
            raise ValueError(f"{value} does not exist")
        return value

    @model_validator(mode="after")
    def _backend_needs(self) -> Settings:
        if self.backend == "vllm" and not self.vllm_url:
            raise ValueError("backend 'vllm' needs SHOPINTENT_VLLM_URL")
        if self.backend == "hf" and not self.hf_model:
            raise ValueError("backend 'hf' needs SHOPINTENT_HF_MODEL")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
