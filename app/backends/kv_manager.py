"""KV cells and sequence ids of one llama.cpp context: pure bookkeeping, no model in sight.

The engine decodes every request on llama.cpp sequences that share one unified KV buffer of
``n_ctx`` cells. This module decides which sequence ids are free, which prefixes stay cached, and
whether a request's cells fit; it touches the model's memory only through the three calls of
``Memory`` (the engine passes its ``LlamaContext``; tests pass a fake).

A prefix is any cached run of tokens a request builds on: a whole catalog (causal layout), or one
catalog entry, or the header every entry follows (independent entries, ``app.prompt``). Sequence
ids ``0 .. cache_slots-1`` hold prefixes; ``cache_slots .. cache_slots+work_seqs-1`` are work
sequences for requests. A request's lease copies its prefixes' sequences into one work sequence
(two while its first step is drafted, see ``drafting``): ``seq_cp`` shares the cells, nothing is
copied, so a cached prefix costs its tokens once however many requests use it.

Lifecycles (the engine is single-threaded; so is this class):

* prefix: ``reserve_prefix`` (evicts LRU prefixes to make room, claims a cache slot and the
  prefix's cells) -> the engine evaluates the tokens into ``slot.seq`` -> ``commit_prefix`` (now
  cached, most recently used) or ``abandon_prefix`` (the evaluation failed: slot and cells back).
  ``lookup`` finds a cached prefix and makes it the most recently used.
* pinned prefix (the entries' header): ``pin`` after ``commit_prefix`` takes it out of the LRU;
  it is never evicted, and its cells count until ``reset``.
* request: ``reserve`` (cells for its text and answer, 1 or 2 work sequences, one more user of
  each of its prefixes) -> ``keep_lane`` (after a drafted first step: one sequence stays) -> ``truncate``
  (roll back drafted cells) -> ``release``.
* ``reset`` after a model failure: the memory is cleared and everything is free again.

Invariants (``check`` asserts them; the unit tests call it after every step):

1. ``cells_used == sum(lease.cells for live leases) + sum(tokens of prefixes that are cached,
   pinned, being evaluated, or evicted but still used)``, and ``cells_used <= n_ctx``. A lease's cells
   are a reservation (its text plus the longest answer), not a count of what it wrote.
2. A prefix evicted while in use keeps its cells until its last user releases: its request
   sequences still hold those cells, only the cache's sequence id was given back.
3. The cached and the building prefixes together total at most ``cache_tokens`` tokens (the LRU
   bound; a pinned one is outside it) and hold at most ``cache_slots`` slots; eviction is least
   recently used first (a hit counts as a use).
4. Sequence ids are never handed out twice: every id is in exactly one place (free, a cached or
   building prefix, a live lease), and a freed id has had its cells removed (``seq_rm``) first.
5. ``prefix.users`` is the number of live leases that hold it; an evicted prefix takes no new lease.
6. A refused ``reserve`` or ``reserve_prefix`` (``None``: retry once others release) changes no
   cells and no ids. ``reserve_prefix`` may have evicted prefixes before refusing (as the engine
   always did: the room is needed either way).
7. After ``reset()`` every id is free, no cells are used, the LRU is empty, and handles from
   before (leases, slots) are stale: releasing or committing one raises ``ValueError``.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

T = TypeVar("T")
Key = tuple[str, ...]  # a catalog


class Memory(Protocol):
    """The model's KV memory, as far as this module needs it (llama_memory_* in llama.h)."""

    def seq_cp(self, src: int, dst: int) -> None:
        """Make ``dst`` share all of ``src``'s cells."""

    def seq_rm(self, seq: int, p0: int = -1, p1: int = -1) -> None:
        """Drop ``seq`` from its cells at positions [p0, p1) (negative: open-ended)."""

    def clear(self) -> None:
        """Drop every sequence and cell."""


