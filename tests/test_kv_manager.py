"""The KV/sequence manager without a model: a fake memory stands in for llama.cpp's KV cache."""

from __future__ import annotations

import subprocess
import sys
from itertools import count

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from app.backends.kv_manager import KVManager, Lease, Prefix


class FakeMemory:
    """Cells shared between sequences, like llama.cpp's unified KV cache: a cell lives while some
    sequence holds it, and one sequence may hold several cells at one position (independently
    encoded entries all start right after the header). ``write`` stands in for a decode."""

    def __init__(self) -> None:
        self.seqs: dict[int, dict[int, int]] = {}  # seq -> cell -> position
        self.holders: dict[int, set[int]] = {}  # cell -> sequences
        self._cells = count()
        self.calls: list[tuple[object, ...]] = []

    def write(self, seq: int | tuple[int, ...], start: int, n: int) -> None:
        """Positions [start, start+n) of one or more sequences (a batch row with several ids: shared
        cells). Like llama.cpp, a sequence's new tokens must follow its last position."""
        seqs = (seq,) if isinstance(seq, int) else seq
        for s in seqs:
            last = max(self.seqs.get(s, {}).values(), default=-1)
            assert n == 0 or start == last + 1, f"sequence {s} ends at {last}; a write at {start} is not next"
        for pos in range(start, start + n):
            cell = next(self._cells)
            for s in seqs:
                self.seqs.setdefault(s, {})[cell] = pos
            self.holders[cell] = set(seqs)

    def seq_cp(self, src: int, dst: int) -> None:
        self.calls.append(("cp", src, dst))
        assert self.seqs.get(src), f"copy from empty sequence {src}"
        for cell, pos in self.seqs[src].items():
            self.seqs.setdefault(dst, {})[cell] = pos
            self.holders[cell].add(dst)

    def seq_rm(self, seq: int, p0: int = -1, p1: int = -1) -> None:
        self.calls.append(("rm", seq, p0, p1))
        lo, hi = (p0 if p0 >= 0 else 0), (p1 if p1 >= 0 else 1 << 62)
        cells = self.seqs.get(seq, {})
        for cell in [c for c, pos in cells.items() if lo <= pos < hi]:
            del cells[cell]
            self.holders[cell].discard(seq)
            if not self.holders[cell]:
                del self.holders[cell]

    def clear(self) -> None:
        self.calls.append(("clear",))
        self.seqs.clear()
        self.holders.clear()

    @property
    def used(self) -> int:
        return len(self.holders)

    def length(self, seq: int) -> int:
        return len(self.seqs.get(seq, {}))

    def end(self, seq: int) -> int:
        """The position after the sequence's last cell."""
        return max(self.seqs.get(seq, {}).values(), default=-1) + 1


def make(cache_slots: int = 4, work_seqs: int = 4, n_ctx: int = 100, cache_tokens: int = 40
         ) -> tuple[KVManager[str], FakeMemory]:
    memory = FakeMemory()
    return KVManager(memory, cache_slots=cache_slots, work_seqs=work_seqs, n_ctx=n_ctx,
                     cache_tokens=cache_tokens), memory


def build(kv: KVManager[str], memory: FakeMemory, key: str, n: int, reserve: int = 0) -> Prefix[str]:
    slot = kv.reserve_prefix((key,), n, reserve)
    assert slot is not None
    memory.write(slot.seq, 0, n)
    return kv.commit_prefix(slot, key)


def keys(kv: KVManager[str]) -> list[str]:
    return [key[0] for key in kv.prefixes]


def test_eviction_is_least_recently_used_first() -> None:
    kv, memory = make(cache_tokens=30)
    a, b, _ = (build(kv, memory, k, 10) for k in "abc")
    assert keys(kv) == ["a", "b", "c"] and kv.cached_tokens == 30 and kv.cells_used == 30
    build(kv, memory, "d", 10)  # 40 > 30: the oldest goes
    assert keys(kv) == ["b", "c", "d"] and a.evicted and not b.evicted
    assert ("rm", a.seq, -1, -1) in memory.calls  # its cells went with it
    assert kv.cells_used == 30 and memory.used == 30
    kv.check()


