"""GGUF on CPU through llama.cpp's C API, driven by one owner thread.

A llama.cpp context is not thread-safe, so a single thread owns it. Requests arrive through a
bounded queue (full queue: ``Overloaded``, a 429) and are decoded together: each active request
is one llama.cpp sequence, and every model call carries the pending tokens of all of them, with
logits only where a decision is due (continuous micro-batching).

Two catalog layouts (``app.prompt``), chosen by ``catalog_layout``:

* causal: the ``Catalog: ...`` part of the prompt is evaluated once into a sequence of its own and
  kept in an LRU bounded in bytes of KV cache. A request copies that sequence
  (``llama_memory_seq_cp`` shares the cells, nothing is copied) and evaluates only its text.
* entries: each catalog entry is evaluated once, after a shared header and at the same positions
  as every other entry, into a sequence of its own, kept in the same kind of LRU. A request copies
  the header and each of its entries into its sequence and evaluates its text after them, so a
  catalog never seen before costs only the entries never seen before.

This module is the scheduler (admission, the micro-batched step, each request's ``JobState``).
The pieces it drives: ``llama_context`` (every ctypes call), ``kv_manager`` (sequence ids, KV
cells, the prefix LRU; pure Python) and ``drafting`` (the drafted first step).
"""

from __future__ import annotations

import concurrent.futures
import enum
import logging
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from app.backends import drafting
from app.backends.base import BackendError, InputTooLarge, Query, Result
from app.backends.drafting import Lane
from app.backends.engine import EngineConfig, logits_rows, sequences
from app.backends.entry_store import EntryStore, file_identity, fingerprint
from app.backends.kv_manager import KVManager, Lease, Prefix, PrefixSlot
from app.backends.llama_context import KV_TYPE, Entry, LlamaContext, LlamaModel, llama_cpp_version
from app.backends.queued import Job, QueuedBackend
from app.calibration import Calibrator
from app.core import metrics
from app.decoding import AnswerDecoder, Grammar, Node, build_product_trie
from app.prompt import ENTRY_HEADER, USER_CUE, catalog_prefix, entry_piece, query_suffix

log = logging.getLogger("shopintent.llamacpp")

ANSWER_MARGIN = 24  # KV cells an answer may feed beyond its longest product name (tokens)
WORK_CELLS_PER_SLOT = 96  # a typical request: ~30 query tokens + its answer (tokens)
# Admission control prices a request in prompt tokens: ~3.5 characters per token in our languages,
# and the answer steps cost about 10 tokens' work (each needs logits over the 262k vocabulary).
CHARS_PER_TOKEN = 3.5
ANSWER_COST = 10.0
HEADER_KEY = ("\n" + ENTRY_HEADER,)  # the entries' header in the prefix LRU (no entry has a line break)


class JobState(enum.Enum):
    """Where a request is in the engine (llama.cpp's server calls this a slot's state)."""

    QUEUED = "queued"  # in the bounded queue, not yet claimed by the owner thread
    WAITING_FOR_KV = "waiting_for_kv"  # claimed; waits (in ``_deferred``) for KV cells or a work sequence
    PREFILL = "prefill"  # admitted on one sequence; its text is being fed, the first decision is due
    DRAFTING = "drafting"  # as PREFILL on two sequences: the call that makes the first decision drafts lanes
    DECODING = "decoding"  # past the first decision: one sequence, fed the decoder's forced and chosen tokens
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class _Catalog:
    """What the engine keeps with a cached catalog prefix."""

    products: Node
    answer_cells: int  # KV cells an answer on this catalog may need


@dataclass
class _Job(Job):
    state: JobState = JobState.QUEUED
    lease: Lease[_Catalog | None] | None = None  # KV cells and sequences, from admission to the end
    decoder: AnswerDecoder | None = None
    pos: int = 0  # the next position on its sequences
    feed: list[int] = field(default_factory=list)  # tokens for the next model call (the text may need several)


@dataclass
class _Plan:
    """A request whose decision is due after this model call."""

    job: _Job
    base_row: int  # batch index of its last fed token: its logits make the decision
    pos_after: int
    lanes: list[Lane]


