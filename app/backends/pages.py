"""Give back the resident pages of a tied embedding that llama.cpp keeps twice.

For Gemma's tied 262k-row embedding stored at Q4_0, llama.cpp repacks a copy for the LM head
(the "CPU_REPACK" buffer, as large as the tensor) and keeps the memory-mapped original for the
input row lookups. Repacking reads the whole mapped tensor once, so all of it stays resident
although a request then touches only the rows of its own tokens. ``madvise(MADV_DONTNEED)`` drops
those file-backed pages from the process (they stay in the page cache); the rows in use fault
back in on demand. The log line says how much was released.
"""

from __future__ import annotations

import ctypes
import logging
import mmap
from pathlib import Path

import llama_cpp

log = logging.getLogger("shopintent.pages")

GGML_TYPE_Q4_0 = 2  # ggml.h; the type llama.cpp's CPU backend repacks for the LM head
MADV_DONTNEED = 4  # linux/mman.h


class _GGUFInitParams(ctypes.Structure):
    _fields_ = [("no_alloc", ctypes.c_bool), ("ctx", ctypes.c_void_p)]


def _ggml() -> ctypes.CDLL:
    lib = ctypes.CDLL(str(Path(llama_cpp.__file__).parent / "lib" / "libggml-base.so"))
    lib.gguf_init_from_file.restype = ctypes.c_void_p
    lib.gguf_init_from_file.argtypes = [ctypes.c_char_p, _GGUFInitParams]
    lib.gguf_find_tensor.restype = ctypes.c_int64
    lib.gguf_find_tensor.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    for name in ("gguf_get_tensor_offset", "gguf_get_tensor_size"):
        getattr(lib, name).restype = ctypes.c_size_t
        getattr(lib, name).argtypes = [ctypes.c_void_p, ctypes.c_int64]
    lib.gguf_get_data_offset.restype = ctypes.c_size_t
    lib.gguf_get_data_offset.argtypes = [ctypes.c_void_p]
    lib.gguf_get_tensor_type.restype = ctypes.c_int
    lib.gguf_get_tensor_type.argtypes = [ctypes.c_void_p, ctypes.c_int64]
    lib.gguf_free.argtypes = [ctypes.c_void_p]
    return lib


def tied_embedding_range(model_path: Path) -> tuple[int, int] | None:
    """(file offset, bytes) of ``token_embd.weight`` when it doubles as a repacked Q4_0 LM head."""
    lib = _ggml()
    ctx = lib.gguf_init_from_file(str(model_path).encode(), _GGUFInitParams(True, None))
    if not ctx:
        return None
    try:
        embd = lib.gguf_find_tensor(ctx, b"token_embd.weight")
        if embd < 0 or lib.gguf_find_tensor(ctx, b"output.weight") >= 0:
            return None  # no embedding, or an untied LM head: nothing is held twice
        if lib.gguf_get_tensor_type(ctx, embd) != GGML_TYPE_Q4_0:
            return None
        offset = lib.gguf_get_data_offset(ctx) + lib.gguf_get_tensor_offset(ctx, embd)
        return int(offset), int(lib.gguf_get_tensor_size(ctx, embd))
    finally:
        lib.gguf_free(ctx)


def release_tied_embedding(model_path: Path) -> int:
    """Drop the resident pages of the mapped tied embedding; returns the bytes advised away."""
    found = tied_embedding_range(model_path)
    if found is None:
        return 0
    offset, size = found
    target = str(model_path.resolve())
    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    released = 0
    for line in Path("/proc/self/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) < 6 or fields[5] != target:
            continue
        start, end = (int(x, 16) for x in fields[0].split("-"))
        map_offset = int(fields[2], 16)
        lo = max(start, start + offset - map_offset)
        hi = min(end, start + offset + size - map_offset)
        lo = -(-lo // mmap.PAGESIZE) * mmap.PAGESIZE  # whole pages inside the tensor only
        hi = hi // mmap.PAGESIZE * mmap.PAGESIZE
        if hi > lo and libc.madvise(lo, hi - lo, MADV_DONTNEED) == 0:
            released += hi - lo
    log.info("released the mapped copy of the tied embedding", extra={"mb": round(released / 2**20)})
    return released