def test_a_hit_reuses_the_prefix_and_makes_it_most_recent() -> None:
    kv, memory = make(cache_tokens=30)
    a = build(kv, memory, "a", 10)
    build(kv, memory, "b", 10)
    build(kv, memory, "c", 10)
    writes = len(memory.calls)
    assert kv.lookup(("a",)) is a and keys(kv) == ["b", "c", "a"]
    assert len(memory.calls) == writes  # a hit touches no memory
    assert kv.lookup(("zz",)) is None
    build(kv, memory, "d", 10)  # evicts "b", now the oldest, not "a"
    assert keys(kv) == ["c", "a", "d"] and not a.evicted
    assert kv.is_cached(("a",)) and not kv.is_cached(("b",))
    kv.check()


def test_a_request_that_does_not_fit_the_cells_is_refused_and_nothing_leaks() -> None:
    kv, memory = make(n_ctx=50, work_seqs=3)
    prefix = build(kv, memory, "a", 20)
    before = (kv.cells_used, kv.free_work_seqs, prefix.users, len(memory.calls))
    assert kv.reserve(prefix, 31) is None
    assert (kv.cells_used, kv.free_work_seqs, prefix.users, len(memory.calls)) == before
    lease = kv.reserve(prefix, 30)
    assert lease is not None and kv.cells_used == 50
    assert kv.reserve(prefix, 1) is None and kv.free_work_seqs == 2
    kv.release(lease)
    assert kv.cells_used == 20 and kv.free_work_seqs == 3 and prefix.users == 0
    kv.check()


def test_a_prefix_that_does_not_fit_the_cells_is_refused_without_a_slot() -> None:
    kv, memory = make(n_ctx=60, cache_tokens=40)
    prefix = build(kv, memory, "a", 20)
    lease = kv.reserve(prefix, 30)
    assert lease is not None
    free = kv.free_cache_slots
    assert kv.reserve_prefix(("b",), 5, reserve=6) is None  # 50 + 5 + 6 > 60
    assert kv.free_cache_slots == free and kv.cells_used == 50
    slot = kv.reserve_prefix(("b",), 5, reserve=5)
    assert slot is not None and kv.cells_used == 55
    kv.abandon_prefix(slot)  # the evaluation failed: slot and cells come back
    assert kv.free_cache_slots == free and kv.cells_used == 50 and not kv.is_cached(("b",))
    kv.check()


def test_an_evicted_prefix_keeps_its_cells_until_its_last_user_releases() -> None:
    kv, memory = make(cache_tokens=20, n_ctx=100)
    a = build(kv, memory, "a", 20)
    first, second = kv.reserve(a, 5), kv.reserve(a, 5)
    assert first is not None and second is not None and a.users == 2
    memory.write(first.seq, 20, 3)
    build(kv, memory, "b", 20)  # evicts "a" while two requests use it
    assert a.evicted and keys(kv) == ["b"]
    assert kv.cells_used == 20 + 20 + 5 + 5  # "a" still counted: its users hold its cells
    assert memory.used == 20 + 20 + 3
    with pytest.raises(ValueError, match="not cached"):
        kv.reserve(a, 5)  # an evicted prefix takes no new request
    kv.check()
    kv.release(first)
    assert kv.cells_used == 20 + 20 + 5 and memory.used == 40
    kv.check()
    kv.release(second)
    assert kv.cells_used == 20 and memory.used == 20  # only now do its cells go
    kv.check()


def test_sequence_ids_run_out_and_are_never_handed_out_twice() -> None:
    kv, memory = make(cache_slots=2, work_seqs=3, cache_tokens=1000, n_ctx=10_000)
    prefix = build(kv, memory, "a", 4)
    drafted = kv.reserve(prefix, 1, lanes=2)
    assert drafted is not None
    assert kv.reserve(prefix, 1, lanes=2) is None  # one work sequence left
    single = kv.reserve(prefix, 1)
    assert single is not None and kv.free_work_seqs == 0
    assert kv.reserve(prefix, 1) is None
    assert len({*drafted.seqs, single.seq}) == 3
    kv.keep_lane(drafted, drafted.seqs[1])
    again = kv.reserve(prefix, 1)
    assert again is not None and again.seq not in (*drafted.seqs, single.seq)
    # Two cache slots: a third prefix evicts the oldest although the token budget has room.
    build(kv, memory, "b", 4)
    build(kv, memory, "c", 4)
    assert keys(kv) == ["b", "c"] and prefix.evicted and kv.free_cache_slots == 0
    kv.check()
    with pytest.raises(ValueError):
        kv.keep_lane(drafted, 999)
    kv.release(single)
    with pytest.raises(ValueError, match="released already"):
        kv.release(single)


