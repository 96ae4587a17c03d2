"""The constrained decoder: whatever the logits, the answer obeys the contract."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from app.attributes import agreement, entry_attributes, text_attributes
from app.decoding import AnswerDecoder, Grammar, build_product_trie
from app.lexical import entry_words, fold, names, text_words, word_agreement
from app.prompt import answer_pieces, query_suffix, unshout


class CharTokenizer:
    """One token per character: the worst case for shared prefixes ("1" vs "12", "Lemon" vs "Lemonade")."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def __call__(self, text: str) -> list[int]:
        return [self.ids.setdefault(c, len(self.ids)) for c in text]


def decode(grammar: Grammar, catalog: list[str], tok: CharTokenizer, pick, text: str = "") -> AnswerDecoder:  # type: ignore[no-untyped-def]
    decoder = AnswerDecoder(grammar, build_product_trie(tok, catalog), text)
    fed: list[int] = []
    while not decoder.done:
        fed += decoder.pending
        decoder.pending = []
        decoder.choose(pick(decoder.allowed(), fed))
    return decoder


def logits_preferring(target: list[int]):  # type: ignore[no-untyped-def]
    """Logits that follow a target token sequence (teacher forcing), else uniform."""

    def pick(allowed: list[int], fed: list[int]) -> dict[int, float]:
        nxt = target[len(fed)] if len(fed) < len(target) else None
        return {t: (5.0 if t == nxt else 0.0) for t in allowed}

    return pick


def test_follows_the_model_to_every_kind_of_answer() -> None:
    tok = CharTokenizer()
    grammar = Grammar.build(tok, max_quantity=120)
    catalog = ["Lemon", "Lemonade", "Lemon Juice (250ml)", "Milk"]
    cases = [
        ("add_to_cart", "Lemonade", 12),
        ("add_to_cart", "Lemon", 1),
        ("remove_from_cart", "Lemon Juice (250ml)", 100),
        ("remove_from_cart", None, 3),
        ("other", None, None),
    ]
    for intent, product, quantity in cases:
        target = [t for piece in answer_pieces(intent, product, quantity) for t in tok(piece)]
        decoder = decode(grammar, catalog, tok, logits_preferring(target))
        assert decoder.answer is not None
        assert (decoder.answer.intent, decoder.answer.product, decoder.answer.quantity) == (intent, product, quantity)
        assert 0.0 < decoder.answer.confidence <= 1.0


def test_not_in_catalog_wins_over_an_entry_spelled_like_it() -> None:
    tok = CharTokenizer()
    grammar = Grammar.build(tok, max_quantity=9)
    target = [t for p in answer_pieces("add_to_cart", None, 1) for t in tok(p)]
    decoder = decode(grammar, ["-", "Milk"], tok, logits_preferring(target))
    assert decoder.answer is not None and decoder.answer.product is None


def test_forced_tokens_need_no_decision() -> None:
    tok = CharTokenizer()
    grammar = Grammar.build(tok, max_quantity=9)
    catalog = ["Pillow (50x70cm)", "Duvet"]
    target = [t for p in answer_pieces("add_to_cart", "Pillow (50x70cm)", 2) for t in tok(p)]
    decoder = decode(grammar, catalog, tok, logits_preferring(target))
    # intent (a/r/o), digit, then the product's first letter; everything after "P" is forced
    assert decoder.answer is not None and decoder.answer.decisions <= 4


