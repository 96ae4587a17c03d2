"""The dataset: deterministic, well-formed, consistent labels, all languages, no split leakage."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from app.domain import LANGUAGES
from training.data import dev as dev_bank
from training.data.generate import DataConfig, Row, generate
from training.data.phrases import BANKS, is_held_out
from training.data.products import PRODUCTS
from training.data.siblings import TRAIN_ONLY

TRAIN_ONLY_BY_BANK = {id(BANKS[lang]): TRAIN_ONLY[lang] for lang in BANKS}

SIZES = {"train": 1200, "val": 120, "test": 600}


@pytest.fixture(scope="module")
def splits() -> dict[str, list[Row]]:
    return generate(DataConfig(seed=7, sizes=SIZES))


def test_deterministic_for_a_seed(splits: dict[str, list[Row]]) -> None:
    assert generate(DataConfig(seed=7, sizes=SIZES)) == splits
    assert generate(DataConfig(seed=8, sizes=SIZES))["train"] != splits["train"]


def test_schema_and_label_consistency(splits: dict[str, list[Row]]) -> None:
    for rows in splits.values():
        for row in rows:
            assert row.language in LANGUAGES
            assert row.text.strip()
            assert 3 <= len(row.catalog) <= 20
            assert len(set(row.catalog)) == len(row.catalog)
            assert row.intent in ("add_to_cart", "remove_from_cart", "other")
            if row.intent == "other":
                assert row.product is None and row.quantity is None
            else:
                assert row.product is None or row.product in row.catalog
                assert isinstance(row.quantity, int) and row.quantity >= 1


def test_every_language_and_intent_is_covered(splits: dict[str, list[Row]]) -> None:
    for rows in splits.values():
        assert set(Counter(r.language for r in rows)) == set(LANGUAGES)
    test = splits["test"]
    pairs = {(r.language, r.intent) for r in test}
    assert len(pairs) == len(LANGUAGES) * 3


def test_other_share_and_missing_products(splits: dict[str, list[Row]]) -> None:
    train = splits["train"]
    share = sum(r.intent == "other" for r in train) / len(train)
    assert 0.15 <= share <= 0.25
    assert any(r.intent != "other" and r.product is None for r in train)
    # many "other" rows name a product of the catalog (rule 4)
    named = [r for r in train if r.intent == "other" and any(p.lower() in r.text.lower() for p in r.catalog)]
    assert named


def test_no_identical_texts_across_splits(splits: dict[str, list[Row]]) -> None:
    texts = {name: {r.text.casefold() for r in rows} for name, rows in splits.items()}
    assert not texts["train"] & texts["test"]
    assert not texts["train"] & texts["val"]
    assert not texts["val"] & texts["test"]


def _skeleton(template: str) -> str:
    return re.sub(r"\{\w+\}", "", template).strip().casefold()


def test_held_out_templates_never_reach_training() -> None:
    for bank in BANKS.values():
        for pool in (bank.add, bank.remove, bank.other):
            held = [t for i, t in enumerate(pool) if is_held_out(i)]
            kept = [t for i, t in enumerate(pool) if not is_held_out(i)]
            assert held and kept
            assert not set(held) & set(kept)
        for intent in ("add", "remove", "other"):
            assert not set(TRAIN_ONLY_BY_BANK[id(bank)][intent]) & set(getattr(bank, intent))


def _words(template: str) -> set[str]:
    return {w for w in re.findall(r"[^\W\d_]+", re.sub(r"\{\w+\}", "", template).casefold()) if len(w) > 1}


def test_every_held_out_word_has_a_training_sibling() -> None:
    """Held-out templates test unseen frames, not words no training row ever used."""
    for language, bank in BANKS.items():
        trained: set[str] = set()
        for intent in ("add", "remove", "other"):
            pool = getattr(bank, intent)
            for template in [t for i, t in enumerate(pool) if not is_held_out(i)] + list(TRAIN_ONLY[language][intent]):
                trained |= _words(template)
        for intent in ("add", "remove", "other"):
            for i, template in enumerate(getattr(bank, intent)):
                if is_held_out(i):
                    assert _words(template) <= trained, (language, template, _words(template) - trained)


def test_product_universe() -> None:
    assert len(PRODUCTS) >= 150
    assert len({p.name for p in PRODUCTS}) == len(PRODUCTS)
    for product in PRODUCTS:
        for language in LANGUAGES:
            assert product.forms[language], (product.name, language)
    # test forms are held out wherever a language has two or more
    with_alternatives = [(p, lang) for p in PRODUCTS for lang in LANGUAGES if len(p.forms[lang]) > 1]
    assert len(with_alternatives) > 0.9 * len(PRODUCTS) * len(LANGUAGES)
    for product, language in with_alternatives:
        assert not set(product.test_forms(language)) & set(product.train_forms(language))


def test_paper_export_format(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from training.data.paper import export_paper

    rows = generate(DataConfig(seed=1, sizes={"train": 30, "val": 5, "test": 5}))["test"]
    out = export_paper(rows, tmp_path / "paper.jsonl")
    import json

    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records
    for record, row in zip(records, [r for r in rows if r.intent != "other"], strict=True):
        assert record["prompt"] == "Catalog:\n" + "\n".join(row.catalog) + "\n\nUser:\n" + row.text
        completion = json.loads(record["completion"])
        assert completion["action"] in ("add", "remove")
        assert completion["product"] == row.product and completion["quantity"] == row.quantity


def test_unseen_products_only_in_test(splits: dict[str, list[Row]]) -> None:
    from training.data.open_products import HELD_OUT

    for name in ("train", "val"):
        assert not any(p in HELD_OUT for r in splits[name] for p in r.catalog)
    unseen = [r for r in splits["test"] if "unseen_product" in r.tags]
    assert unseen and all(r.product is None or r.product in HELD_OUT for r in unseen)


def _normalised(template: str) -> str:
    return " ".join(re.sub(r"\{\w+\}|[?!.,¿¡]", " ", template).casefold().split())


def test_dev_wordings_are_new_to_training_and_test() -> None:
    """Dev chooses checkpoints and the decoding bias: its wordings must be as new as test's, and not test's."""
    from difflib import SequenceMatcher

    from training.data import dev

    by_name = {p.name: p for p in PRODUCTS}
    for name, per_language in dev.FORMS.items():
        assert set(per_language) == set(LANGUAGES), name
        for language, form in per_language.items():
            known = {_normalised(s) for f in by_name[name].forms[language] for s in (f.singular, f.plural)}
            assert not {_normalised(form.singular), _normalised(form.plural)} & known, (name, language, form)
    for language, per_intent in dev.TEMPLATES.items():
        bank = BANKS[language]
        known_templates = [*bank.add, *bank.remove, *bank.other, *(t for ts in TRAIN_ONLY[language].values() for t in ts)]
        for intent, templates in per_intent.items():
            assert len(templates) >= 5, (language, intent)
            for template in templates:
                for other in known_templates:
                    ratio = SequenceMatcher(None, _normalised(template), _normalised(other)).ratio()
                    assert ratio < 0.85, (language, template, other)


def test_dev_split_is_separate_and_leaves_the_others_unchanged(splits: dict[str, list[Row]]) -> None:
    with_dev = generate(DataConfig(seed=7, sizes={**SIZES, "dev": 300}))
    assert {name: with_dev[name] for name in SIZES} == splits  # drawn last, from its own stream
    dev_rows = with_dev["dev"]
    assert len(dev_rows) == 300 and all("dev_template" in r.tags for r in dev_rows)
    assert {r.language for r in dev_rows} == set(LANGUAGES)
    assert sum("unseen_form" in r.tags for r in dev_rows) > 60
    dev_texts = {r.text.casefold() for r in dev_rows}
    for name in SIZES:
        assert not dev_texts & {r.text.casefold() for r in splits[name]}
    from training.data.open_products import HELD_OUT

    assert not any(p in HELD_OUT for r in dev_rows for p in r.catalog)  # test's unseen products stay test's


def test_open_translations_reach_training_only(splits: dict[str, list[Row]]) -> None:
    from training.data.open_products import HELD_OUT
    from training.data.open_translations import TRANSLATIONS

    assert not set(TRANSLATIONS) & HELD_OUT  # test's unseen products keep no translation
    translated = generate(DataConfig(seed=7, sizes=SIZES, p_open_translated=1.0))
    assert translated["val"] == splits["val"] and translated["test"] == splits["test"]

    def named_in_translation(rows: list[Row]) -> int:  # names English does not share ("Tofu" does)
        return sum(1 for r in rows if r.language != "en" and r.product in TRANSLATIONS
                   and (word := TRANSLATIONS[r.product][r.language].singular.casefold()) in r.text.casefold()
                   and word[:4] not in r.product.casefold())

    assert named_in_translation(translated["train"]) >= 20
    assert named_in_translation(splits["train"]) <= 2  # off by default


def test_train_missing_rate_leaves_val_and_test_unchanged(splits: dict[str, list[Row]]) -> None:
    contrast = generate(DataConfig(seed=7, sizes=SIZES, p_train_missing_product=0.3))
    assert contrast["val"] == splits["val"] and contrast["test"] == splits["test"]

    def missing_share(rows: list[Row]) -> float:
        cart = [r for r in rows if r.intent != "other"]
        return sum(r.product is None for r in cart) / len(cart)

    assert missing_share(contrast["train"]) > 0.25 > 0.16 > missing_share(splits["train"])


def test_shopper_forms_cover_the_universe_and_name_only_their_product() -> None:
    """Every product has its train-only shopper forms in every language; none is another product's
    form (it would teach the wrong entry), a held-out test form, or a dev form."""
    from training.data.shopper_forms import BANK_LANGUAGES, SHOPPER_FORMS, collisions

    for language in BANK_LANGUAGES:
        assert collisions(language) == [], language
        for product in PRODUCTS:
            forms = SHOPPER_FORMS[language][product.name]
            assert len(forms) >= 3, (language, product.name)
            held_out = {f.singular.lower() for f in product.test_forms(language)}
            if product.name in dev_bank.FORMS:
                held_out.add(dev_bank.FORMS[product.name][language].singular.lower())
            assert not held_out & {f.singular.lower() for f in forms}, (language, product.name)
