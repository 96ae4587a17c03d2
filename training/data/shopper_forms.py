"""How shoppers name products beyond ``products.py``: one hand-written bank per language.

``shopper_forms_<lang>.py`` holds, for every product of the universe, 4-6 more forms in that
language: everyday and regional synonyms, brand-generic names, diminutives and shortenings,
typos and accent-free typing, inflected and compound variants, each ``singular/plural``. They
are train-only vocabulary (``DataConfig.p_shopper_form``): the test split keeps its held-out
forms from ``products.py``, and the natural evaluation set was written without them.

Missing products were the largest class of miss on real requests: "wrong catalog entry" and
"listed product answered not in catalog" came from words the two or three forms per product
of ``products.py`` never taught, most of all colloquial names (0.25 exact on the natural set).
"""

from __future__ import annotations

from importlib import import_module

from training.data import dev as dev_bank
from training.data.products import PRODUCTS, SurfaceForm, _parse_form

# The languages with a bank: all six languages of the service.
BANK_LANGUAGES: tuple[str, ...] = ("en", "de", "fr", "it", "hr", "es")


def _load() -> dict[str, dict[str, tuple[SurfaceForm, ...]]]:
    names = {p.name for p in PRODUCTS}
    banks: dict[str, dict[str, tuple[SurfaceForm, ...]]] = {}
    for language in BANK_LANGUAGES:
        raw: dict[str, tuple[str, ...]] = import_module(f"training.data.shopper_forms_{language}").FORMS
        if set(raw) != names:
            raise ValueError(f"shopper_forms_{language}: products missing {sorted(names - set(raw))[:5]}, "
                             f"unknown {sorted(set(raw) - names)[:5]}")
        # The dev split's wordings stay new to the model (it picks the decoding biases): dropped here.
        held_out = {forms[language].singular.lower() for forms in dev_bank.FORMS.values()}
        banks[language] = {
            name: tuple(f for f in map(_parse_form, forms) if f.singular.lower() not in held_out)
            for name, forms in raw.items()
        }
    return banks


SHOPPER_FORMS = _load()


def collisions(language: str) -> list[tuple[str, str, str]]:
    """(form, product, other product) where a shopper form of one product is also a form, either
    in this bank or in ``products.py``, of another: such a word would teach the wrong entry."""
    owner: dict[str, str] = {}
    for product in PRODUCTS:
        for form in product.forms[language]:
            owner.setdefault(form.singular.lower(), product.name)
    found = []
    for name, forms in SHOPPER_FORMS[language].items():
        for form in forms:
            key = form.singular.lower()
            other = owner.setdefault(key, name)
            if other != name:
                found.append((form.singular, name, other))
    return found