@settings(max_examples=300, deadline=None)
@given(
    catalog=st.lists(st.text(min_size=1, max_size=12).map(str.strip).filter(bool), min_size=1, max_size=15, unique=True),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_logits_give_a_valid_answer(catalog: list[str], seed: int) -> None:
    tok = CharTokenizer()
    grammar = Grammar.build(tok, max_quantity=50)
    rng = random.Random(seed)
    decoder = decode(grammar, catalog, tok, lambda allowed, fed: {t: rng.gauss(0, 3) for t in allowed})
    answer = decoder.answer
    assert answer is not None
    if answer.intent == "other":
        assert answer.product is None and answer.quantity is None
    else:
        assert answer.intent in ("add_to_cart", "remove_from_cart")
        assert answer.product is None or answer.product in catalog
        assert answer.quantity is not None and 1 <= answer.quantity <= 50
    assert 0.0 <= answer.confidence <= 1.0


def test_draft_predicts_the_forced_path_and_marks_decisions() -> None:
    tok = CharTokenizer()
    grammar = Grammar.build(tok, max_quantity=99)
    decoder = AnswerDecoder(grammar, build_product_trie(tok, ["Milk", "Bread"]))
    choices = decoder.intent_choices()
    assert set(choices) == {"add_to_cart", "remove_from_cart"}
    assert decoder.pending == tok(" ")  # the space all intents share is forced before any decision
    tokens, checks = decoder.draft(choices["add_to_cart"], tok(" 12"))
    # "a" is the guess; "dd" and the space are forced; then the digits are guessed; after "12" no
    # quantity <= 99 goes on, so the product's leading space is forced too
    assert tokens == tok("add 12 ")
    # decisions: after " " (first digit), after "1" (digit or product), after the last space (product)
    assert checks == [3, 4, 6]
    # a guess the grammar cannot take ends the draft early
    tokens, checks = decoder.draft(choices["remove_from_cart"], tok(" 0"))
    assert tokens == tok("remove ") and checks == [len(tokens) - 1]


def test_quantity_guess() -> None:
    from app.numbers import guess_quantity

    assert guess_quantity("add 3 eggs, no wait, make it 12", 999) == 12
    assert guess_quantity("dodaj dva jastuka", 999) == 2
    assert guess_quantity("une douzaine d'oeufs", 999) == 12
    assert guess_quantity("add eggs", 999) == 1
    assert guess_quantity("add 5000 eggs", 999) == 1


def test_no_product_bias_moves_only_the_not_in_catalog_choice() -> None:
    """A negative bias turns a narrow "not in catalog" into the best entry; a clear one survives."""
    tok = CharTokenizer()
    catalog = ["Milk", "Bread", "Eggs"]
    none_path = [t for piece in answer_pieces("add_to_cart", None, 2) for t in tok(piece)]

    def leaning_to_none(margin: float):  # type: ignore[no-untyped-def]
        def pick(allowed: list[int], fed: list[int]) -> dict[int, float]:
            nxt = none_path[len(fed)] if len(fed) < len(none_path) else None
            scores = {t: (5.0 if t == nxt else 0.0) for t in allowed}
            if tok("-")[0] in allowed:  # the product decision: "Milk" runner-up by `margin` nats
                scores[tok("-")[0]] = 5.0
                scores[tok("M")[0]] = 5.0 - margin
            return scores

        return pick

    for bias, margin, expected in [(0.0, 1.0, None), (-2.0, 1.0, "Milk"), (-2.0, 4.0, None)]:
        grammar = Grammar.build(tok, max_quantity=9, no_product_bias=bias)
        decoder = decode(grammar, catalog, tok, leaning_to_none(margin))
        assert decoder.answer is not None
        assert (decoder.answer.intent, decoder.answer.quantity) == ("add_to_cart", 2)
        assert decoder.answer.product == expected, (bias, margin)
    # the intent and quantity decisions are untouched by the bias
    other = [t for piece in answer_pieces("other", None, None) for t in tok(piece)]
    grammar = Grammar.build(tok, max_quantity=9, no_product_bias=-10.0)
    decoder = decode(grammar, catalog, tok, logits_preferring(other))
    assert decoder.answer is not None and decoder.answer.intent == "other"


def test_other_bias_moves_only_the_intent_choice() -> None:
    """A positive "other" bias turns a narrow cart action into "other"; a clear action survives."""
    tok = CharTokenizer()
    catalog = ["Milk", "Bread"]
    add_path = [t for piece in answer_pieces("add_to_cart", "Milk", 2) for t in tok(piece)]

    def leaning_to_add(margin: float):  # type: ignore[no-untyped-def]
        def pick(allowed: list[int], fed: list[int]) -> dict[int, float]:
            nxt = add_path[len(fed)] if len(fed) < len(add_path) else None
            scores = {t: (5.0 if t == nxt else 0.0) for t in allowed}
            if tok("o")[0] in allowed and tok("a")[0] in allowed:  # the intent decision
                scores[tok("o")[0]] = 5.0 - margin
            return scores

        return pick

    for bias, margin, expected in [(0.0, 1.0, "add_to_cart"), (2.0, 1.0, "other"), (2.0, 4.0, "add_to_cart")]:
        grammar = Grammar.build(tok, max_quantity=9, other_bias=bias)
        assert grammar.other_node is not None and grammar.other_token == tok("o")[0]
        decoder = decode(grammar, catalog, tok, leaning_to_add(margin))
        assert decoder.answer is not None and decoder.answer.intent == expected, (bias, margin)
        if expected == "add_to_cart":  # product and quantity decisions are untouched
            assert (decoder.answer.product, decoder.answer.quantity) == ("Milk", 2)


def test_attribute_bias_picks_the_variant_the_text_names_and_nothing_else() -> None:
    tok = CharTokenizer()
    catalog = ["Charger 65W", "Charger 20W", "Cable 2 m"]
    target = [t for piece in answer_pieces("add_to_cart", "Charger 65W", 2) for t in tok(piece)]

    def run(text: str, bias: float) -> str | None:
        grammar = Grammar.build(tok, max_quantity=9, attribute_bias=bias)
        decoder = decode(grammar, catalog, tok, logits_preferring(target), text)  # leaning to the 65W one by 5 nats
        assert decoder.answer is not None
        return decoder.answer.product

    assert run("add two of the 20W chargers", 0.0) == "Charger 65W"  # off: the model alone
    assert run("add two of the 20W chargers", 6.0) == "Charger 20W"
    assert run("add two chargers", 6.0) == "Charger 65W"  # no attribute named: the model's choice stands
    assert run("add 2 chargers", 6.0) == "Charger 65W"  # the 2 is the quantity, not the "2 m" of the cable
    assert run("add two of the 65W chargers", 6.0) == "Charger 65W"


def test_word_bias_picks_the_entry_the_text_names_and_nothing_else() -> None:
    tok = CharTokenizer()
    catalog = ["Phone Stand Adjustable", "Silicone Phone Case Black", "Laundry Bag"]
    target = [t for piece in answer_pieces("remove_from_cart", "Phone Stand Adjustable", 1) for t in tok(piece)]

    def run(text: str, bias: float) -> str | None:
        grammar = Grammar.build(tok, max_quantity=9, word_bias=bias)
        decoder = decode(grammar, catalog, tok, logits_preferring(target), text)  # leaning to the stand by 5 nats
        assert decoder.answer is not None
        return decoder.answer.product

    assert run("delete the phone case", 0.0) == "Phone Stand Adjustable"  # off: the model alone
    assert run("delete the phone case", 6.0) == "Silicone Phone Case Black"  # 2 words named against 1
    assert run("delete the phone case", 3.0) == "Phone Stand Adjustable"  # 3 nats do not outweigh 5
    assert run("take the phone thing out", 6.0) == "Phone Stand Adjustable"  # both branches name "phone"
    assert run("remove one bag", 6.0) == "Phone Stand Adjustable"  # packaging words name no entry


def test_words_agree_through_case_diacritics_and_inflection_not_across_words() -> None:
    assert fold("Slušalice Straße ÉPONGE Đak") == "slusalice strasse eponge dak"
    assert entry_words("Papier toilette (12 rouleaux)") == {"papier", "toilette"}  # parentheses: packaging
    assert entry_words("Laundry Bag") == {"laundry"}
    assert text_words("izbaci 2 pakiranja pelena iz košarice") == {"izbaci", "pelena"}
    for text_word, entry_word in [("pelena", "pelene"), ("mlijeka", "mlijeko"), ("zitronen", "zitrone"),
                                  ("limones", "limon"), ("pizzas", "pizza"), ("kruha", "kruh"), ("tea", "tea")]:
        assert names(text_word, entry_word), (text_word, entry_word)
    for text_word, entry_word in [("soap", "soup"), ("milk", "mild"), ("brosses", "brossettes"), ("sir", "sira"),
                                  ("cat", "catalog")]:
        assert not names(text_word, entry_word), (text_word, entry_word)
    assert word_agreement("Kruh crni (500 g)", text_words("makni kruh crni")) == 2
    assert word_agreement("Kukuruzni kruh (600 g)", text_words("makni kruh crni")) == 1
    assert word_agreement("Souris sans fil", text_words("ENLÈVE LA SOURIS SANS FIL")) == 2  # "sans": a function word


def test_shouted_messages_are_lowered_and_product_codes_are_kept() -> None:
    assert unshout("AGGIUNGI 5 LIMONI AL CARRELLO") == "aggiungi 5 limoni al carrello"
    assert unshout("WEG MIT DEN ZITRONEN!!") == "weg mit den zitronen!!"
    assert unshout("add the HDMI cable and 2 AA batteries") == "add the HDMI cable and 2 AA batteries"
    assert unshout("OK") == "OK"  # too short to tell shouting from an acronym
    assert query_suffix("ADD 2 LEMONS PLEASE").startswith("add 2 lemons please")


def test_entry_attributes_are_numbers_and_short_codes() -> None:
    assert entry_attributes("Trinkflasche Edelstahl 0,75 l") == {"0.75"}
    assert entry_attributes("Pilas AAA alcalinas (4 uds)") == {"aaa", "4"}
    assert entry_attributes("LED Bulb E27 9W") == {"led", "27", "9"}
    assert entry_attributes("Charger") == frozenset()
    words = text_attributes("fueg die 0.75er wasserflasche hinzu")
    assert agreement("Trinkflasche Edelstahl 0,75 l", words, quantity=1) == 1
    assert agreement("Pilas AA (4 uds)", text_attributes("quita 4 pilas AA"), quantity=4) == 1  # 4 is how many


def test_trie_height_counts_every_level_of_the_longest_entry() -> None:
    from app.decoding import Node

    def reference(node: Node) -> int:
        return 1 + max((reference(child) for child in node.children.values()), default=0)

    tok = CharTokenizer()
    short, long = build_product_trie(tok, ["Milk"]), build_product_trie(tok, ["Milk", "Lemonade", "Lemon"])
    assert long.height == reference(long) == short.height + len("Lemonade") - len("Milk")