def test_truncate_drops_only_the_draft() -> None:
    kv, memory = make()
    prefix = build(kv, memory, "a", 10)
    lease = kv.reserve(prefix, 20, lanes=2)
    assert lease is not None
    main, alt = lease.seqs
    memory.write(main, 10, 6)
    memory.write(alt, 10, 4)
    kv.keep_lane(lease, main)
    assert memory.length(alt) == 0 and kv.free_work_seqs == 3
    kv.truncate(lease, 12)
    assert memory.length(main) == 12 and memory.length(prefix.seq) == 10
    kv.check()


def test_reset_after_a_failure_returns_every_id_and_cell() -> None:
    kv, memory = make(cache_slots=3, work_seqs=4)
    a = build(kv, memory, "a", 10)
    leases = [kv.reserve(a, 5, lanes=2), kv.reserve(a, 5)]
    slot = kv.reserve_prefix(("b",), 10)
    assert slot is not None and all(leases)
    kv.reset()
    assert memory.calls[-1] == ("clear",) and memory.used == 0
    assert kv.cells_used == 0 and kv.cached_tokens == 0 and not kv.prefixes and kv.leases == 0
    assert kv.free_cache_slots == 3 and kv.free_work_seqs == 4
    kv.check()
    for lease in leases:  # handles from before the reset are stale
        assert lease is not None
        with pytest.raises(ValueError, match="stale"):
            kv.release(lease)
    with pytest.raises(ValueError, match="stale"):
        kv.commit_prefix(slot, "b")
    b = build(kv, memory, "a", 10)  # the same key again, fresh
    assert b is not a and kv.cells_used == 10
    kv.check()


def test_ids_are_handed_out_in_the_engines_historical_order() -> None:
    """Stacks: the last cache slot and the last work sequence first, a freed id next."""
    kv, memory = make(cache_slots=4, work_seqs=3)
    a = build(kv, memory, "a", 5)
    lease = kv.reserve(a, 1, lanes=2)
    assert lease is not None
    assert a.seq == 3 and lease.seqs == (6, 5)
    kv.keep_lane(lease, 5)
    again = kv.reserve(a, 1)
    assert again is not None and again.seq == 6


def test_contract_misuse_is_refused() -> None:
    kv, memory = make(cache_tokens=40)
    build(kv, memory, "a", 10)
    with pytest.raises(ValueError, match="already"):
        kv.reserve_prefix(("a",), 10)
    with pytest.raises(ValueError, match="does not fit"):
        kv.reserve_prefix(("big",), 41)
    with pytest.raises(ValueError):
        KVManager(memory, cache_slots=0, work_seqs=1, n_ctx=1, cache_tokens=1)


def test_the_manager_does_not_import_llama_cpp() -> None:
    code = "import sys, app.backends.kv_manager; sys.exit('llama_cpp' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


KEYS = [(k,) for k in "abcdef"]


