"""The engine with independently encoded catalog entries (``catalog_layout="entries"``), on the real
packaged model: valid answers, order-free and cache-free results, the entry cache's accounting."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from app.backends.base import Query, check_result
from app.backends.engine import engine_config
from app.backends.llamacpp import LlamaCppBackend
from app.core import metrics
from app.core.config import Settings
from tests.test_llamacpp_backend import random_catalog, random_text
from training.data.products import PRODUCTS


@pytest.fixture(scope="module")
def entries_backend(served_model, tmp_path_factory) -> Iterator[LlamaCppBackend]:  # type: ignore[no-untyped-def]
    # No entry store: these tests probe the KV cache's own misses and evictions.
    config = engine_config(Settings(model_path=served_model.model_path, catalog_layout="entries", threads=2,
                                    queue_size=1024, warmup=False, entry_slots=64, cache_mb=4, entry_store_mb=0))
    backend = LlamaCppBackend(config)
    backend.start()
    yield backend
    backend.close()


def answer(result) -> tuple[object, ...]:  # type: ignore[no-untyped-def]
    return result.intent, result.product, result.quantity


def test_every_output_obeys_the_contract(entries_backend: LlamaCppBackend) -> None:
    rng = random.Random(99)
    queries = []
    for _ in range(120):
        catalog = random_catalog(rng)
        queries.append(Query(random_text(rng, catalog)[:2000], catalog))
    for query, result in zip(queries, entries_backend.classify_sync(queries, timeout_s=600), strict=True):
        assert check_result(result, query.catalog, entries_backend.max_quantity), (query, result)
    assert entries_backend._kv is not None
    entries_backend._kv.check()  # idle now: only the header and cached entries hold cells


def test_the_order_of_the_catalog_and_the_cache_change_no_answer(entries_backend: LlamaCppBackend) -> None:
    """Each entry sees only the header and itself: a permuted catalog is the same prompt, and an entry
    cached by another catalog is the same state as one evaluated now."""
    rng = random.Random(3)
    catalogs = [tuple(p.name for p in rng.sample(PRODUCTS, 12)) for _ in range(6)]
    queries = [Query(f"add {rng.randint(1, 5)} {c[rng.randrange(12)].lower()}", c) for c in catalogs]
    first = entries_backend.classify_sync(queries, timeout_s=300)  # entries evaluated now (cold)
    shuffled = [Query(q.text, tuple(rng.sample(q.catalog, len(q.catalog)))) for q in queries]
    again = entries_backend.classify_sync(shuffled, timeout_s=300)  # every entry cached (warm)
    for a, b in zip(first, again, strict=True):
        assert answer(a) == answer(b)
        assert abs(a.confidence - b.confidence) < 2e-3


def test_a_new_catalog_of_known_entries_evaluates_only_its_new_entry(entries_backend: LlamaCppBackend) -> None:
    seen = ("Bananas", "Apples", "Oat Milk", "Butter")
    entries_backend.classify_sync([Query("add 2 bananas", seen)])
    hits, misses = (metrics.ENTRY_CACHE.labels(r)._value.get() for r in ("hit", "miss"))
    fresh = ("Butter", "Bananas", "Oat Milk", "Garlic Press 9000")  # a catalog never seen, one new entry
    cost_before = entries_backend.cost(Query("add 2 bananas", fresh))
    entries_backend.classify_sync([Query("add 2 bananas", fresh)])
    assert metrics.ENTRY_CACHE.labels("miss")._value.get() == misses + 1
    assert metrics.ENTRY_CACHE.labels("hit")._value.get() == hits + 3
    assert entries_backend.cost(Query("add 2 bananas", fresh)) < cost_before  # admission prices real work
    assert metrics.CACHE_SLOTS._value.get() == 64  # the bound, exported (set when this engine started)
    assert metrics.CACHE_BOUND_BYTES._value.get() >= entries_backend.cache_tokens * entries_backend.bytes_per_token


def test_churn_past_the_entry_cache_keeps_answers(entries_backend: LlamaCppBackend) -> None:
    """More entries than the cache holds over time (64 here): eviction, re-evaluation, same answers."""
    rng = random.Random(8)
    reference = entries_backend.classify_sync([Query("add 3 bananas", ("Bananas", "Apples"))])[0]
    names = [p.name for p in PRODUCTS]
    for _ in range(3):
        catalog = tuple(rng.sample(names, 60))
        result = entries_backend.classify_sync([Query("remove one " + catalog[7].lower(), catalog)], timeout_s=300)[0]
        assert check_result(result, catalog, entries_backend.max_quantity)
    again = entries_backend.classify_sync([Query("add 3 bananas", ("Bananas", "Apples"))])[0]
    assert answer(again) == answer(reference) and abs(again.confidence - reference.confidence) < 2e-3
    assert entries_backend._kv is not None
    entries_backend._kv.check()


def test_a_catalog_larger_than_the_entry_cache_is_refused(entries_backend: LlamaCppBackend) -> None:
    from app.backends.base import InputTooLarge

    catalog = tuple(f"Item {i}" for i in range(65))
    with pytest.raises(InputTooLarge):
        entries_backend.classify_sync([Query("add item 3", catalog)])


def test_a_layout_the_model_was_not_trained_for_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from app.artifacts import DEFAULT_MANIFEST

    manifest = json.loads(DEFAULT_MANIFEST.read_text())
    manifest["catalog_layouts"] = ["causal"]
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    for name in ("adapter.gguf",):
        (tmp_path / name).symlink_to((DEFAULT_MANIFEST.parent / name).resolve())
    with pytest.raises(ValueError, match="trained for causal only"):
        engine_config(Settings(model_manifest=path, catalog_layout="entries"))


def test_the_entry_cache_holds_more_entries_than_stock_llama_cpp_has_sequences(served_model) -> None:  # type: ignore[no-untyped-def]
    """Our llama.cpp build has 1024 sequences (stock: 256, and n_seq_max logits rows of 1 MB each): 400
    entries stay cached together and answer as when first evaluated; logits rows follow the batch."""
    from app.backends.engine import logits_rows

    config = engine_config(Settings(model_path=served_model.model_path, catalog_layout="entries", threads=2,
                                    warmup=False, entry_slots=900, cache_mb=24, entry_store_mb=0))
    backend = LlamaCppBackend(config)
    backend.start()
    try:
        assert backend.n_seq > 900 and backend.logits_rows == logits_rows(config) < 64
        catalogs = [tuple(f"{p.name} ({size})" for size in ("S", "M")
                          for p in PRODUCTS[k * 100:(k + 1) * 100]) for k in (0, 1)]  # 2 x 200 distinct entries
        queries = [Query(f"add 2 {c[5].lower()}", c) for c in catalogs]
        first = backend.classify_sync(queries, timeout_s=600)
        hits = metrics.ENTRY_CACHE.labels("hit")._value.get()
        again = backend.classify_sync(queries, timeout_s=600)
        assert metrics.ENTRY_CACHE.labels("hit")._value.get() == hits + 400  # all 400 still cached
        for a, b in zip(first, again, strict=True):
            assert answer(a) == answer(b) and abs(a.confidence - b.confidence) < 2e-3
        assert backend._kv is not None
        backend._kv.check()
    finally:
        backend.close()


def test_a_restarted_engine_reads_its_entries_back_from_the_store(served_model, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Entries evaluated once are written to the entry store; an engine started later (or one whose KV
    cache evicted them) reads them back instead of evaluating them: no model call for the catalog,
    the same answers and confidences, and admission prices them as cached."""
    rng = random.Random(12)
    catalogs = [tuple(p.name for p in rng.sample(PRODUCTS, 10)) for _ in range(4)]
    queries = [Query(f"add {rng.randint(1, 5)} {c[rng.randrange(10)].lower()}", c) for c in catalogs]

    def engine() -> LlamaCppBackend:
        backend = LlamaCppBackend(engine_config(Settings(
            model_path=served_model.model_path, catalog_layout="entries", threads=2, warmup=False,
            entry_slots=64, cache_mb=4, entry_store_dir=tmp_path, entry_store_mb=64)))
        backend.start()
        return backend

    def counts() -> dict[str, float]:
        return {r: metrics.ENTRY_CACHE.labels(r)._value.get() for r in ("hit", "stored", "miss")}

    first_engine = engine()
    try:
        cold_cost = first_engine.cost(queries[0])
        first = first_engine.classify_sync(queries, timeout_s=300)
        n_entries = len({e for c in catalogs for e in c})
        assert first_engine._store is not None and len(first_engine._store) == n_entries
        assert metrics.ENTRY_STORE_BYTES._value.get() == first_engine._store.bytes > 0
    finally:
        first_engine.close()
    second_engine = engine()
    try:
        assert second_engine.cost(queries[0]) < cold_cost  # stored entries cost no model time
        before = counts()
        catalog_tokens = metrics.PROMPT_TOKENS.labels("catalog")._value.get()
        again = second_engine.classify_sync(queries, timeout_s=300)
        after = counts()
        assert after["miss"] == before["miss"] and after["stored"] - before["stored"] == n_entries
        # Only the header was evaluated (once, after the start), never an entry.
        header = len(second_engine._header_tokens)
        assert metrics.PROMPT_TOKENS.labels("catalog")._value.get() - catalog_tokens == header
        for a, b in zip(first, again, strict=True):
            assert answer(a) == answer(b) and abs(a.confidence - b.confidence) < 2e-3
        assert second_engine._kv is not None
        second_engine._kv.check()
        assert second_engine._store is not None
        victim = second_engine._store._path(catalogs[0][0])
    finally:
        second_engine.close()
    victim.write_bytes(b"damaged")  # a torn or foreign file: a miss, evaluated again, the answer stays
    third_engine = engine()
    try:
        before = counts()
        result = third_engine.classify_sync(queries[:1], timeout_s=300)[0]
        after = counts()
        assert after["miss"] - before["miss"] == 1 and after["stored"] - before["stored"] == len(catalogs[0]) - 1
        assert answer(result) == answer(first[0]) and abs(result.confidence - first[0].confidence) < 2e-3
        assert victim.read_bytes().startswith(b"SIKV")  # stored again
    finally:
        third_engine.close()