class LlamaCppBackend(QueuedBackend):
    name = "llamacpp"

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.model_path = config.model_path
        self.lora_path = config.lora_path
        self.model_name = config.model_name or config.model_path.stem
        self.format = config.format
        self.base = config.base
        self.adapter = config.lora_path.name if config.lora_path else None
        self.threads = config.threads
        self.max_batch = config.max_batch
        self.batch_tokens = config.batch_tokens
        self.cache_mb = config.cache_mb
        self.cache_slots = config.cache_slots
        self.layout = config.catalog_layout
        self.entry_slots = config.entry_slots
        self.max_catalog_tokens = config.max_catalog_tokens
        self.max_query_tokens = config.max_query_tokens
        self.max_quantity = config.max_quantity
        self.warmup = config.warmup
        self.draft = config.draft
        self.draft_max_active = config.draft_max_active
        self.calibrator = Calibrator(config.calibration["x"], config.calibration["y"]) if config.calibration else None
        self.no_product_bias = config.no_product_bias
        self.other_bias = config.other_bias
        self.confirm_below = config.confirm_below
        super().__init__(config.queue_size)
        self._active: list[_Job] = []
        self._deferred: list[_Job] = []
        self._model: LlamaModel | None = None
        self._context: LlamaContext | None = None
        self._kv: KVManager[_Catalog | None] | None = None
        self._header: Prefix[_Catalog | None] | None = None  # entries layout: the pinned header
        self._store: EntryStore | None = None  # entries layout: every entry's state, on disk
        self.load_seconds = 0.0
        self._busy_since = 0.0
        self._finished_cost = 0.0

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("this backend is already started")
        started = time.perf_counter()
        self._model = model = LlamaModel.load(self.model_path, self.lora_path, threads=self.threads,
                                              batch_tokens=self.batch_tokens)
        self.n_vocab = model.n_vocab
        self.bytes_per_token = model.kv_bytes_per_token()
        self.cache_tokens = max(self.max_catalog_tokens, self.cache_mb * 2**20 // self.bytes_per_token)
        # KV cells: the catalog cache, a typical request per batch slot, and room for one worst case
        # (longest query + longest answer). A request that does not fit waits for cells to free up.
        self.n_ctx = self.cache_tokens + self.max_batch * WORK_CELLS_PER_SLOT + self.max_query_tokens + 256
        # A request decodes on one sequence; a drafted one borrows a second for its first step.
        # One sequence per cached catalog (or entry, plus the header) and per request; a drafted
        # request borrows a second for its first step (engine.sequences, checked by engine_config).
        cache_slots, work_seqs = sequences(self.config)
        self.n_seq = cache_slots + work_seqs
        self.logits_rows = logits_rows(self.config)
        self._context = model.new_context(self.n_ctx, self.n_seq, self.logits_rows)
        self._kv = KVManager(self._context, cache_slots=cache_slots, work_seqs=work_seqs, n_ctx=self.n_ctx,
                             cache_tokens=self.cache_tokens)
        metrics.CACHE_BOUND_BYTES.set(self.cache_tokens * self.bytes_per_token)
        metrics.CACHE_SLOTS.set(self.entry_slots if self.layout == "entries" else self.cache_slots)
        self._header_tokens = self.tokenize(ENTRY_HEADER, add_bos=True)
        if self.layout == "entries" and self.config.entry_store_mb > 0:
            try:
                self._store = EntryStore(self.config.entry_store_dir, self._store_fingerprint(),
                                         self.config.entry_store_mb * 2**20)
            except OSError as error:  # a read-only or missing volume costs speed, not the service
                log.error("the entry store is off: its directory is not usable",
                          extra={"path": str(self.config.entry_store_dir), "error": str(error)})
            else:
                metrics.ENTRY_STORE_BOUND_BYTES.set(self._store.max_bytes)
                metrics.ENTRY_STORE_BYTES.set(self._store.bytes)
        self._user_cue = self.tokenize(USER_CUE)
        self.grammar = Grammar.build(self.tokenize, self.max_quantity, self.no_product_bias, self.other_bias,
                                     self.config.attribute_bias, self.config.word_bias)
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

    def _store_fingerprint(self) -> str:
        """Everything a stored entry state depends on: the weights, the header's tokens, the KV type."""
        return fingerprint(file_identity(self.model_path), file_identity(self.lora_path), self._header_tokens,
                           KV_TYPE, llama_cpp_version())

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._context is not None:
            self._context.close()
            self._context = None
        if self._model is not None:
            self._model.close()
            self._model = None

    # -- public API ---------------------------------------------------------------------------
    def tokenize(self, text: str, add_bos: bool = False) -> list[int]:
        if self._model is None:
            raise RuntimeError("the model is not loaded (call start() first)")
        return self._model.tokenize(text, add_bos)

    def stored(self, entry: str) -> bool:
        """Whether the entry store holds this entry's state (entries layout with a store only)."""
        return self._store is not None and entry in self._store

    def preload(self, entries: list[str], chunk_chars: int = 1500) -> Iterator[int]:
        """Evaluate the entries the store lacks, through the serving path (a throwaway query against a
        chunk of them at a time, ~``chunk_chars`` characters: well inside ``max_catalog_tokens``), so that
        no request pays for their first evaluation. Yields how many entries each step covered (the first:
        those stored already), for a progress bar."""
        if self._store is None:
            raise ValueError("preloading needs the entries layout and an entry store (entry_store_mb > 0)")
        todo = [entry for entry in dict.fromkeys(entries) if entry not in self._store]
        yield len(entries) - len(todo)
        part: list[str] = []
        for entry in [*todo, None]:
            if part and (entry is None or sum(len(e) + 1 for e in part) + len(entry) > chunk_chars
                         or len(part) >= self.entry_slots):
                self.classify_sync([Query("add 1", tuple(part))], timeout_s=600)
                yield len(part)
                part = []
            if entry is not None:
                part.append(entry)

    def queue_depth(self) -> int:
        return self._queue.qsize() + len(self._active) + len(self._deferred)

    def _catalog_cached(self, catalog: tuple[str, ...]) -> bool:
        """Whether the catalog's prefix is cached; read on the callers' threads by ``cost``."""
        return self._kv is not None and self._kv.is_cached(catalog)

    def _uncached_entries(self, catalog: tuple[str, ...]) -> list[str]:
        """The entries layout: the entries neither in the cache nor in the entry store (reading one back
        costs ~0.2 ms, no model call); read on the callers' threads by ``cost``."""
        kv, store = self._kv, self._store
        if kv is None:
            return list(catalog)
        return [entry for entry in catalog if not kv.is_cached((entry,)) and (store is None or entry not in store)]

    def cost(self, query: Query) -> float:
        """Tokens this request will make the model evaluate: its text, the answer, and the part of the
        catalog that is not cached: the whole catalog (causal layout; a miss costs ~10x a hit) or
        the entries never seen (entries layout)."""
        tokens = len(query.text) / CHARS_PER_TOKEN + ANSWER_COST
        if self.layout == "entries":
            tokens += sum(len(entry) + 1 for entry in self._uncached_entries(query.catalog)) / CHARS_PER_TOKEN
        elif not self._catalog_cached(query.catalog):
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
        try:
            self._admit_jobs()
        finally:
            if self._kv is not None:
                metrics.CACHE_USED_BYTES.set(self._kv.cached_tokens * self.bytes_per_token)
                metrics.CACHED.set(len(self._kv.prefixes))

    def _admit_jobs(self) -> None:
        while len(self._active) < self.max_batch:
            job = self._next_job()
            if job is None:
                return
            if job.future.done():  # a deferred job whose client gave up meanwhile
                continue
            try:
                admitted = self._prepare(job)
            except InputTooLarge as exc:
                job.state = JobState.FAILED
                job.future.set_exception(exc)
                continue
            except Exception as exc:
                log.exception("could not prepare a request")
                job.state = JobState.FAILED
                job.future.set_exception(BackendError(f"model failure: {exc}"))
                continue
            if not admitted:
                job.state = JobState.WAITING_FOR_KV
                self._deferred.insert(0, job)  # wait for KV space; keep order
                return

    def _query_tokens(self, text: str) -> list[int]:
        tokens = self.tokenize(query_suffix(text))
        if len(tokens) > self.max_query_tokens:  # keep the head and the tail (the cue)
            half = self.max_query_tokens // 2
            tokens = tokens[:half] + tokens[-(self.max_query_tokens - half) :]
        return tokens

    def _start(self, job: _Job, prefixes: Prefix[_Catalog | None] | tuple[Prefix[_Catalog | None], ...],
               products: Node, cells: int, pos: int, feed: list[int]) -> bool:
        """Reserve the request's cells and sequences on its prefixes and make it active."""
        assert self._kv is not None
        # Drafting saves model calls but adds tokens and logits rows to each call: it pays when the
        # machine is idle (latency), not when full batches already keep it busy (throughput).
        drafted = self.draft and len(self._active) < self.draft_max_active
        lease = self._kv.reserve(prefixes, cells, lanes=2 if drafted else 1)
        if lease is None:
            return False
        job.lease = lease
        job.state = JobState.DRAFTING if drafted else JobState.PREFILL
        job.pos = pos
        job.decoder = AnswerDecoder(self.grammar, products, job.query.text)
        job.feed = feed
        self._active.append(job)
        return True

    def _prepare(self, job: _Job) -> bool:
        """Find or build the catalog prefix, reserve KV cells, start the decoder."""
        if self.layout == "entries":
            return self._prepare_entries(job)
        assert self._kv is not None
        query_tokens = self._query_tokens(job.query.text)
        prefix = self._kv.lookup(job.query.catalog)
        if prefix is not None:
            metrics.PREFIX_CACHE.labels("hit").inc()
        cells = len(query_tokens) + (prefix.data.answer_cells if prefix and prefix.data else ANSWER_MARGIN)
        if prefix is None:
            prefix = self._build_prefix(job.query.catalog, reserve=cells)
            if prefix is None:
                return False
            metrics.PREFIX_CACHE.labels("miss").inc()
        assert prefix.data is not None
        cells = len(query_tokens) + prefix.data.answer_cells
        return self._start(job, prefix, prefix.data.products, cells, prefix.n_tokens, query_tokens)

    # -- the entries layout ----------------------------------------------------------------------
    def _prepare_entries(self, job: _Job) -> bool:
        """Look up the request's entries, evaluate the missing ones, reserve, start the decoder."""
        assert self._kv is not None
        catalog = job.query.catalog
        if len(set(catalog)) > self.entry_slots:
            raise InputTooLarge(f"the catalog has {len(set(catalog))} entries; this engine caches {self.entry_slots}")
        header = self._header_prefix()
        if header is None:
            return False
        products = build_product_trie(self.tokenize, catalog)
        query_tokens = self._user_cue + self._query_tokens(job.query.text)
        cells = len(query_tokens) + products.height + 8 + ANSWER_MARGIN
        found: dict[str, Prefix[_Catalog | None]] = {}
        missing: list[tuple[str, list[int]]] = []
        unique = tuple(dict.fromkeys(catalog))  # the API refuses duplicates; other callers may not
        for entry in unique:  # hits first: they become the most recently used, safe from eviction below
            prefix = self._kv.lookup((entry,))
            if prefix is not None:
                found[entry] = prefix
            else:
                missing.append((entry, self.tokenize(entry_piece(entry))))
        n_tokens = len(self._header_tokens) + sum(p.n_tokens for p in found.values()) + sum(len(t) for _, t in missing)
        if n_tokens > self.max_catalog_tokens:
            raise InputTooLarge(f"the catalog is {n_tokens} tokens for this model; the limit is {self.max_catalog_tokens}")
        hits, restored = len(found), 0
        if missing:
            built = self._build_entries(header, missing, reserve=cells)
            if built is None:
                return False
            found.update(built[0])
            restored = built[1]
        prefixes = tuple(found[entry] for entry in unique)
        if any(p.evicted for p in prefixes):  # only when one catalog outgrows the cache bound
            raise InputTooLarge("the catalog's entries do not fit the entry cache; raise cache_mb")
        pos = header.n_tokens + max(p.n_tokens for p in prefixes)  # every entry starts right after the header
        if not self._start(job, (header, *prefixes), products, cells, pos, query_tokens):
            return False  # retried later; the entries it evaluated are cached by then
        metrics.ENTRY_CACHE.labels("hit").inc(hits)
        metrics.ENTRY_CACHE.labels("stored").inc(restored)
        metrics.ENTRY_CACHE.labels("miss").inc(len(missing) - restored)
        return True

    def _header_prefix(self) -> Prefix[_Catalog | None] | None:
        """The pinned header every entry follows, evaluated on first use (and after a reset)."""
        assert self._kv is not None and self._context is not None
        if self._header is not None and not self._header.evicted:
            return self._header
        tokens = self._header_tokens
        slot = self._kv.reserve_prefix(HEADER_KEY, len(tokens))
        if slot is None:
            return None
        self._evaluate([slot], [(tok, i, (slot.seq,), False) for i, tok in enumerate(tokens)], "the catalog header")
        self._header = self._kv.commit_prefix(slot, None)
        self._kv.pin(self._header)
        return self._header

    def _build_entries(self, header: Prefix[_Catalog | None], missing: list[tuple[str, list[int]]],
                       reserve: int) -> tuple[dict[str, Prefix[_Catalog | None]], int] | None:
        """Bring the missing entries into cache sequences of their own: read back from the entry store
        where it has them, else evaluated after a copy of the header, all at the positions right after
        it, in as few model calls as the batch allows (and then stored). Returns the prefixes and how
        many came from the store; None while in-flight requests hold the cells (nothing is kept: the
        request retries)."""
        assert self._kv is not None and self._context is not None
        store = self._store
        slots: list[PrefixSlot] = []
        evaluate: list[tuple[PrefixSlot, list[int]]] = []
        try:
            for entry, tokens in missing:
                slot = self._kv.reserve_prefix((entry,), len(tokens), reserve)
                if slot is None:
                    for taken in slots:
                        self._kv.abandon_prefix(taken)
                    return None
                slots.append(slot)
                stored = store.get(entry) if store is not None else None
                if stored is not None and stored[0] == len(tokens) and self._context.set_seq_state(slot.seq, stored[1]):
                    continue
                if stored is not None and store is not None:  # refused, or another tokenization: evaluate it
                    store.discard(entry)
                self._context.seq_cp(header.seq, slot.seq)
                evaluate.append((slot, tokens))
        except BaseException:
            for taken in slots:
                self._kv.abandon_prefix(taken)
            raise
        if evaluate:
            rows: list[Entry] = [(tok, header.n_tokens + i, (slot.seq,), False)
                                 for slot, tokens in evaluate for i, tok in enumerate(tokens)]
            self._evaluate(slots, rows, "catalog entries")
            for slot, _ in evaluate:
                # The entry has attended to the header; from now on its sequence holds its own cells only
                # (a request copies the header itself), which is also what the store keeps.
                self._context.seq_rm(slot.seq, 0, header.n_tokens)
                if store is not None:
                    store.put(slot.key[0], slot.n_tokens, self._context.seq_state(slot.seq))
            if store is not None:
                metrics.ENTRY_STORE_BYTES.set(store.bytes)
        built = {slot.key[0]: self._kv.commit_prefix(slot, None) for slot in slots}
        return built, len(slots) - len(evaluate)

    def _build_prefix(self, catalog: tuple[str, ...], reserve: int) -> Prefix[_Catalog | None] | None:
        """Evaluate a catalog into a cache sequence; None while in-flight requests hold the cells."""
        assert self._kv is not None and self._context is not None
        tokens = self.tokenize(catalog_prefix(list(catalog)), add_bos=True)
        if len(tokens) > self.max_catalog_tokens:
            raise InputTooLarge(
                f"the catalog is {len(tokens)} tokens for this model; the limit is {self.max_catalog_tokens}"
            )
        products = build_product_trie(self.tokenize, catalog)
        answer_cells = products.height + 8 + ANSWER_MARGIN
        slot = self._kv.reserve_prefix(catalog, len(tokens), reserve)  # LRU eviction makes room
        if slot is None:
            return None  # in-flight requests hold the cells; retry once they finish
        self._evaluate([slot], [(tok, i, (slot.seq,), False) for i, tok in enumerate(tokens)], "a catalog")
        return self._kv.commit_prefix(slot, _Catalog(products, answer_cells))

    def _evaluate(self, slots: list[PrefixSlot], rows: list[Entry], what: str) -> None:
        """Evaluate prompt tokens into the slots' cache sequences (no logits), in as few model calls
        as the batch allows; on any failure give every slot and its cells back, and re-raise."""
        assert self._kv is not None and self._context is not None
        try:
            for start in range(0, len(rows), self.batch_tokens):
                status = self._context.decode(rows[start : start + self.batch_tokens])
                if status != 0:
                    raise BackendError(f"llama_decode returned {status} while evaluating {what}")
        except BaseException:
            for slot in slots:
                self._kv.abandon_prefix(slot)
            raise
        metrics.PROMPT_TOKENS.labels("catalog").inc(len(rows))

    def _step(self) -> None:
        """One model call over every active request's pending tokens (plus drafts, see ``drafting``)."""
        assert self._context is not None
        entries: list[Entry] = []
        plans: list[_Plan] = []
        budget, rows = self.batch_tokens, self.logits_rows
        for index, job in enumerate(self._active):
            if budget <= 0 or rows <= 0:
                break
            assert job.lease is not None and job.decoder is not None
            seqs = job.lease.seqs  # both lanes while DRAFTING: the text goes to each
            take = job.feed[:budget]
            last = len(take) == len(job.feed)
            for i, tok in enumerate(take):
                entries.append((tok, job.pos + i, seqs, last and i == len(take) - 1))
            job.pos += len(take)
            job.feed = job.feed[len(take) :]
            budget -= len(take)
            if not last:
                continue
            base_row = len(entries) - 1
            rows -= 1
            lanes: list[Lane] = []
            if job.state is JobState.DRAFTING:
                guesses = drafting.guess_tokens(self.tokenize, job.query.text, self.max_quantity)
                # the requests after this one keep a row each for their own decision
                spare = rows - (len(self._active) - index - 1)
                lanes = drafting.plan_lanes(job.decoder, seqs, guesses, job.pos, entries, budget, spare)
            budget -= sum(len(lane.tokens) for lane in lanes)
            rows -= sum(len(lane.rows) for lane in lanes)
            plans.append(_Plan(job, base_row, job.pos, lanes))
        status = self._context.decode(entries)
        if status != 0:
            raise BackendError(f"llama_decode returned {status}")
        metrics.PROMPT_TOKENS.labels("query").inc(len(entries))
        metrics.BATCH_SIZE.observe(len(plans))
        for plan in plans:
            self._advance(plan)

    def _advance(self, plan: _Plan) -> None:
        """Make the request's due decision (and verify its draft); finish it or queue its next tokens."""
        assert self._kv is not None and self._context is not None
        job, lanes = plan.job, plan.lanes
        decoder, lease = job.decoder, job.lease
        assert decoder is not None and lease is not None
        decoder.choose(self._context.logits(plan.base_row))
        lane = drafting.followed_lane(decoder, lanes)
        if job.state is JobState.DRAFTING:  # the first step is over: keep one sequence
            self._kv.keep_lane(lease, lane.seq if lane is not None else lease.seq)
        job.state = JobState.DECODING
        accepted = drafting.verify(decoder, lane, self._context.logits) if lane is not None else 0
        if lanes:  # drop drafted cells past the accepted ones
            self._kv.truncate(lease, plan.pos_after + accepted)
        job.pos = plan.pos_after + accepted
        if decoder.done:
            self._finish(job)
        else:  # the decoder's chosen and forced tokens go into the next call
            job.feed, decoder.pending = decoder.pending, []

    def _finish(self, job: _Job) -> None:
        assert self._kv is not None and job.lease is not None
        assert job.decoder is not None and job.decoder.answer is not None
        answer = job.decoder.answer
        self._kv.release(job.lease)
        self._active.remove(job)
        job.state = JobState.DONE
        self._finished_cost += job.cost
        confidence = self.calibrator(answer.confidence) if self.calibrator else answer.confidence
        if not job.future.done():
            job.future.set_result(Result(answer.intent, answer.product, answer.quantity, confidence))

    def _fail_all(self, error: Exception) -> None:
        for job in [*self._active, *self._deferred]:
            job.state = JobState.FAILED
            if not job.future.done():
                job.future.set_exception(error)
        self._active.clear()
        self._deferred.clear()
        if self._context is not None and self._kv is not None:
            self._kv.reset()  # start clean: drop every sequence and the prefix cache
