"""Prometheus metrics. Names are prefixed ``shopintent_``; durations are in seconds (Prometheus
convention) with buckets chosen in milliseconds, from 5 ms to 10 s."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0)

REQUEST_DURATION = Histogram(
    "shopintent_request_duration_seconds",
    "HTTP request duration, by endpoint and status code.",
    ["endpoint", "status"],
    buckets=LATENCY_BUCKETS,
)
QUEUE_DEPTH = Gauge("shopintent_queue_depth", "Requests waiting for or in decoding.")
BATCH_SIZE = Histogram(
    "shopintent_batch_size", "Requests decoded together per model call.", buckets=(1, 2, 4, 8, 16, 32, 64, 128)
)
PREFIX_CACHE = Counter("shopintent_prefix_cache_total", "Catalog prefix cache lookups.", ["result"])
ENTRY_CACHE = Counter(
    "shopintent_entry_cache_total", "Catalog entry lookups, one per entry ('entries' layout): hit (in KV memory), stored (read back "
    "from the entry store), miss (evaluated).", ["result"]
)
ENTRY_STORE_BYTES = Gauge("shopintent_entry_store_bytes", "Bytes of entry states in the on-disk entry store.")
ENTRY_STORE_BOUND_BYTES = Gauge("shopintent_entry_store_bound_bytes", "Bytes the on-disk entry store may hold.")
CACHE_BOUND_BYTES = Gauge("shopintent_cache_bound_bytes", "KV bytes the cached catalogs (or entries) may hold.")
CACHE_USED_BYTES = Gauge("shopintent_cache_used_bytes", "KV bytes the cached catalogs (or entries) hold.")
CACHE_SLOTS = Gauge("shopintent_cache_slots", "Catalogs (or entries) the cache may hold: one llama.cpp sequence each.")
CACHED = Gauge("shopintent_cached", "Catalogs (or entries) in the cache.")
PROMPT_TOKENS = Counter("shopintent_prompt_tokens_total", "Tokens evaluated by the model.", ["kind"])
MODEL_LOAD_SECONDS = Gauge("shopintent_model_load_seconds", "Time to load and warm the model.")
PREDICTIONS = Counter("shopintent_predictions_total", "Predictions by intent and language.", ["intent", "language"])
NEEDS_CONFIRMATION = Counter(
    "shopintent_needs_confirmation_total", "Answers flagged for confirmation (confidence under the threshold).",
    ["intent"],
)
INVALID_OUTPUTS = Counter(
    "shopintent_invalid_outputs_total", "Backend outputs that broke the contract (must stay 0).", ["backend"]
)
REJECTED = Counter("shopintent_rejected_total", "Requests refused before decoding.", ["reason"])
DRAFT_TOKENS = Counter(
    "shopintent_draft_tokens_total", "Drafted answer tokens the model confirmed or rejected.", ["result"]
)
