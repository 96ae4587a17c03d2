"""The entry store: the KV state of every catalog entry ever evaluated, on disk, bounded in MB.

The engine's entry cache (``kv_manager``) keeps about 1,000 entries in llama.cpp's KV memory; that
bound is set by RAM (64 MB of 8-bit KV) and by llama.cpp's sequence count. A shop has thousands of
products, so on traffic where carts do not repeat a RAM-only cache misses about 4 entries in 10
(docs/results.md), and each miss is a forward pass (~35 ms per entry on 2 cores). An entry's state
does not depend on the catalog it was first seen in (every entry sits at the same positions right
after the header: ``app.prompt``), so it can be kept for good: this store writes the state of each
entry once it is evaluated (``llama_state_seq_get_data``, ~80-110 KB for an entry of 8-11 tokens) and
the engine reads it back into a free cache sequence (``llama_state_seq_set_data``, ~0.2 ms) the next
time the entry is missing from RAM. Files are read with ``read()``, not mapped, so the store adds
nothing to the service's RSS; the kernel's page cache keeps the popular ones hot.

Layout: ``<root>/<fingerprint>/<sha256 of the entry>.kv``. The fingerprint names everything a state
depends on (model and adapter files, the header's tokens, the KV type, llama.cpp's version, this
format), so a different model never reads another's states; on start the store deletes the
directories of other fingerprints (earlier models), since only one model serves from a root.
A file is ``MAGIC``, the token count (uint32), the entry's UTF-8 length (uint32) and text, then the
state; the text is compared on read, so a hash collision is a miss, not a wrong entry. Writes go to
a temporary name and are renamed into place, so a crash leaves no torn file.

Bound: ``max_bytes``; the least recently used files are deleted past it (a read counts as a use).
At start the index is rebuilt from the directory, oldest modification first. A file that cannot be
read or whose state llama.cpp refuses is deleted and counted as a miss.

Threads: the engine's owner thread calls every method except ``__contains__``, which admission
pricing calls on request threads (a dict membership test, atomic under the GIL).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import struct
from collections import OrderedDict
from pathlib import Path

log = logging.getLogger("shopintent.entry_store")

MAGIC = b"SIKV1\n"  # bump with any change of the file layout or of what a state means
MARKER = "ENTRY_STORE"  # names a fingerprint directory as ours (only those are ever deleted)
_HEAD = struct.Struct("<II")  # tokens, text bytes


def fingerprint(*parts: object) -> str:
    """A short stable name for everything a cached state depends on."""
    return hashlib.sha256("\x1f".join(map(str, (MAGIC.decode().strip(), *parts))).encode()).hexdigest()[:20]


def file_identity(path: Path | None) -> str:
    """A file's name, size and modification time (cheap: model files are hundreds of MB)."""
    if path is None:
        return "-"
    stat = path.stat()
    return f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}"


class EntryStore:
    """Entry text -> (token count, llama.cpp sequence state), on disk, LRU-bounded by ``max_bytes``."""

    def __init__(self, root: Path, fingerprint: str, max_bytes: int) -> None:
        if max_bytes < 1:
            raise ValueError("an entry store needs max_bytes >= 1")
        self.root = root
        self.dir = root / fingerprint
        self.max_bytes = max_bytes
        self._index: OrderedDict[str, int] = OrderedDict()  # entry -> file size, least recent first
        self.bytes = 0
        self._open()

    # -- start ---------------------------------------------------------------------------------
    def _open(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / MARKER).touch()
        for other in self.root.iterdir():  # states of earlier models can never be read again
            if other != self.dir and (other / MARKER).is_file():
                shutil.rmtree(other, ignore_errors=True)
                log.info("entry store: removed the states of another model", extra={"path": str(other)})
        files = []
        for path in self.dir.glob("*.kv"):
            try:
                files.append((path.stat().st_mtime_ns, path))
            except FileNotFoundError:
                continue
        for _, path in sorted(files):
            entry = self._read_text(path)
            if entry is None or self._path(entry) != path:
                path.unlink(missing_ok=True)
                continue
            size = path.stat().st_size
            self._index[entry] = size
            self.bytes += size
        for stale in self.dir.glob("*.tmp"):
            stale.unlink(missing_ok=True)
        self._evict()

    # -- lookups ---------------------------------------------------------------------------------
    def __contains__(self, entry: object) -> bool:
        return entry in self._index

    def __len__(self) -> int:
        return len(self._index)

    def get(self, entry: str) -> tuple[int, bytes] | None:
        """(tokens, state) of a stored entry, now the most recently used; None if not stored or unreadable."""
        if entry not in self._index:
            return None
        path = self._path(entry)
        try:
            data = path.read_bytes()
            n_tokens, state = self._parse(data, entry)
        except (OSError, ValueError) as error:
            log.warning("entry store: dropped an unreadable state", extra={"path": str(path), "error": str(error)})
            self.discard(entry)
            return None
        self._index.move_to_end(entry)
        with contextlib.suppress(OSError):
            os.utime(path)  # recency survives a restart (the index is rebuilt by modification time)
        return n_tokens, state

    def put(self, entry: str, n_tokens: int, state: bytes) -> None:
        """Store an entry's state (replacing any), then evict the least recently used past the bound."""
        text = entry.encode("utf-8")
        data = MAGIC + _HEAD.pack(n_tokens, len(text)) + text + state
        if len(data) > self.max_bytes:
            return  # never fits: storing it would evict everything else
        path = self._path(entry)
        tmp = path.with_suffix(".tmp")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError as error:  # a full disk costs speed, never an answer
            tmp.unlink(missing_ok=True)
            log.warning("entry store: could not write a state", extra={"error": str(error)})
            return
        self.bytes += len(data) - self._index.pop(entry, 0)
        self._index[entry] = len(data)
        self._evict()

    def discard(self, entry: str) -> None:
        """Forget an entry (its state was refused or unreadable)."""
        size = self._index.pop(entry, None)
        if size is not None:
            self.bytes -= size
        self._path(entry).unlink(missing_ok=True)

    # -- internals -------------------------------------------------------------------------------
    def _evict(self) -> None:
        while self.bytes > self.max_bytes and self._index:
            entry, size = self._index.popitem(last=False)
            self.bytes -= size
            self._path(entry).unlink(missing_ok=True)

    def _path(self, entry: str) -> Path:
        return self.dir / (hashlib.sha256(entry.encode("utf-8")).hexdigest() + ".kv")

    @staticmethod
    def _parse(data: bytes, entry: str) -> tuple[int, bytes]:
        if not data.startswith(MAGIC) or len(data) < len(MAGIC) + _HEAD.size:
            raise ValueError("not an entry state of this format")
        n_tokens, n_text = _HEAD.unpack_from(data, len(MAGIC))
        start = len(MAGIC) + _HEAD.size
        if data[start : start + n_text].decode("utf-8", errors="replace") != entry:
            raise ValueError("the file holds another entry (hash collision)")
        state = data[start + n_text :]
        if n_tokens < 1 or not state:
            raise ValueError("an empty state")
        return n_tokens, state

    @staticmethod
    def _read_text(path: Path) -> str | None:
        try:
            with path.open("rb") as f:
                head = f.read(len(MAGIC) + _HEAD.size)
                if not head.startswith(MAGIC) or len(head) < len(MAGIC) + _HEAD.size:
                    return None
                _, n_text = _HEAD.unpack_from(head, len(MAGIC))
                return f.read(n_text).decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return None