def test_preloading_a_product_list_stores_every_entry(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """``python -m app.preload FILE``: the served engine writes every listed entry into the store, then
    reports them as stored already; an engine started afterwards evaluates none of them."""
    from app import preload

    names = [p.name for p in PRODUCTS[:40]]
    products = tmp_path / "products.txt"
    products.write_text("\n".join([*names, "", " padded ", names[0]]) + "\n")  # blank, refused, repeated
    monkeypatch.setenv("SHOPINTENT_CATALOG_LAYOUT", "entries")
    monkeypatch.setenv("SHOPINTENT_ENTRY_STORE_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("SHOPINTENT_THREADS", "2")
    assert preload.main([str(products)]) == 0
    out = capsys.readouterr()
    assert "40 entries: 0 were stored already, 40 stored now" in out.out and "skipped 1" in out.err
    assert preload.main([str(products)]) == 0
    assert "40 entries: 40 were stored already" in capsys.readouterr().out
    backend = LlamaCppBackend(engine_config(Settings(warmup=False)))
    backend.start()
    try:
        misses = metrics.ENTRY_CACHE.labels("miss")._value.get()
        backend.classify_sync([Query("add 2 " + names[3].lower(), tuple(names[:25]))])
        assert metrics.ENTRY_CACHE.labels("miss")._value.get() == misses
    finally:
        backend.close()