class KVMachine(RuleBasedStateMachine):
    """Random sequences of engine operations; the invariants hold after every step."""

    def __init__(self) -> None:
        super().__init__()
        self.memory = FakeMemory()
        self.kv: KVManager[str] = KVManager(self.memory, cache_slots=3, work_seqs=4, n_ctx=120, cache_tokens=50)
        self.leases: list[tuple[Lease[str], int]] = []  # lease, its next position

    @rule(key=st.sampled_from(KEYS), n=st.integers(1, 30), reserve=st.integers(0, 40), fail=st.booleans())
    def build_prefix(self, key: tuple[str, ...], n: int, reserve: int, fail: bool) -> None:
        if self.kv.is_cached(key):
            return
        free_before = (self.kv.cells_used, self.kv.free_work_seqs)
        slot = self.kv.reserve_prefix(key, n, reserve)
        if slot is None:
            assert self.kv.cells_used + n + reserve > self.kv.n_ctx
            assert self.kv.free_work_seqs == free_before[1]
            return
        self.memory.write(slot.seq, 0, n)
        if fail:
            self.kv.abandon_prefix(slot)
            assert self.memory.length(slot.seq) == 0 and not self.kv.is_cached(key)
        else:
            self.kv.commit_prefix(slot, key[0])
            assert list(self.kv.prefixes)[-1] == key

    @rule(key=st.sampled_from(KEYS), cells=st.integers(0, 40), lanes=st.integers(1, 2))
    def admit(self, key: tuple[str, ...], cells: int, lanes: int) -> None:
        prefix = self.kv.lookup(key)
        if prefix is None:
            return
        assert list(self.kv.prefixes)[-1] == key  # a hit is the most recent
        before = (self.kv.cells_used, self.kv.free_work_seqs, prefix.users)
        lease = self.kv.reserve(prefix, cells, lanes)
        if lease is None:
            assert self.kv.cells_used + cells > self.kv.n_ctx or self.kv.free_work_seqs < lanes
            assert (self.kv.cells_used, self.kv.free_work_seqs, prefix.users) == before
            return
        assert all(self.memory.length(seq) == prefix.n_tokens for seq in lease.seqs)
        self.leases.append((lease, prefix.n_tokens))

    @precondition(lambda self: self.leases)
    @rule(data=st.data())
    def decode(self, data: st.DataObject) -> None:
        """Write some of a lease's reserved cells, as the engine's steps do."""
        i = data.draw(st.integers(0, len(self.leases) - 1))
        lease, pos = self.leases[i]
        room = lease.prefixes[0].n_tokens + lease.cells - pos
        n = data.draw(st.integers(0, max(room, 0)))
        self.memory.write(lease.seqs, pos, n)  # the text goes to both lanes of a drafted request
        self.leases[i] = (lease, pos + n)

    @precondition(lambda self: any(len(lease.seqs) == 2 for lease, _ in self.leases))
    @rule(data=st.data())
    def first_step_over(self, data: st.DataObject) -> None:
        drafted = [i for i, (lease, _) in enumerate(self.leases) if len(lease.seqs) == 2]
        i = data.draw(st.sampled_from(drafted))
        lease, pos = self.leases[i]
        self.kv.keep_lane(lease, data.draw(st.sampled_from(lease.seqs)))
        back = data.draw(st.integers(lease.prefixes[0].n_tokens, pos))
        self.kv.truncate(lease, back)
        assert self.memory.length(lease.seq) == back
        self.leases[i] = (lease, back)

    @precondition(lambda self: self.leases)
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        lease, _ = self.leases.pop(data.draw(st.integers(0, len(self.leases) - 1)))
        self.kv.release(lease)
        assert all(self.memory.length(seq) == 0 for seq in lease.seqs)

    @rule()
    def fail_and_reset(self) -> None:
        self.kv.reset()
        self.leases.clear()
        assert self.kv.cells_used == 0 and self.memory.used == 0
        assert self.kv.free_cache_slots == 3 and self.kv.free_work_seqs == 4

    @invariant()
    def invariants_hold(self) -> None:
        self.kv.check()
        # The accounting bounds the real cells, and only sequences someone holds have cells.
        assert self.memory.used <= self.kv.cells_used
        held = {p.seq for p in self.kv.prefixes.values()} | {s for lease, _ in self.leases for s in lease.seqs}
        assert {seq for seq, cells in self.memory.seqs.items() if cells} <= held


TestKVMachine = KVMachine.TestCase
TestKVMachine.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)


# -- independently encoded entries: a pinned header, entries after it, leases on several prefixes --
HEADER = ("\nheader",)
ENTRIES = [(k,) for k in "abcdefgh"]
H = 3  # header tokens


