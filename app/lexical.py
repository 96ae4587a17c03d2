"""Word agreement between a shopper's text and catalog entries: the words of a name, written out.

A shopper who writes "enlève la souris sans fil" with ``Souris sans fil`` listed, "the espresso ones"
beside ``Coffee Beans Espresso Roast`` and ``Espresso Cups``, or "makni kruh crni" beside ``Kruh crni
(500 g)`` and ``Kukuruzni kruh (600 g)`` has named the entry, yet the 270M model picks a neighbour or
says "not in catalog": on catalogs in the shop's own language the shopper's word and the
entry's are often the same word, and the model reads them no better than a translation. The decoder
uses this module the way it uses ``app.attributes``: where the product trie branches, a branch loses
``word_bias`` nats per word of its best entry's name that the text names less than another branch's
(``app.decoding``). Where no branch agrees more than another, nothing changes, and a model surer than
the bias keeps its choice: at 2 nats the served model still answers ``Kukuruzni kruh`` to "makni kruh
crni" (it prefers it by more than 2 nats).

What counts, chosen before measuring:
- the words of the entry outside parentheses (what is in them is size and packaging, "(12 rouleaux)",
  "(box of 100)": numbers there are ``app.attributes``' business, words there say little about which
  product it is), and the words of the text; both folded (case, diacritics, ß) and 3 letters or more;
- not function words, cart words ("cart", "Warenkorb", "košarica") or packaging words ("bag",
  "paquete", "Packung"): "a bag of rice" must not pick ``Laundry Bag``, "put it in my basket" not
  ``Laundry Basket``;
- a text word names an entry word when the two are equal, or share a prefix of at least 4 letters
  that leaves at most one letter of the shorter and at most three of the longer: inflected forms
  ("pelena"/"pelene", "mlijeka"/"mlijeko", "Zitronen"/"Zitrone", "limones"/"limón") agree, "soap"
  and "soup" do not.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_WORD = re.compile(r"[^\W\d_]+")
_PARENTHESES = re.compile(r"\([^)]*\)|\[[^\]]*\]")
# Letters NFKD does not split into a base and a mark.
_FOLD = str.maketrans({"đ": "d", "ø": "o", "ł": "l", "æ": "ae", "œ": "oe", "ı": "i"})
MIN_LETTERS = 3  # "tea", "gin", "sir" count; "a", "de", "za" do not
MIN_PREFIX = 4  # letters two different words must share to agree

_STOP = """
the and for with without from this that these those some any one more less other another also just
please thanks thank can could would will you your mine our out off put take get add remove delete
cart basket trolley order bag bags pack packs packet packets box boxes bottle bottles tin tins can cans
jar jars piece pieces pcs pair pairs roll rolls set sets size
der die das den dem des ein eine einen einem einer und mit ohne für von vom zum zur bitte noch mehr
weniger auch mir mich meinen meine meinem warenkorb korb packung packungen flasche flaschen dose dosen
tüte tüten stück glas paar
los las les una uno unos unas con sin para por del más menos también favor gracias carrito cesta
paquete paquetes bolsa bolsas caja cajas bote botes lata latas botella botellas unidades uds par
une des aux avec sans pour dans sur plus moins aussi merci panier sachet sachets paquet paquets boîte
boîtes flacon flacons bouteille bouteilles pièces paire
gli che con senza per dal dalla nel nella più meno anche grazie carrello confezione confezioni pacco
pacchi bottiglia bottiglie scatola scatole barattolo lattina pezzi paio
ili bez kod još manje molim hvala košarica košaricu košarice kosarica kosaricu vrećica vrećicu
vrećice pakiranje pakiranja paket paketa kutija kutije kutiju boca boce bocu limenka komad komada kom
par para
"""


def fold(text: str) -> str:
    """Lower case without diacritics: "Slušalice" and "slusalice", "Straße" and "strasse" are one."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


STOP_WORDS = frozenset(fold(w) for w in _STOP.split())


def _content_words(text: str) -> list[str]:
    return [w for w in _WORD.findall(fold(text)) if len(w) >= MIN_LETTERS and w not in STOP_WORDS]


@lru_cache(maxsize=65536)
def entry_words(entry: str) -> frozenset[str]:
    """The folded content words of an entry's name, outside parentheses."""
    return frozenset(_content_words(_PARENTHESES.sub(" ", entry)))


def text_words(text: str) -> frozenset[str]:
    """The folded content words of a shopper's text."""
    return frozenset(_content_words(text))


def names(text_word: str, entry_word: str) -> bool:
    """Whether a word of the text names a word of an entry (equal, or an inflected form of it)."""
    if text_word == entry_word:
        return True
    shorter, longer = sorted((len(text_word), len(entry_word)))
    if shorter < MIN_PREFIX:
        return False
    prefix = 0
    for a, b in zip(text_word, entry_word, strict=False):
        if a != b:
            break
        prefix += 1
    return prefix >= MIN_PREFIX and shorter - prefix <= 1 and longer - prefix <= 3


def word_agreement(entry: str, text: frozenset[str]) -> int:
    """How many words of the entry's name the text names."""
    return sum(1 for e in entry_words(entry) if any(names(t, e) for t in text))
