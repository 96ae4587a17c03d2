"""A cheap guess of the quantity in a shopper's text, used only to draft tokens for the model to
verify (a wrong guess costs a little compute, never a wrong answer)."""

from __future__ import annotations

import re

_WORDS = {
    1: "one a an single uno una un ein eine jedan jednu jedno",
    2: "two couple pair dos deux zwei dva dvije due par paar paire paio",
    3: "three tres trois drei tri tre",
    4: "four cuatro quatre vier četiri cetiri quattro",
    5: "five cinco cinq fünf funf pet cinque",
    6: "six seis sechs šest sest sei",
    7: "seven siete sept sieben sedam sette",
    8: "eight ocho huit acht osam otto",
    9: "nine nueve neuf neun devet nove",
    10: "ten diez dix zehn deset dieci",
    12: "twelve dozen doce docena douze douzaine zwölf zwolf dutzend dvanaest tucet dodici dozzina",
}
WORD_VALUES = {word: value for value, words in _WORDS.items() for word in words.split()}
_NUMBER = re.compile(r"\d+")
WORD = re.compile(r"[^\W\d_]+")


def guess_quantity(text: str, max_quantity: int) -> int:
    """The last number written in digits, else the last number word we know, else 1."""
    digits = [int(m) for m in _NUMBER.findall(text) if 0 < int(m) <= max_quantity]
    if digits:
        return digits[-1]
    words = [WORD_VALUES[w] for w in WORD.findall(text.lower()) if w in WORD_VALUES]
    return words[-1] if words else 1