class EntriesMachine(RuleBasedStateMachine):
    """The entries layout's operations in random order: build the header (pinned) and entries after
    copies of it, admit requests on the header plus several entries, decode, release, reset."""

    def __init__(self) -> None:
        super().__init__()
        self.memory = FakeMemory()
        self.kv: KVManager[str] = KVManager(self.memory, cache_slots=5, work_seqs=3, n_ctx=90, cache_tokens=20)
        self.header: Prefix[str] | None = None
        self.leases: list[Lease[str]] = []

    @rule()
    def build_header(self) -> None:
        if self.header is not None and not self.header.evicted:
            return
        slot = self.kv.reserve_prefix(HEADER, H)
        if slot is None:
            return
        self.memory.write(slot.seq, 0, H)
        self.header = self.kv.commit_prefix(slot, "header")
        self.kv.pin(self.header)
        assert not self.kv.is_cached(HEADER) and self.kv.cached_tokens <= self.kv.cache_tokens

    @precondition(lambda self: self.header is not None and not self.header.evicted)
    @rule(keys=st.lists(st.sampled_from(ENTRIES), min_size=1, max_size=4, unique=True),
          sizes=st.lists(st.integers(1, 6), min_size=4, max_size=4), reserve=st.integers(0, 20),
          fail=st.booleans())
    def build_entries(self, keys: list[tuple[str, ...]], sizes: list[int], reserve: int, fail: bool) -> None:
        """Reserve every missing entry first, then evaluate them together, as the engine does."""
        assert self.header is not None
        slots = []
        for key, n in zip(keys, sizes, strict=False):
            if self.kv.is_cached(key):
                continue
            slot = self.kv.reserve_prefix(key, n, reserve)
            if slot is None:
                for taken in slots:
                    self.kv.abandon_prefix(taken)
                return
            self.memory.seq_cp(self.header.seq, slot.seq)
            slots.append(slot)
        for slot in slots:
            self.memory.write(slot.seq, H, slot.n_tokens)
        for slot in slots:
            if fail:
                self.kv.abandon_prefix(slot)
            else:
                self.kv.commit_prefix(slot, slot.key[0])

    @precondition(lambda self: self.header is not None and not self.header.evicted)
    @rule(keys=st.lists(st.sampled_from(ENTRIES), min_size=1, max_size=4, unique=True),
          cells=st.integers(0, 20), lanes=st.integers(1, 2))
    def admit(self, keys: list[tuple[str, ...]], cells: int, lanes: int) -> None:
        assert self.header is not None
        found = [self.kv.lookup(key) for key in keys]
        entries = tuple(p for p in found if p is not None)
        if not entries:
            return
        before = (self.kv.cells_used, self.kv.free_work_seqs, [p.users for p in entries])
        lease = self.kv.reserve((self.header, *entries), cells, lanes)
        if lease is None:
            assert (self.kv.cells_used, self.kv.free_work_seqs, [p.users for p in entries]) == before
            return
        own = H + sum(p.n_tokens for p in entries)
        assert all(self.memory.length(seq) == own for seq in lease.seqs)
        assert all(self.memory.end(seq) == H + max(p.n_tokens for p in entries) for seq in lease.seqs)
        self.memory.write(lease.seqs, self.memory.end(lease.seq), cells)  # the text after the widest entry
        self.leases.append(lease)

    @precondition(lambda self: self.leases)
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        lease = self.leases.pop(data.draw(st.integers(0, len(self.leases) - 1)))
        self.kv.release(lease)
        assert all(self.memory.length(seq) == 0 for seq in lease.seqs)

    @rule()
    def fail_and_reset(self) -> None:
        self.kv.reset()
        self.leases.clear()
        assert self.header is None or self.header.evicted
        assert self.kv.cells_used == 0 and self.memory.used == 0

    @invariant()
    def invariants_hold(self) -> None:
        self.kv.check()
        assert self.memory.used <= self.kv.cells_used
        if self.header is not None and not self.header.evicted:
            assert self.memory.length(self.header.seq) == H  # entries never write into the header


TestEntriesMachine = EntriesMachine.TestCase
TestEntriesMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)


def test_a_lease_shares_every_prefix_and_frees_each_with_its_last_user() -> None:
    kv, memory = make(cache_slots=4, work_seqs=2, n_ctx=60, cache_tokens=12)
    header = build(kv, memory, "header", 3)
    kv.pin(header)
    assert kv.cached_tokens == 0 and not kv.is_cached(("header",))  # outside the LRU bound
    entries = []
    for key, n in (("a", 4), ("b", 5)):
        slot = kv.reserve_prefix((key,), n)
        assert slot is not None
        memory.seq_cp(header.seq, slot.seq)
        memory.write(slot.seq, 3, n)
        entries.append(kv.commit_prefix(slot, key))
    lease = kv.reserve((header, *entries), 10)
    assert lease is not None and memory.length(lease.seq) == 3 + 4 + 5 and memory.end(lease.seq) == 3 + 5
    with pytest.raises(ValueError):
        kv.reserve((header, entries[0], entries[0]), 1)  # each prefix once
    # A third entry that needs the room of both: "a" (oldest) is evicted while the lease holds it.
    slot = kv.reserve_prefix(("c",), 7)
    assert slot is not None and entries[0].evicted and not entries[1].evicted
    kv.check()
    kv.abandon_prefix(slot)
    kv.release(lease)
    kv.check()
    assert kv.cells_used == 3 + 5 and memory.used == 3 + 5  # the header and "b"; "a" went with its lease
    kv.reset()
    assert header.evicted and kv.cells_used == 0


def test_prefixes_being_evaluated_count_toward_the_cache_bound() -> None:
    kv, _memory = make(cache_slots=4, work_seqs=2, n_ctx=100, cache_tokens=10)
    first = kv.reserve_prefix(("a",), 6)
    assert first is not None
    assert kv.reserve_prefix(("b",), 6) is None  # 6 + 6 > 10 with nothing to evict
    second = kv.reserve_prefix(("b",), 4)
    assert second is not None
    kv.check()
