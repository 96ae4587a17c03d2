"""Attribute agreement between a shopper's text and catalog entries: sizes, wattages, codes.

Catalogs list variants that differ only in a number or a short code: ``USB-C Charger 20W`` and
``USB-C Charger 65W``, ``Pilas AA`` and ``Pilas AAA``, ``LED Bulb E27`` and ``LED Bulb E14``,
``Produžni kabel 3 m`` and ``5 m``. A shopper who writes "the 20W one", "pilas AA" or "od 5 metara"
has named the variant outright, yet the small model often picks its neighbour: "wrong entry" was
the commonest miss on hand-written requests (180 for the stage-2 model), and in 109 of them the
chosen and the right entry carried different numbers or codes. The decoder
uses this module to add ``attribute_bias`` nats, per attribute that agrees, to the branches of
the product trie whose entries carry the shopper's numbers and codes (``app.decoding``).

Only what is written literally counts: numbers (``0,75`` and ``0.75`` are one) and the short
upper-case codes of an entry (``AA``, ``XL``), compared without case; ``E27`` agrees by its 27. The
answer's own quantity is not an attribute (in "add 2 ..." the 2 is how many, not which), and
where no entry agrees nothing changes, so the model's choice stands on every other request.
"""

from __future__ import annotations

import re
from functools import lru_cache

from app.numbers import WORD

_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_CODE = re.compile(r"(?<![^\W_])[A-Z]{2,4}(?![^\W_])")  # AA, AAA, XL: a word of its own, not "Charger" or "E27"


def _number(text: str) -> str:
    value = text.replace(",", ".")
    return value.rstrip("0").rstrip(".") if "." in value else value.lstrip("0") or "0"


@lru_cache(maxsize=65536)
def entry_attributes(entry: str) -> frozenset[str]:
    """The numbers and short upper-case codes written in a catalog entry, normalised."""
    return frozenset({_number(n) for n in _NUMBER.findall(entry)} | {c.lower() for c in _CODE.findall(entry)})


def text_attributes(text: str) -> frozenset[str]:
    """Everything in a shopper's text an entry attribute could agree with: its numbers and words."""
    return frozenset({_number(n) for n in _NUMBER.findall(text)} | {w.lower() for w in WORD.findall(text)})


def agreement(entry: str, text: frozenset[str], quantity: int | None) -> int:
    """How many of the entry's attributes the text names, not counting the answer's quantity."""
    skip = str(quantity) if quantity is not None else None
    return sum(1 for a in entry_attributes(entry) if a in text and a != skip)
