"""The prompt and answer format shared by training and serving.

The prompt is the study's (``Catalog:\\n<one product per line>\\n\\nUser:\\n<request>``) split in two
so the catalog part can be cached: ``catalog_prefix`` ends right before the shopper's text.
Our compact answer is a few short pieces instead of the study's JSON, so serving decodes three
to five tokens, most of them forced by the catalog:

    " add" " 2" " Pillow (50x70cm)" "\\n"     (intent, quantity, exact catalog entry, end)
    " remove" " 1" " -" "\\n"                 (a product that is not in the catalog)
    " other" "\\n"

Each piece is tokenized on its own (no BOS), by training and by the server alike, so the model is
trained on exactly the token sequences the constrained decoder allows. The pieces' fixed words
(intents, "not in catalog", end) are ``app.domain``'s.
"""

from __future__ import annotations

import json
import re
import unicodedata

from app.domain import END, INTENT_WORDS, NO_PRODUCT, OTHER, SHORT_NAMES

ANSWER_CUE = "\nAnswer:"

_WHITESPACE = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """One line of printable text: control characters and newlines become spaces.

    The shopper's text cannot then fake a new ``Answer:`` line or a catalog entry.
    """
    chars = (" " if unicodedata.category(c) in {"Cc", "Cf", "Zl", "Zp"} else c for c in text)
    return _WHITESPACE.sub(" ", "".join(chars)).strip()


def catalog_prefix(catalog: list[str]) -> str:
    return "Catalog:\n" + "\n".join(catalog) + "\n\nUser:\n"


def unshout(text: str) -> str:
    """A message typed in capitals, in lower case: "AGGIUNGI 5 LIMONI" reads as "aggiungi 5 limoni".

    Capitals split words into rare tokens the model has seen little of (its training rows are a
    sixth in capitals at most), and shoppers shout whole messages, not words: a text whose letters
    are at least 80% upper case (and at least 8 letters) is lowered; "add the HDMI cable" is not.
    """
    letters = [c for c in text if c.isalpha()]
    upper = sum(c.isupper() for c in letters)
    return text.lower() if len(letters) >= 8 and upper >= 0.8 * len(letters) else text


def query_suffix(text: str) -> str:
    return unshout(clean_text(text)) + ANSWER_CUE


# -- independently encoded entries (parallel context windows) -------------------------------
# The same prompt, cut so each catalog entry can be encoded and cached once for every catalog it
# appears in: the header, then every entry at the same positions right after it, attending only to
# the header and itself; the shopper's part follows them all and attends to everything. Each piece
# is tokenized on its own, by training and by the server alike.
ENTRY_HEADER = "Catalog:\n"
USER_CUE = "\nUser:\n"


def entry_piece(entry: str) -> str:
    return entry + "\n"


def quantity_piece(quantity: int) -> str:
    return f" {quantity}"


def product_piece(product: str | None) -> str:
    return NO_PRODUCT if product is None else f" {product}"


def answer_pieces(intent: str, product: str | None, quantity: int | None) -> list[str]:
    if intent == OTHER:
        return [INTENT_WORDS[OTHER], END]
    if quantity is None:
        raise ValueError("add/remove answers need a quantity")
    return [INTENT_WORDS[intent], quantity_piece(quantity), product_piece(product), END]


# -- the study's exact format, for the 1:1 comparison ----------------------------------------
def paper_prompt(catalog: list[str], text: str) -> str:
    return "Catalog:\n" + "\n".join(catalog) + "\n\nUser:\n" + text


def paper_completion(intent: str, product: str | None, quantity: int | None) -> str:
    """``{"action": "add"|"remove", "product": ..., "quantity": N}``; "other" rows get action "other"."""
    action = SHORT_NAMES.get(intent, SHORT_NAMES[OTHER])
    return json.dumps({"action": action, "product": product, "quantity": quantity}, ensure_ascii=False)
