"""The on-disk entry store (``app.backends.entry_store``), without a model: bounds, recency, restarts,
damaged files, other models' states."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.backends.entry_store import MARKER, EntryStore, fingerprint


def state(n: int, fill: int = 1) -> bytes:
    return bytes([fill]) * n


def test_a_state_reads_back_as_written(tmp_path: Path) -> None:
    store = EntryStore(tmp_path, "m1", 10**6)
    store.put("Mlijeko (1 l)", 8, state(1000, 7))
    assert "Mlijeko (1 l)" in store and "Kruh" not in store
    assert store.get("Mlijeko (1 l)") == (8, state(1000, 7))
    assert store.get("Kruh") is None
    store.put("Mlijeko (1 l)", 9, state(10, 3))  # replaced, counted once
    assert store.get("Mlijeko (1 l)") == (9, state(10, 3)) and len(store) == 1
    assert store.bytes == sum(p.stat().st_size for p in store.dir.glob("*.kv"))


def test_the_bound_evicts_the_least_recently_used(tmp_path: Path) -> None:
    store = EntryStore(tmp_path, "m1", 3 * 1100)
    for name in ("a", "b", "c"):
        store.put(name, 1, state(1000))
    assert store.get("a") is not None  # a is now the most recent
    store.put("d", 1, state(1000))
    assert "b" not in store and {"a", "c", "d"} <= {n for n in "abcd" if n in store}
    assert store.bytes <= store.max_bytes
    assert len(list(store.dir.glob("*.kv"))) == 3
    store.put("huge", 1, state(10_000))  # larger than the whole bound: not stored, nothing evicted
    assert "huge" not in store and len(store) == 3


def test_a_restart_finds_the_states_and_their_recency(tmp_path: Path) -> None:
    import os
    import time

    store = EntryStore(tmp_path, "m1", 10**6)
    for i, name in enumerate(("old", "new")):
        store.put(name, 2, state(500, i))
        path = store._path(name)
        os.utime(path, ns=(time.time_ns() - (10 - i) * 10**9,) * 2)  # "old" written first
    again = EntryStore(tmp_path, "m1", 800)  # room for one file of ~520 bytes: the newer stays
    assert "new" in again and "old" not in again
    assert again.get("new") == (2, state(500, 1))


def test_damaged_and_colliding_files_are_misses(tmp_path: Path) -> None:
    store = EntryStore(tmp_path, "m1", 10**6)
    store.put("Apples", 3, state(100))
    store.put("Pears", 3, state(100))
    store._path("Apples").write_bytes(b"garbage")
    assert store.get("Apples") is None and "Apples" not in store and not store._path("Apples").exists()
    # A file holding another entry under this entry's name (a hash collision) is never served as it.
    store._path("Pears").write_bytes(store._path("Pears").read_bytes().replace(b"Pears", b"Peach"))
    assert store.get("Pears") is None
    (store.dir / "x.tmp").write_bytes(b"torn write")
    (store.dir / "y.kv").write_bytes(b"not ours")
    restarted = EntryStore(tmp_path, "m1", 10**6)
    assert len(restarted) == 0 and not list(restarted.dir.glob("*.tmp")) and not list(restarted.dir.glob("*.kv"))


def test_another_models_states_are_removed_and_foreign_directories_kept(tmp_path: Path) -> None:
    old = EntryStore(tmp_path, fingerprint("model-a"), 10**6)
    old.put("Apples", 3, state(100))
    (tmp_path / "notes").mkdir()  # not a store directory: never touched
    new = EntryStore(tmp_path, fingerprint("model-b"), 10**6)
    assert not old.dir.exists() and (tmp_path / "notes").is_dir()
    assert (new.dir / MARKER).is_file() and "Apples" not in new
    assert fingerprint("model-a") != fingerprint("model-b") and fingerprint("x") == fingerprint("x")


def test_a_bound_below_one_byte_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        EntryStore(tmp_path, "m1", 0)