@dataclass(eq=False)
class Prefix(Generic[T]):
    """A catalog prefix evaluated into cache sequence ``seq``; ``data`` is the engine's (products)."""

    key: Key
    seq: int
    n_tokens: int
    data: T
    users: int = 0
    evicted: bool = False
    pinned: bool = False


@dataclass(eq=False)
class PrefixSlot:
    """A cache sequence claimed for a prefix being evaluated (its cells are already counted)."""

    key: Key
    seq: int
    n_tokens: int
    generation: int


@dataclass(eq=False)
class Lease(Generic[T]):
    """A request's reservation: ``cells`` KV cells and its work sequences (the first is the main one),
    sharing the cells of ``prefixes``."""

    prefixes: tuple[Prefix[T], ...]
    cells: int
    seqs: tuple[int, ...]
    generation: int
    released: bool = False

    @property
    def seq(self) -> int:
        return self.seqs[0]


class KVManager(Generic[T]):
    def __init__(self, memory: Memory, *, cache_slots: int, work_seqs: int, n_ctx: int, cache_tokens: int) -> None:
        if cache_slots < 1 or work_seqs < 1 or n_ctx < 1 or cache_tokens < 1:
            raise ValueError("cache_slots, work_seqs, n_ctx and cache_tokens must be positive")
        self.memory = memory
        self.cache_slots = cache_slots
        self.work_seqs = work_seqs
        self.n_ctx = n_ctx
        self.cache_tokens = cache_tokens
        # The LRU, oldest first. Read (``in``) by other threads for admission pricing: only the
        # owner thread mutates it, and a dict membership test is atomic under the GIL.
        self.prefixes: OrderedDict[Key, Prefix[T]] = OrderedDict()
        self._generation = 0
        self._init_state()

    def _init_state(self) -> None:
        self.prefixes.clear()
        # Lists used as stacks (pop from the end): the same ids in the same order as the engine
        # has always handed them out.
        self._free_cache = list(range(self.cache_slots))
        self._free_work = list(range(self.cache_slots, self.cache_slots + self.work_seqs))
        self._building: dict[int, PrefixSlot] = {}  # seq -> slot
        self._leases: set[Lease[T]] = set()
        self._cells = 0
        self._cached_tokens = 0
        self._building_tokens = 0
        self._pinned: list[Prefix[T]] = []

    # -- state --------------------------------------------------------------------------------
    @property
    def cells_used(self) -> int:
        return self._cells

    @property
    def cached_tokens(self) -> int:
        return self._cached_tokens

    @property
    def free_cache_slots(self) -> int:
        return len(self._free_cache)

    @property
    def free_work_seqs(self) -> int:
        return len(self._free_work)

    @property
    def leases(self) -> int:
        return len(self._leases)

    # -- prefixes -----------------------------------------------------------------------------
    def is_cached(self, key: Key) -> bool:
        return key in self.prefixes

    def lookup(self, key: Key) -> Prefix[T] | None:
        """The cached prefix for ``key`` (now the most recently used), or None."""
        prefix = self.prefixes.get(key)
        if prefix is not None:
            self.prefixes.move_to_end(key)
        return prefix

    def reserve_prefix(self, key: Key, n_tokens: int, reserve: int = 0) -> PrefixSlot | None:
        """Claim a cache slot and ``n_tokens`` cells for a new prefix, evicting the least recently
        used prefixes until it fits ``cache_tokens`` and a slot is free. None when the cells
        (``n_tokens`` plus ``reserve`` more for the request that wants it) are held by leases."""
        if key in self.prefixes or any(slot.key == key for slot in self._building.values()):
            raise ValueError("this prefix is already cached or being evaluated")
        if not 0 < n_tokens <= self.cache_tokens:
            raise ValueError(f"a prefix of {n_tokens} tokens does not fit a cache of {self.cache_tokens}")
        while self.prefixes and (self._cached_tokens + self._building_tokens + n_tokens > self.cache_tokens
                                 or not self._free_cache):
            self._evict_oldest()
        if self._cached_tokens + self._building_tokens + n_tokens > self.cache_tokens:
            return None  # prefixes being evaluated fill the cache: retry once they are committed
        if self._cells + n_tokens + reserve > self.n_ctx or not self._free_cache:
            return None  # leases hold the cells (or every slot is being evaluated): retry later
        slot = PrefixSlot(key, self._free_cache.pop(), n_tokens, self._generation)
        self._building[slot.seq] = slot
        self._cells += n_tokens
        self._building_tokens += n_tokens
        return slot

    def commit_prefix(self, slot: PrefixSlot, data: T) -> Prefix[T]:
        """The slot's tokens are evaluated: cache the prefix as the most recently used."""
        self._take_slot(slot)
        prefix = Prefix(slot.key, slot.seq, slot.n_tokens, data)
        self.prefixes[slot.key] = prefix
        self._cached_tokens += slot.n_tokens
        return prefix

    def abandon_prefix(self, slot: PrefixSlot) -> None:
        """The evaluation failed: drop what it wrote and give back the slot and its cells."""
        self._take_slot(slot)
        self.memory.seq_rm(slot.seq, -1, -1)
        self._free_cache.append(slot.seq)
        self._cells -= slot.n_tokens

    def _take_slot(self, slot: PrefixSlot) -> None:
        if slot.generation != self._generation or self._building.get(slot.seq) is not slot:
            raise ValueError("this prefix slot is not being evaluated (stale after reset, or done)")
        del self._building[slot.seq]
        self._building_tokens -= slot.n_tokens

    def pin(self, prefix: Prefix[T]) -> None:
        """Take a cached prefix out of the LRU for good (until ``reset``): it is never evicted."""
        if prefix.evicted or self.prefixes.get(prefix.key) is not prefix:
            raise ValueError("pin a prefix that is cached")
        del self.prefixes[prefix.key]
        self._cached_tokens -= prefix.n_tokens
        prefix.pinned = True
        self._pinned.append(prefix)

    def _evict_oldest(self) -> None:
        _, prefix = self.prefixes.popitem(last=False)
        self._cached_tokens -= prefix.n_tokens
        self.memory.seq_rm(prefix.seq, -1, -1)
        self._free_cache.append(prefix.seq)
        prefix.evicted = True
        if prefix.users == 0:
            self._cells -= prefix.n_tokens
        # else its users' sequences still hold the cells: the last release frees them

    # -- requests -----------------------------------------------------------------------------
    def reserve(self, prefixes: Prefix[T] | tuple[Prefix[T], ...], cells: int, lanes: int = 1) -> Lease[T] | None:
        """``cells`` more cells and ``lanes`` work sequences, each sharing the cells of every prefix
        (one, or a tuple: the header and a catalog's entries). None (nothing changed) when either
        does not fit."""
        held = prefixes if isinstance(prefixes, tuple) else (prefixes,)
        if not held or len({id(p) for p in held}) != len(held):
            raise ValueError("a lease needs at least one prefix, each once")
        for prefix in held:
            live = self._pinned if prefix.pinned else [self.prefixes.get(prefix.key)]
            if prefix.evicted or not any(p is prefix for p in live):
                raise ValueError("reserve on a prefix that is not cached")
        if cells < 0 or lanes < 1:
            raise ValueError("a lease needs cells >= 0 and at least one lane")
        if self._cells + cells > self.n_ctx or len(self._free_work) < lanes:
            return None
        seqs = []
        for _ in range(lanes):
            seq = self._free_work.pop()
            for prefix in held:
                self.memory.seq_cp(prefix.seq, seq)
            seqs.append(seq)
        for prefix in held:
            prefix.users += 1
        self._cells += cells
        lease = Lease(held, cells, tuple(seqs), self._generation)
        self._leases.add(lease)
        return lease

    def keep_lane(self, lease: Lease[T], seq: int) -> None:
        """Keep only ``seq`` of the lease's sequences (the lane whose draft the model followed)."""
        self._check_live(lease)
        if seq not in lease.seqs:
            raise ValueError(f"sequence {seq} is not one of this lease's {lease.seqs}")
        for drop in lease.seqs:
            if drop != seq:
                self.memory.seq_rm(drop, -1, -1)
                self._free_work.append(drop)
        lease.seqs = (seq,)

    def truncate(self, lease: Lease[T], pos: int) -> None:
        """Drop the main sequence's cells from position ``pos`` on (rejected draft tokens). The
        reservation stays: it was sized for the whole answer."""
        self._check_live(lease)
        self.memory.seq_rm(lease.seq, pos, -1)

    def release(self, lease: Lease[T]) -> None:
        self._check_live(lease)
        for seq in lease.seqs:
            self.memory.seq_rm(seq, -1, -1)
            self._free_work.append(seq)
        lease.released = True
        self._leases.discard(lease)
        self._cells -= lease.cells
        for prefix in lease.prefixes:
            prefix.users -= 1
            if prefix.evicted and prefix.users == 0:
                self._cells -= prefix.n_tokens

    def _check_live(self, lease: Lease[T]) -> None:
        if lease.released or lease.generation != self._generation or lease not in self._leases:
            raise ValueError("this lease was released already, or is stale after reset")

    # -- failure --------------------------------------------------------------------------------
    def reset(self) -> None:
        """After a model failure: clear the memory; every id is free and no cell is used."""
        self.memory.clear()
        self._generation += 1
        for lease in self._leases:
            lease.released = True
        for prefix in [*self.prefixes.values(), *self._pinned]:
            prefix.evicted = True
        self._init_state()

    def check(self) -> None:
        """Assert the invariants of the module docstring (raises AssertionError)."""
        problems: list[str] = []
        used_prefixes = {id(p): p for lease in self._leases for p in lease.prefixes}
        cached = list(self.prefixes.values())
        held = ({id(p): p for p in cached + self._pinned}
                | {id(p): p for p in used_prefixes.values() if p.evicted})
        expected = (
            sum(lease.cells for lease in self._leases)
            + sum(p.n_tokens for p in held.values())
            + sum(slot.n_tokens for slot in self._building.values())
        )
        if self._cells != expected:
            problems.append(f"cells_used {self._cells} != reserved {expected}")
        if self._cells > self.n_ctx:
            problems.append(f"cells_used {self._cells} > n_ctx {self.n_ctx}")
        if self._cached_tokens != sum(p.n_tokens for p in cached):
            problems.append("cached_tokens out of step with the LRU")
        if self._building_tokens != sum(slot.n_tokens for slot in self._building.values()):
            problems.append("building_tokens out of step with the slots being evaluated")
        if self._cached_tokens + self._building_tokens > self.cache_tokens:
            problems.append(f"cached {self._cached_tokens} + building {self._building_tokens} tokens"
                            f" > cache_tokens {self.cache_tokens}")
        if any(p.evicted or not p.pinned for p in self._pinned) or any(p.pinned for p in cached):
            problems.append("a pinned prefix is evicted, or in the LRU")
        if any(p.evicted or self.prefixes.get(p.key) is not p for p in cached):
            problems.append("the LRU holds an evicted prefix or under the wrong key")
        cache_ids = self._free_cache + [p.seq for p in cached + self._pinned] + list(self._building)
        if sorted(cache_ids) != list(range(self.cache_slots)):
            problems.append(f"cache ids are not each in one place: {sorted(cache_ids)}")
        work_ids = self._free_work + [seq for lease in self._leases for seq in lease.seqs]
        if sorted(work_ids) != list(range(self.cache_slots, self.cache_slots + self.work_seqs)):
            problems.append(f"work ids are not each in one place: {sorted(work_ids)}")
        for prefix in ({id(p): p for p in cached + self._pinned} | used_prefixes).values():
            users = sum(any(p is prefix for p in lease.prefixes) for lease in self._leases)
            if prefix.users != users:
                problems.append(f"prefix {prefix.key[:2]} counts {prefix.users} users; {users} leases hold it")
        if problems:
            raise AssertionError("; ".join(problems))
