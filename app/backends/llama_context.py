"""A thin wrapper over llama.cpp's C API (llama-cpp-python's ctypes bindings): every ctypes call
the CPU engine makes lives here.

``LlamaModel``: the GGUF weights, the vocabulary and an optional LoRA adapter; tokenization, a
measurement of KV bytes per token, and contexts. ``LlamaContext``: one context and its batch;
``decode`` takes ``Entry`` rows (token, position, sequences, wants logits) and returns llama.cpp's
status, ``logits(row)`` reads a row, and ``seq_cp``/``seq_rm``/``clear`` are the memory calls
``kv_manager.Memory`` names. Neither is thread-safe: one thread owns a context.
"""

from __future__ import annotations

import ctypes
import logging
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np

from app.backends.base import ModelLoadError
from app.backends.pages import release_tied_embedding

log = logging.getLogger("shopintent.llamacpp")

FLASH_ATTN = llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED
KV_TYPE = llama_cpp.GGML_TYPE_Q8_0
SEQS_PER_TOKEN = 2  # a batch row feeds at most two sequences (a request and its draft lane)

# One batch row: token id, position, the sequences it is fed to, whether its logits are wanted.
Entry = tuple[int, int, tuple[int, ...], bool]


@llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
def _llama_log(level: int, text: bytes, _user_data: Any) -> None:
    # llama.cpp logs every tensor at load: errors are warnings for us, warnings only debug.
    if level in (3, 4):  # GGML_LOG_LEVEL_WARN, GGML_LOG_LEVEL_ERROR (ggml.h numbering)
        message = text.decode("utf-8", errors="replace").strip()
        if message:
            log.log(logging.WARNING if level == 4 else logging.DEBUG, "llama.cpp: %s", message)


def llama_cpp_version() -> str:
    return str(llama_cpp.__version__)


def check_gguf(path: Path) -> None:
    if not path.is_file():
        raise ModelLoadError(f"model file {path} does not exist")
    with path.open("rb") as f:
        magic = f.read(4)
    if magic != b"GGUF":
        raise ModelLoadError(f"{path} is not a GGUF file (magic {magic!r})")


class LlamaModel:
    """Weights, vocabulary and adapter, on CPU. ``load`` it, ``close`` it once."""

    def __init__(self, model: Any, adapter: Any, *, threads: int, batch_tokens: int) -> None:
        self._model = model
        self._adapter = adapter
        self._vocab = llama_cpp.llama_model_get_vocab(model)
        self.n_vocab: int = llama_cpp.llama_vocab_n_tokens(self._vocab)
        self.threads = threads
        self.batch_tokens = batch_tokens

    @classmethod
    def load(cls, model_path: Path, lora_path: Path | None, *, threads: int, batch_tokens: int) -> LlamaModel:
        check_gguf(model_path)
        if lora_path is not None:
            check_gguf(lora_path)
        llama_cpp.llama_log_set(_llama_log, ctypes.c_void_p(0))
        llama_cpp.llama_backend_init()
        mparams = llama_cpp.llama_model_default_params()
        mparams.n_gpu_layers = 0
        model = llama_cpp.llama_model_load_from_file(str(model_path).encode(), mparams)
        if not model:
            raise ModelLoadError(f"llama.cpp could not load {model_path} (truncated or unsupported?)")
        release_tied_embedding(model_path)  # its repacked copy serves the LM head
        adapter = None
        if lora_path is not None:
            adapter = llama_cpp.llama_adapter_lora_init(model, str(lora_path).encode())
            if not adapter:
                llama_cpp.llama_model_free(model)
                raise ModelLoadError(f"llama.cpp could not load the LoRA adapter {lora_path}")
        try:
            return cls(model, adapter, threads=threads, batch_tokens=batch_tokens)
        except BaseException:
            if adapter:
                llama_cpp.llama_adapter_lora_free(adapter)
            llama_cpp.llama_model_free(model)
            raise

    def close(self) -> None:
        if self._adapter:
            llama_cpp.llama_adapter_lora_free(self._adapter)
            self._adapter = None
        if self._model:
            llama_cpp.llama_model_free(self._model)
            self._model = None

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

    def new_context(self, n_ctx: int, n_seq: int, n_outputs: int) -> LlamaContext:
        """A context of ``n_ctx`` KV cells for ``n_seq`` sequences, with a batch of ``batch_tokens`` that
        may ask for logits at up to ``n_outputs`` rows."""
        ctx = self._init_context(n_ctx, n_seq, n_outputs)
        try:
            return LlamaContext(ctx, self.batch_tokens, self.n_vocab)
        except BaseException:
            llama_cpp.llama_free(ctx)
            raise

    def kv_bytes_per_token(self) -> int:
        """KV bytes per cached token, measured on a throwaway context (layouts differ by model)."""
        probe = self._init_context(256, 1, 1)
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

    def _init_context(self, n_ctx: int, n_seq: int, n_outputs: int) -> Any:
        cparams = llama_cpp.llama_context_default_params()
        cparams.n_ctx = n_ctx
        cparams.n_batch = self.batch_tokens
        cparams.n_ubatch = self.batch_tokens
        cparams.n_seq_max = n_seq
        # llama.cpp keeps n_outputs_max logits rows of n_vocab floats (1 MB each on Gemma) in the output
        # and in the compute buffer: the default (n_batch rows) would cost 256 MB each. Stock llama.cpp
        # also insists on n_seq_max rows; the sdist patch caps that at n_outputs_max.
        cparams.n_outputs_max = n_outputs
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
                llama_cpp.llama_free(ctx)
                raise ModelLoadError("llama.cpp could not apply the LoRA adapter")
        return ctx


