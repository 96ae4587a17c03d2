"""GGUF on CPU through llama.cpp's C API, driven by one owner thread.

A llama.cpp context is not thread-safe, so a single thread owns it. Requests arrive through a
bounded queue (full queue: ``Overloaded``, a 429) and are decoded together: each active request
is one llama.cpp sequence, and every model call carries the pending tokens of all of them, with
logits only where a decision is due (continuous micro-batching).

Catalog prefix cache: the ``Catalog: ...`` part of the prompt is evaluated once into a sequence
of its own and kept in an LRU bounded in bytes of KV cache. A request copies that sequence
(``llama_memory_seq_cp`` shares the cells, nothing is copied) and evaluates only its text.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import logging
import queue
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np

from app.backends.base import BackendError, InputTooLarge, ModelLoadError, Query, Result
from app.backends.pages import release_tied_embedding
from app.backends.queued import Job, QueuedBackend
from app.core import metrics
from app.core.calibration import Calibrator
from app.core.numbers import guess_quantity
from app.core.prompt import catalog_prefix, quantity_piece, query_suffix
from app.decoding import AnswerDecoder, Grammar, Node, build_product_trie

log = logging.getLogger("shopintent.llamacpp")

FLASH_ATTN = llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED
KV_TYPE = llama_cpp.GGML_TYPE_Q8_0
ANSWER_MARGIN = 24  # KV cells an answer may feed beyond its longest product name (tokens)
WORK_CELLS_PER_SLOT = 96  # a typical request: ~30 query tokens + its answer (tokens)
# Admission control prices a request in prompt tokens: ~3.5 characters per token in our languages,
# and the answer steps cost about 10 tokens' work (each needs logits over the 262k vocabulary).
CHARS_PER_TOKEN = 3.5
ANSWER_COST = 10.0


@llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
def _llama_log(level: int, text: bytes, _user_data: Any) -> None:
    # llama.cpp logs every tensor at load: errors are warnings for us, warnings only debug.
    if level in (3, 4):  # GGML_LOG_LEVEL_WARN, GGML_LOG_LEVEL_ERROR (ggml.h numbering)
        message = text.decode("utf-8", errors="replace").strip()
        if message:
            log.log(logging.WARNING if level == 4 else logging.DEBUG, "llama.cpp: %s", message)


def _check_gguf(path: Path) -> None:
    if not path.is_file():
        raise ModelLoadError(f"model file {path} does not exist")
    with path.open("rb") as f:
        magic = f.read(4)
    if magic != b"GGUF":
        raise ModelLoadError(f"{path} is not a GGUF file (magic {magic!r})")


@dataclass
class _Prefix:
    key: tuple[str, ...]
    seq: int
    n_tokens: int
    products: Node
    answer_cells: int
    users: int = 0
    evicted: bool = False


@dataclass
class _Job(Job):
    tokens: list[int] = field(default_factory=list)
    prefix: _Prefix | None = None
    seq: int = -1
    pos: int = 0
    pending: list[int] = field(default_factory=list)
    decoder: AnswerDecoder | None = None
    cells: int = 0
    alt_seq: int = -1  # second lane for the first step: " remove ..." drafted beside " add ..."


@dataclass
class _Lane:
    seq: int
    tokens: list[int]
    rows: dict[int, int]  # draft offset -> batch index whose logits decide the next token


class LlamaCppBackend(QueuedBackend):
    name = "llamacpp"

    def __init__(
        self,
        model_path: Path,
        lora_path: Path | None = None,
        *,
        model_name: str = "",
        fmt: str = "gguf",
        base: str | None = None,
        threads: int = 2,
        max_batch: int = 16,
        batch_tokens: int = 512,
        cache_mb: int = 64,
        cache_slots: int = 32,
        max_catalog_tokens: int = 2048,
        max_query_tokens: int = 256,
        max_quantity: int = 999,
        queue_size: int = 256,
        warmup: bool = True,
        draft: bool = True,
        draft_max_active: int = 2,
        calibration: dict[str, list[float]] | None = None,
        no_product_bias: float = 0.0,
        other_bias: float = 0.0,
    ) -> None:
        self.model_path = Path(model_path)
        self.lora_path = Path(lora_path) if lora_path else None
        self.model_name = model_name or self.model_path.stem
        self.format = fmt
        self.base = base
        self.adapter = self.lora_path.name if self.lora_path else None
        self.threads = threads
        self.max_batch = max_batch
        self.batch_tokens = batch_tokens
        self.cache_mb = cache_mb
        self.cache_slots = cache_slots
        self.max_catalog_tokens = max_catalog_tokens
        self.max_query_tokens = max_query_tokens
        self.max_quantity = max_quantity
        self.warmup = warmup
        self.draft = draft
        self.draft_max_active = draft_max_active
        self.calibrator = Calibrator(calibration["x"], calibration["y"]) if calibration else None
        self.no_product_bias = no_product_bias
        self.other_bias = other_bias
        super().__init__(queue_size)
        self._active: list[_Job] = []
        self._deferred: list[_Job] = []
        self._prefixes: OrderedDict[tuple[str, ...], _Prefix] = OrderedDict()
        self._free_cache_seqs: list[int] = []
        self._free_work_seqs: list[int] = []
        self._kv_used = 0
        self._model: Any = None
        self._ctx: Any = None
        self._adapter: Any = None
        self.load_seconds = 0.0
        self._busy_since = 0.0
        self._finished_cost = 0.0
        self.fault_injector: Any = None  # tests set a callable raising inside the owner thread

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("this backend is already started")
        started = time.perf_counter()
        _check_gguf(self.model_path)
        if self.lora_path is not None:
            _check_gguf(self.lora_path)
        llama_cpp.llama_log_set(_llama_log, ctypes.c_void_p(0))
        llama_cpp.llama_backend_init()
        mparams = llama_cpp.llama_model_default_params()
        mparams.n_gpu_layers = 0
        self._model = llama_cpp.llama_model_load_from_file(str(self.model_path).encode(), mparams)
        if not self._model:
            raise ModelLoadError(f"llama.cpp could not load {self.model_path} (truncated or unsupported?)")
        release_tied_embedding(self.model_path)  # its repacked copy serves the LM head
        self._vocab = llama_cpp.llama_model_get_vocab(self._model)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self._vocab)
        if self.lora_path is not None:
            self._adapter = llama_cpp.llama_adapter_lora_init(self._model, str(self.lora_path).encode())
            if not self._adapter:
                raise ModelLoadError(f"llama.cpp could not load the LoRA adapter {self.lora_path}")

        self.bytes_per_token = self._measure_kv_bytes_per_token()
        self.cache_tokens = max(self.max_catalog_tokens, self.cache_mb * 2**20 // self.bytes_per_token)
        # KV cells: the catalog cache, a typical request per batch slot, and room for one worst case
        # (longest query + longest answer). A request that does not fit waits for cells to free up.
        self.n_ctx = self.cache_tokens + self.max_batch * WORK_CELLS_PER_SLOT + self.max_query_tokens + 256
        # A request decodes on one sequence; a drafted one borrows a second for its first step.
        self.n_seq = self.cache_slots + self.max_batch + (self.draft_max_active if self.draft else 0)
        self._ctx = self._new_context(self.n_ctx, self.n_seq)
        self._reset_sequences()
        self._batch = llama_cpp.llama_batch_init(self.batch_tokens, 0, 2)
        self.grammar = Grammar.build(self.tokenize, self.max_quantity, self.no_product_bias, self.other_bias)
        self._thread = threading.Thread(target=self._run, name="llamacpp-owner", daemon=True)
        self._thread.start()
        if self.warmup:
            for text in ("add 2 apples to my cart", "is the milk fresh?"):
                self.classify_sync([Query(text, ("Apples", "Milk", "Bread"))], timeout_s=120)
        self.load_seconds = time.perf_counter() - started
        metrics.MODEL_LOAD_SECONDS.set(self.load_seconds)
        log.info(
            "model loaded",
            extra={"model": str(self.model_path), "seconds": round(self.load_seconds, 2), "n_ctx": self.n_ctx},
        )

    def _new_context(self, n_ctx: int, n_seq: int) -> Any:
        cparams = llama_cpp.llama_context_default_params()
        cparams.n_ctx = n_ctx
        cparams.n_batch = self.batch_tokens
        cparams.n_ubatch = self.batch_tokens
        cparams.n_seq_max = n_seq
        # llama.cpp keeps max(n_outputs, n_seq_max) logits rows of n_vocab floats (1 MB each on Gemma),
        # in the output and in the compute buffer; the default (n_batch rows) would cost 256 MB each.
        cparams.n_outputs_max = n_seq
        cparams.n_threads = self.threads
        cparams.n_threads_batch = self.threads
        cparams.swa_full = True  # sliding-window layers keep full KV, so prefixes can be shared
        cparams.kv_unified = True  # one KV buffer for all sequences: seq_cp shares cells
        cparams.flash_attn_type = FLASH_ATTN  # skips masked cells
        cparams.type_k = KV_TYPE  # 8-bit KV cache: twice the cached catalogs per MB
        cparams.type_v = KV_TYPE
        cparams.no_perf = True
        ctx = llama_cpp.llama_init_from_model(self._model, cparams)
        if not ctx:
            raise ModelLoadError(f"llama.cpp could not create a context of {n_ctx} tokens")
        if self._adapter is not None:
            adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(self._adapter)
            scales = (ctypes.c_float * 1)(1.0)
            if llama_cpp.llama_set_adapters_lora(ctx, adapters, 1, scales) != 0:
                raise ModelLoadError("llama.cpp could not apply the LoRA adapter")
        return ctx

    def _measure_kv_bytes_per_token(self) -> int:
        """KV bytes per cached token, measured on a throwaway context (layouts differ by model)."""
        probe = self._new_context(256, 1)
        try:
            tokens = self.tokenize("Catalog:\n" + "Milk\n" * 40, add_bos=True)[:64]
            array = (llama_cpp.llama_token * len(tokens))(*tokens)  # must outlive the decode
            batch = llama_cpp.llama_batch_get_one(array, len(tokens))
            if llama_cpp.llama_decode(probe, batch) != 0:
                raise ModelLoadError("llama.cpp failed on the probe decode")
            size = llama_cpp.llama_state_seq_get_size(probe, 0)
            return max(1, int(size // len(tokens)))
        finally:
            llama_cpp.llama_free(probe)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._ctx:
            llama_cpp.llama_batch_free(self._batch)
            llama_cpp.llama_free(self._ctx)
            self._ctx = None
        if self._adapter:
            llama_cpp.llama_adapter_lora_free(self._adapter)
            self._adapter = None
        if self._model:
            llama_cpp.llama_model_free(self._model)
            self._model = None

    # -- public API ---------------------------------------------------------------------------
    def tokenize(self, text: str, add_bos: bool = False) -> list[int]:
        data = text.encode("utf-8")
        capacity = len(data) + 8
        buffer = (llama_cpp.llama_token * capacity)()
        n = llama_cpp.llama_tokenize(self._vocab, data, len(data), buffer, capacity, add_bos, False)
        if n < 0:
            capacity = -n
            buffer = (llama_cpp.llama_token * capacity)()
            n = llama_cpp.llama_tokenize(self._vocab, data, len(data), buffer, capacity, add_bos, False)
        return list(buffer[:n])

    def queue_depth(self) -> int:
        return self._queue.qsize() + len(self._active) + len(self._deferred)

    def cost(self, query: Query) -> float:
        """Tokens this request will make the model evaluate: its text, the answer, and the whole
        catalog when that is not in the prefix cache (a cache miss costs ~10x a hit)."""
        tokens = len(query.text) / CHARS_PER_TOKEN + ANSWER_COST
        if query.catalog not in self._prefixes:
            tokens += sum(len(entry) + 1 for entry in query.catalog) / CHARS_PER_TOKEN
        return tokens

    def _in_flight_cost(self) -> float:
        return sum(job.cost for job in self._active + self._deferred)

    def _job(self, query: Query, future: concurrent.futures.Future[Result], deadline: float) -> _Job:
        return _Job(query, future, deadline)

    # -- the owner thread -------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            self._busy_since = time.perf_counter()  # _next_job moves it past any idle wait
            self._finished_cost = 0.0
            self._admit()
            if not self._active:
                continue
            try:
                if self.fault_injector is not None:
                    self.fault_injector()
                self._step()
            except Exception as exc:  # a failed decode must not take the service down
                log.exception("decode failed; failing %d requests and resetting the context", len(self._active))
                self._fail_all(BackendError(f"model failure: {exc}"))
            self._record_work(time.perf_counter() - self._busy_since, self._finished_cost)
        self._fail_all(BackendError("the model is shutting down"))
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            job.future.set_exception(BackendError("the model is shutting down"))

    def _next_job(self) -> _Job | None:
        """A job waiting for KV space first (already claimed), else a new one from the queue."""
        if self._deferred:
            return self._deferred.pop(0)
        try:
            if self._active:
                job: _Job = self._queue.get_nowait()
            else:
                job = self._queue.get(timeout=0.05)
                self._busy_since = time.perf_counter()
        except queue.Empty:
            return None
        return job if self._claim(job) else None

    def _admit(self) -> None:
        while len(self._active) < self.max_batch:
            job = self._next_job()
            if job is None:
                return
            if job.future.done():  # a deferred job whose client gave up meanwhile
                continue
            try:
                admitted = self._prepare(job)
            except InputTooLarge as exc:
                job.future.set_exception(exc)
                continue
            except Exception as exc:
                log.exception("could not prepare a request")
                job.future.set_exception(BackendError(f"model failure: {exc}"))
                continue
            if not admitted:
                self._deferred.insert(0, job)  # wait for KV space; keep order
                return

    def _prepare(self, job: _Job) -> bool:
        """Find or build the catalog prefix, reserve KV cells, start the decoder."""
        query_tokens = self.tokenize(query_suffix(job.query.text))
        if len(query_tokens) > self.max_query_tokens:  # keep the head and the tail (the cue)
            half = self.max_query_tokens // 2
            query_tokens = query_tokens[:half] + query_tokens[-(self.max_query_tokens - half) :]
        prefix = self._prefixes.get(job.query.catalog)
        if prefix is not None:
            self._prefixes.move_to_end(job.query.catalog)
            metrics.PREFIX_CACHE.labels("hit").inc()
        cells = len(query_tokens) + (prefix.answer_cells if prefix else ANSWER_MARGIN)
        if prefix is None:
            prefix = self._build_prefix(job.query.catalog, reserve=cells)
            if prefix is None:
                return False
            metrics.PREFIX_CACHE.labels("miss").inc()
            cells = len(query_tokens) + prefix.answer_cells
        drafting = self.draft and len(self._active) < self.draft_max_active
        if self._kv_used + cells > self.n_ctx or len(self._free_work_seqs) < (2 if drafting else 1):
            return False
        job.tokens = query_tokens
        job.prefix = prefix
        job.cells = cells
        prefix.users += 1
        self._kv_used += cells
        memory = llama_cpp.llama_get_memory(self._ctx)
        job.seq = self._free_work_seqs.pop()
        llama_cpp.llama_memory_seq_cp(memory, prefix.seq, job.seq, -1, -1)
        # Drafting saves model calls but adds tokens and logits rows to each call: it pays when the
        # machine is idle (latency), not when full batches already keep it busy (throughput).
        if drafting:
            job.alt_seq = self._free_work_seqs.pop()
            llama_cpp.llama_memory_seq_cp(memory, prefix.seq, job.alt_seq, -1, -1)
        job.pos = prefix.n_tokens
        job.decoder = AnswerDecoder(self.grammar, prefix.products)
        job.pending = list(query_tokens)
        self._active.append(job)
        return True

    def _build_prefix(self, catalog: tuple[str, ...], reserve: int) -> _Prefix | None:
        tokens = self.tokenize(catalog_prefix(list(catalog)), add_bos=True)
        if len(tokens) > self.max_catalog_tokens:
            raise InputTooLarge(
                f"the catalog is {len(tokens)} tokens for this model; the limit is {self.max_catalog_tokens}"
            )
        products = build_product_trie(self.tokenize, catalog)
        answer_cells = max(self._depth(products), 1) + 8 + ANSWER_MARGIN
        # Make room: LRU eviction until the new prefix fits the cache budget and a slot is free.
        cached = sum(p.n_tokens for p in self._prefixes.values())
        while self._prefixes and (cached + len(tokens) > self.cache_tokens or not self._free_cache_seqs):
            cached -= self._evict_oldest()
        if self._kv_used + len(tokens) + reserve > self.n_ctx:
            return None  # in-flight requests hold the cells; retry once they finish
        seq = self._free_cache_seqs.pop()
        for start in range(0, len(tokens), self.batch_tokens):
            chunk = tokens[start : start + self.batch_tokens]
            self._fill_batch([(tok, start + i, (seq,), False) for i, tok in enumerate(chunk)])
            status = llama_cpp.llama_decode(self._ctx, self._batch)
            if status != 0:
                llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(self._ctx), seq, -1, -1)
                self._free_cache_seqs.append(seq)
                raise BackendError(f"llama_decode returned {status} while evaluating a catalog")
        metrics.PROMPT_TOKENS.labels("catalog").inc(len(tokens))
        prefix = _Prefix(catalog, seq, len(tokens), products, answer_cells)
        self._prefixes[catalog] = prefix
        self._kv_used += len(tokens)
        return prefix

    @staticmethod
    def _depth(node: Node) -> int:
        return 1 + max((LlamaCppBackend._depth(c) for c in node.children.values()), default=0)

    def _evict_oldest(self) -> int:
        _, prefix = self._prefixes.popitem(last=False)
        llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(self._ctx), prefix.seq, -1, -1)
        self._free_cache_seqs.append(prefix.seq)
        prefix.evicted = True
        if prefix.users == 0:
            self._kv_used -= prefix.n_tokens
        return prefix.n_tokens

    def _fill_batch(self, entries: list[tuple[int, int, tuple[int, ...], bool]]) -> None:
        b = self._batch
        for i, (token, pos, seqs, logits) in enumerate(entries):
            b.token[i] = token
            b.pos[i] = pos
            b.n_seq_id[i] = len(seqs)
            for k, seq in enumerate(seqs):
                b.seq_id[i][k] = seq
            b.logits[i] = logits
        b.n_tokens = len(entries)

    def _step(self) -> None:
        """One model call over every active request's pending tokens (plus drafts, see _lanes)."""
        entries: list[tuple[int, int, tuple[int, ...], bool]] = []
        plans: list[tuple[_Job, int, int, list[_Lane]]] = []
        budget, rows = self.batch_tokens, self.n_seq
        for job in self._active:
            if budget <= 0 or rows <= 0:
                break
            seqs = (job.seq, job.alt_seq) if job.alt_seq >= 0 else (job.seq,)
            take = job.pending[:budget]
            last = len(take) == len(job.pending)
            for i, tok in enumerate(take):
                entries.append((tok, job.pos + i, seqs, last and i == len(take) - 1))
            job.pos += len(take)
            job.pending = job.pending[len(take) :]
            budget -= len(take)
            if not last:
                continue
            base_row = len(entries) - 1
            rows -= 1
            lanes = self._lanes(job, entries, budget, rows)
            used = sum(len(lane.tokens) for lane in lanes)
            budget -= used
            rows -= sum(len(lane.rows) for lane in lanes)
            plans.append((job, base_row, job.pos, lanes))
        self._fill_batch(entries)
        status = llama_cpp.llama_decode(self._ctx, self._batch)
        if status != 0:
            raise BackendError(f"llama_decode returned {status}")
        metrics.PROMPT_TOKENS.labels("query").inc(len(entries))
        metrics.BATCH_SIZE.observe(len(plans))
        for job, base_row, pos_after, lanes in plans:
            self._advance_job(job, base_row, pos_after, lanes)

    def _lanes(self, job: _Job, entries: list[tuple[int, int, tuple[int, ...], bool]], budget: int,
               rows: int) -> list[_Lane]:
        """Drafts for a request's first decision: " add <guessed quantity>" on its own sequence,
        " remove <guessed quantity>" on the other, with logits at every decision point. If the
        model's choices follow a lane, the whole answer costs this one call instead of three."""
        decoder = job.decoder
        if not self.draft or job.alt_seq < 0 or decoder is None:
            return []
        guesses = self.tokenize(quantity_piece(guess_quantity(job.query.text, self.max_quantity)))
        lanes = []
        for (_intent, first), seq in zip(decoder.intent_choices().items(), (job.seq, job.alt_seq), strict=False):
            tokens, checks = decoder.draft(first, guesses)
            if len(tokens) > budget or len(checks) > rows:
                break
            start = len(entries)
            for k, tok in enumerate(tokens):
                entries.append((tok, job.pos + k, (seq,), k in checks))
            lanes.append(_Lane(seq, tokens, {k: start + k for k in checks}))
            budget -= len(tokens)
            rows -= len(checks)
        return lanes

    def _logits(self, row: int) -> Any:
        return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(self._ctx, row), shape=(self.n_vocab,))

    def _advance_job(self, job: _Job, base_row: int, pos_after: int, lanes: list[_Lane]) -> None:
        decoder = job.decoder
        assert decoder is not None
        decoder.choose(self._logits(base_row))
        memory = llama_cpp.llama_get_memory(self._ctx)
        lane = next((lane for lane in lanes if not decoder.done and lane.tokens[:1] == decoder.pending[:1]), None)
        if job.alt_seq >= 0:  # the first step is over: keep one sequence
            keep = lane.seq if lane is not None else job.seq
            drop = job.alt_seq if keep == job.seq else job.seq
            llama_cpp.llama_memory_seq_rm(memory, drop, -1, -1)
            self._free_work_seqs.append(drop)
            job.seq, job.alt_seq = keep, -1
        accepted = 0
        if lane is not None:
            while True:  # verify the draft, one decision row at a time
                chosen = decoder.pending
                if lane.tokens[accepted : accepted + len(chosen)] != chosen:
                    break
                accepted += len(chosen)
                decoder.pending = []
                if decoder.done or (accepted - 1) not in lane.rows:
                    break
                decoder.choose(self._logits(lane.rows[accepted - 1]))
            metrics.DRAFT_TOKENS.labels("accepted").inc(accepted)
            metrics.DRAFT_TOKENS.labels("rejected").inc(len(lane.tokens) - accepted)
        if lanes:  # drop drafted cells past the accepted ones
            llama_cpp.llama_memory_seq_rm(memory, job.seq, pos_after + accepted, -1)
        job.pos = pos_after + accepted
        if decoder.done:
            self._finish(job)
        else:
            job.pending, decoder.pending = decoder.pending, []

    def _release(self, job: _Job) -> None:
        for seq in (job.seq, job.alt_seq):
            if seq >= 0:
                llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(self._ctx), seq, -1, -1)
                self._free_work_seqs.append(seq)
        self._kv_used -= job.cells
        prefix = job.prefix
        if prefix is not None:
            prefix.users -= 1
            if prefix.evicted and prefix.users == 0:
                self._kv_used -= prefix.n_tokens
        self._active.remove(job)

    def _finish(self, job: _Job) -> None:
        assert job.decoder is not None and job.decoder.answer is not None
        answer = job.decoder.answer
        self._release(job)
        self._finished_cost += job.cost
        confidence = self.calibrator(answer.confidence) if self.calibrator else answer.confidence
        if not job.future.done():
            job.future.set_result(Result(answer.intent, answer.product, answer.quantity, confidence))

    def _fail_all(self, error: Exception) -> None:
        for job in list(self._active):
            self._active.remove(job)
            if not job.future.done():
                job.future.set_exception(error)
        for job in self._deferred:
            if not job.future.done():
                job.future.set_exception(error)
        self._deferred.clear()
        if self._ctx:
            # Start clean: drop every sequence and the prefix cache.
            llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self._ctx), True)
            self._reset_sequences()

    def _reset_sequences(self) -> None:
        self._prefixes.clear()
        self._free_cache_seqs = list(range(self.cache_slots))
        self._free_work_seqs = list(range(self.cache_slots, self.n_seq))
        self._kv_used = 0
