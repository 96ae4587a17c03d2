"""The CPU engine's configuration: one object, built in one place from the settings and the manifest.

``Settings`` (app/core/config.py) holds every default; ``engine_config(settings)`` resolves the model
the settings name (the manifest's served file with its fitted decoding, or an explicit GGUF) and
returns the ``EngineConfig`` that ``LlamaCppBackend`` takes whole. The service, evaluation, the
benchmarks and the tests all build their engine this way, so they measure the engine that serves:

    engine_config(Settings())                                   # what `make run` serves
    engine_config(Settings(threads=2, queue_size=2000, warmup=False))
    engine_config(Settings(model_path=Path("x.gguf"), lora_path=Path("a.gguf")))  # a file, no manifest
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.core.config import Settings


@dataclass(frozen=True)
class EngineConfig:
    # -- the model ---------------------------------------------------------------------------
    model_path: Path
    lora_path: Path | None
    model_name: str
    format: str
    base: str | None
    # -- decoding fitted with the model (training.calibrate) ---------------------------------
    calibration: dict[str, list[float]] | None  # isotonic map raw -> calibrated confidence; None: raw
    no_product_bias: float  # nats added to "not in catalog" where the product is chosen
    other_bias: float  # nats added to "other" at the intent decision
    attribute_bias: float  # nats per entry number or code the message names (app.attributes)
    word_bias: float  # nats per word of an entry's name the message names (app.lexical)
    confirm_below: float  # calibrated confidence under which answers are flagged; 0: never
    catalog_layout: str  # "causal" or "entries" (app.prompt), one the model was trained for
    # -- the engine: the settings of the same names (meaning and units there) -----------------
    threads: int
    max_batch: int
    batch_tokens: int
    cache_mb: int
    cache_slots: int
    entry_slots: int
    entry_store_mb: int
    entry_store_dir: Path
    max_catalog_tokens: int
    max_query_tokens: int
    max_quantity: int
    queue_size: int
    warmup: bool
    draft: bool
    draft_max_active: int


# llama.cpp's LLAMA_MAX_SEQ (src/llama-cparams.h, raised from 256 by scripts/patch_llama_cpp_sdist.sh):
# n_seq_max may not exceed it.
MAX_SEQUENCES = 1024
# Logits rows a drafted request may ask for in one model call: two lanes (add, remove), each checked
# at its quantity's guessed tokens (at most 3 digits) and at its end (AnswerDecoder.draft); a lane
# that does not fit is simply not drafted. Each row costs 2 MB of RSS (1 MB twice).
DRAFT_ROWS = 8


def sequences(config: EngineConfig) -> tuple[int, int]:
    """(cached-prefix sequences, work sequences) the engine asks llama.cpp for: one per cached catalog,
    or per cached entry plus the header; one per request in a batch, and one more per drafted one."""
    cached = config.entry_slots + 1 if config.catalog_layout == "entries" else config.cache_slots
    return cached, config.max_batch + (config.draft_max_active if config.draft else 0)


def logits_rows(config: EngineConfig) -> int:
    """Logits rows one model call may ask for: one per request in the batch; drafted lanes only get
    the rows that the batch leaves spare (a request drafts only while fewer than draft_max_active are
    in flight, so a full batch has no drafts to pay for). llama.cpp keeps this many rows of n_vocab
    floats (1 MB each on Gemma) twice, in the output buffer and in the worst-case graph: sizing it as
    max_batch + draft_max_active * DRAFT_ROWS (32 rows by default) cost 28 MB of RSS more than 18."""
    drafting = config.draft_max_active * (1 + DRAFT_ROWS) if config.draft else 0
    return max(config.max_batch, drafting)


def engine_config(settings: Settings) -> EngineConfig:
    """The engine the settings describe. An explicit ``model_path`` is served as it is (no manifest,
    no calibration); otherwise the manifest's model, with the adapter folded in unless
    ``merge_adapter`` is off or an explicit ``lora_path`` replaces the manifest's adapter."""
    from app.artifacts import resolve

    calibration: dict[str, list[float]] | None = None
    no_product, other, confirm = 0.0, 0.0, 0.0
    layouts: tuple[str, ...] = ("causal", "entries")  # an explicit file: the settings' word is taken
    if settings.model_path is not None:
        model_path, lora_path = settings.model_path, settings.lora_path
        name, fmt, base = settings.model_name or settings.model_path.stem, "gguf", None
    else:
        served = resolve(settings.model_manifest, merge=settings.merge_adapter and settings.lora_path is None)
        model_path, lora_path = served.model_path, settings.lora_path or served.lora_path
        name, fmt, base = settings.model_name or served.name, served.format, served.base
        layouts = served.layouts
        if settings.lora_path is None:  # the fitted values belong to the manifest's adapter only
            calibration = served.calibration
            no_product, other = served.no_product_bias, served.other_bias
            confirm = served.confirm_below if calibration is not None else 0.0
    layout = settings.catalog_layout or ("causal" if settings.model_path is not None else layouts[0])
    if layout not in layouts:
        raise ValueError(f"catalog_layout={layout!r}: this model was trained for {', '.join(layouts)} only")
    resolved: dict[str, Any] = {
        "catalog_layout": layout,
        "model_path": Path(model_path),
        "lora_path": Path(lora_path) if lora_path else None,
        "model_name": name,
        "format": fmt,
        "base": base,
        "calibration": calibration,
        "no_product_bias": no_product if settings.no_product_bias is None else settings.no_product_bias,
        "other_bias": other if settings.other_bias is None else settings.other_bias,
        "confirm_below": confirm if settings.confirm_below is None else settings.confirm_below,
    }
    # The engine's sizes and switches are the settings of the same name, taken as they are.
    taken = {f.name: getattr(settings, f.name) for f in fields(EngineConfig) if f.name not in resolved}
    config = EngineConfig(**resolved, **taken)
    cached, work = sequences(config)
    if cached + work > MAX_SEQUENCES:
        what = "entry_slots + 1" if layout == "entries" else "cache_slots"
        raise ValueError(f"{what} ({cached}) + max_batch + draft_max_active ({work}) is more than llama.cpp's "
                         f"{MAX_SEQUENCES} sequences; lower one of them")
    return config
