"""The natural evaluation set (data/natural/): hand-written requests, kept out of training.

It is the judge of real-world accuracy (`make eval` -> reports/eval-natural.md), so it must stay
well-formed, as large and as varied as it was written, and never reach the training data.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from app.domain import INTENTS, OTHER

NATURAL = Path("data/natural")
FIELDS = ["id", "language", "text", "catalog", "catalog_language", "intent", "product", "quantity", "kinds"]
CATALOG_KINDS = {"english_catalog", "shop_language_catalog", "mixed_catalog"}
KINDS = CATALOG_KINDS | {
    "plain", "reason", "politeness", "filler", "negation_contrast", "correction", "capitals", "no_diacritics",
    "typo", "emoji", "long", "quantity_word", "quantity_semantics", "colloquial_name", "inflected_form",
    "missing_product", "voice", "code_switch", "assistant_command", "shop_question", "smalltalk", "complaint",
    "cart_word_trap",
}
SHOP_LANGUAGES = ("en", "hr", "es", "de", "fr", "it")


@pytest.fixture(scope="module")
def rows() -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for f in sorted(NATURAL.glob("*.jsonl")) for line in f.read_text("utf-8").splitlines()]


def test_rows_are_well_formed(rows: list[dict]) -> None:  # type: ignore[type-arg]
    assert len({r["id"] for r in rows}) == len(rows)
    for r in rows:
        assert list(r) == FIELDS, r["id"]
        assert r["intent"] in INTENTS and r["text"].strip(), r["id"]
        assert 5 <= len(r["catalog"]) <= 30 and len(set(r["catalog"])) == len(r["catalog"]), r["id"]
        assert set(r["kinds"]) <= KINDS, (r["id"], set(r["kinds"]) - KINDS)
        assert len(CATALOG_KINDS & set(r["kinds"])) == 1, r["id"]
        if r["intent"] == OTHER:
            assert r["product"] is None and r["quantity"] is None, r["id"]
        else:
            assert isinstance(r["quantity"], int) and r["quantity"] >= 1, r["id"]
            assert (r["product"] is None) == ("missing_product" in r["kinds"]), r["id"]
            assert r["product"] is None or r["product"] in r["catalog"], r["id"]


def test_the_set_is_as_large_and_varied_as_specified(rows: list[dict]) -> None:  # type: ignore[type-arg]
    cart = [r for r in rows if r["intent"] != OTHER]
    oos = [r for r in rows if r["intent"] == OTHER]
    assert len(cart) >= 600 and len(oos) >= 300
    per_language = Counter(r["language"] for r in cart)
    assert all(per_language[lang] >= 80 for lang in SHOP_LANGUAGES), per_language
    english = sum("english_catalog" in r["kinds"] for r in cart)
    assert 0.4 <= english / len(cart) <= 0.6  # half English catalogs, half the shop's language or mixed
    assert len({r["language"] for r in oos}) >= 8
    assert sum("assistant_command" in r["kinds"] for r in oos) >= 100
    assert sum("cart_word_trap" in r["kinds"] for r in oos) >= 30


def test_no_natural_text_reaches_the_generated_splits(rows: list[dict]) -> None:  # type: ignore[type-arg]
    texts = {r["text"].casefold() for r in rows}
    for split in ("train", "val", "test", "dev"):
        path = Path("data") / f"{split}.jsonl"
        if not path.exists():
            pytest.skip("make data first")
        generated = {json.loads(line)["text"].casefold() for line in path.read_text("utf-8").splitlines()}
        assert not texts & generated, (split, sorted(texts & generated)[:5])


def test_training_code_never_reads_the_natural_set() -> None:
    for source in [*Path("training").rglob("*.py"), *Path("training/configs").glob("*.yaml")]:
        if source.name == "evaluate.py":  # evaluation reads it, by design
            continue
        text = source.read_text("utf-8")
        assert "data/natural" not in text and "NATURAL" not in text, source


def test_the_hand_written_training_banks_hold_no_natural_sentence(rows: list[dict]) -> None:  # type: ignore[type-arg]
    """The out-of-scope banks are whole sentences written for training: none may be the natural set's
    sentence, or close to one (0.8 similarity, case-folded), or the set would stop being unseen."""
    import difflib

    from training.data.assistant import ASSISTANT, SHOP_NOT_CART

    natural = [r["text"].casefold() for r in rows]
    bank = [s for table in (ASSISTANT, SHOP_NOT_CART) for sentences in table.values() for s in sentences]
    close = [(s, m[0]) for s in bank
             if (m := difflib.get_close_matches(s.replace("{item}", "").casefold(), natural, n=1, cutoff=0.8))]
    assert not close, close[:5]