class LlamaContext:
    """One llama.cpp context and its batch. ``close`` it before its model."""

    def __init__(self, ctx: Any, batch_tokens: int, n_vocab: int) -> None:
        self._ctx = ctx
        self._memory = llama_cpp.llama_get_memory(ctx)  # owned by the context, lives as long
        self.batch_tokens = batch_tokens
        self.n_vocab = n_vocab
        self._batch = llama_cpp.llama_batch_init(batch_tokens, 0, SEQS_PER_TOKEN)

    def close(self) -> None:
        if self._ctx:
            llama_cpp.llama_batch_free(self._batch)
            llama_cpp.llama_free(self._ctx)
            self._ctx = None

    # -- the model call -----------------------------------------------------------------------
    def decode(self, entries: list[Entry]) -> int:
        """One model call over ``entries``; llama_decode's status (0: done). Logits rows are the
        entries' indexes (those that asked for logits)."""
        if len(entries) > self.batch_tokens:
            raise ValueError(f"{len(entries)} batch rows; the batch holds {self.batch_tokens}")
        b = self._batch
        for i, (token, pos, seqs, logits) in enumerate(entries):
            if len(seqs) > SEQS_PER_TOKEN:
                raise ValueError(f"a batch row feeds at most {SEQS_PER_TOKEN} sequences")
            b.token[i] = token
            b.pos[i] = pos
            b.n_seq_id[i] = len(seqs)
            for k, seq in enumerate(seqs):
                b.seq_id[i][k] = seq
            b.logits[i] = logits
        b.n_tokens = len(entries)
        status: int = llama_cpp.llama_decode(self._ctx, b)
        return status

    def logits(self, row: int) -> Any:
        """The logits of batch row ``row`` of the last decode (a view: read it before the next one)."""
        return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(self._ctx, row), shape=(self.n_vocab,))

    # -- memory (kv_manager.Memory) -----------------------------------------------------------
    def seq_cp(self, src: int, dst: int) -> None:
        llama_cpp.llama_memory_seq_cp(self._memory, src, dst, -1, -1)

    def seq_rm(self, seq: int, p0: int = -1, p1: int = -1) -> None:
        llama_cpp.llama_memory_seq_rm(self._memory, seq, p0, p1)

    def clear(self) -> None:
        llama_cpp.llama_memory_clear(self._memory, True)

    # -- sequence states (entry_store) --------------------------------------------------------
    def seq_state(self, seq: int) -> bytes:
        """The cells of ``seq`` (positions, keys and values of every layer), as llama.cpp serializes them."""
        size = llama_cpp.llama_state_seq_get_size(self._ctx, seq)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(self._ctx, buffer, size, seq)
        return bytes(memoryview(buffer)[:written])

    def set_seq_state(self, seq: int, state: bytes) -> bool:
        """Write a state from ``seq_state`` into ``seq`` (in free cells, at its saved positions). False if
        llama.cpp refused it (another model's, or no free cells); ``seq`` is then empty."""
        buffer = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
        if llama_cpp.llama_state_seq_set_data(self._ctx, buffer, len(state), seq) != len(state):
            self.seq_rm(seq)
            return False
        return True
