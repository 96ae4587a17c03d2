"""Constrained decoding of the compact answer over token tries.

The answer is ``intent [quantity product]``: each part is a trie of token sequences (the three
intent words; the quantities 1..N; this catalog's entries plus "not in catalog", each followed by
the end token). The decoder walks the three tries in turn. Where only one token can follow it is
forced: queued for the next model call, never sampled. Where several can, the caller hands over
the model's logits and the decoder keeps the best allowed token, so every answer is valid by
construction. Decisions are made only where the tries branch: about three per add/remove answer
and one for "other".

Several cursors can be alive at once (a quantity that may go on with another digit, or stop and
let the product begin), so the walk is a small NFA rather than a single pointer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.attributes import agreement, text_attributes
from app.domain import END, INTENT_WORDS, OTHER
from app.lexical import text_words, word_agreement
from app.prompt import product_piece, quantity_piece

Tokenize = Callable[[str], list[int]]


@dataclass
class Node:
    children: dict[int, Node] = field(default_factory=dict)
    value: Any = None
    terminal: bool = False
    no_product_token: int | None = None  # where "not in catalog" parts from the last entry: its token
    entries: frozenset[Any] = frozenset()  # product tries: the entries at or below this node
    height: int = 1  # product tries: levels at and below this node (the root's bounds an answer's tokens)


def build_trie(entries: Sequence[tuple[list[int], Any]]) -> Node:
    root = Node()
    for tokens, value in entries:
        if not tokens:
            raise ValueError(f"empty token sequence for {value!r}")
        node = root
        for token in tokens:
            node = node.children.setdefault(token, Node())
        if not node.terminal:  # the first entry wins a tie
            node.terminal, node.value = True, value
    return root


@dataclass(frozen=True)
class Grammar:
    intents: Node
    quantities: Node
    # Added to the model's score (nats) for "not in catalog" where the product begins. Negative
    # values make the decoder pick the best-matching entry unless the model is sure it is absent:
    # a shopper's unfamiliar word for a listed product is far commoner than an unlisted product.
    no_product_bias: float = 0.0
    # Added to "other" at the first decision (nats). Positive values make the decoder act only when
    # the model is surer that the message is a cart command: a wrong action costs more than none.
    other_bias: float = 0.0
    other_node: Node | None = None  # where "other" parts from the actions in the intent trie ...
    other_token: int | None = None  # ... and its token there
    # Nats per number or code of an entry that the shopper's text names, where entries part in the
    # product trie (app.attributes): "the 20W one" picks "Charger 20W" over "Charger 65W".
    attribute_bias: float = 0.0
    # Nats per word of an entry's name that the shopper's text names, where entries part in the
    # product trie (app.lexical): "the espresso coffee beans" leans to "Coffee Beans Espresso Roast" over
    # "Espresso Cups"; it outweighs only a model that is less sure than that many nats.
    word_bias: float = 0.0

    @classmethod
    def build(cls, tokenize: Tokenize, max_quantity: int, no_product_bias: float = 0.0,
              other_bias: float = 0.0, attribute_bias: float = 0.0, word_bias: float = 0.0) -> Grammar:
        intents = build_trie([(tokenize(word), intent) for intent, word in INTENT_WORDS.items()])
        quantities = build_trie([(tokenize(quantity_piece(n)), n) for n in range(1, max_quantity + 1)])
        node, other_node, other_token = intents, None, None
        for token in tokenize(INTENT_WORDS[OTHER]):
            if len(node.children) > 1:
                other_node, other_token = node, token
                break
            node = node.children[token]
        return cls(intents, quantities, no_product_bias, other_bias, other_node, other_token, attribute_bias, word_bias)


def build_product_trie(tokenize: Tokenize, catalog: Sequence[str]) -> Node:
    end = tokenize(END)
    # "Not in catalog" goes first so it wins a tie with an entry spelled like it (a product named
    # "-"): an unlisted product must never become an action on the wrong one.
    entries: list[tuple[list[int], Any]] = [(tokenize(product_piece(None)) + end, None)]
    entries += [(tokenize(product_piece(p)) + end, p) for p in catalog]
    root = build_trie(entries)
    node, branch = root, None
    for token in entries[0][0]:
        if len(node.children) > 1:
            branch = (node, token)
        node = node.children[token]
    if branch is not None:
        branch[0].no_product_token = branch[1]
    _collect_entries(root)
    return root


def _collect_entries(root: Node) -> None:
    """Fill ``Node.entries`` and ``Node.height`` bottom-up (a loop, not recursion: an entry may be
    thousands of tokens)."""
    order, stack = [], [root]
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(node.children.values())
    for node in reversed(order):  # children before their parent
        own = {node.value} if node.terminal else set()
        node.entries = frozenset(own.union(*(child.entries for child in node.children.values())))
        node.height = 1 + max((child.height for child in node.children.values()), default=0)


@dataclass(frozen=True)
class Answer:
    intent: str
    product: str | None
    quantity: int | None
    confidence: float
    decisions: int


@dataclass
class _Cursor:
    stage: str  # "intent" | "quantity" | "product"
    node: Node
    intent: str | None = None
    quantity: int | None = None


class AnswerDecoder:
    """Drives one answer. Protocol: feed ``pending`` to the model, then call ``choose`` with the
    logits of the last fed position (indexable by token id), until ``done``. ``text`` is the
    shopper's message: its numbers, codes and words steer the product choice (``Grammar.attribute_bias``,
    ``Grammar.word_bias``)."""

    def __init__(self, grammar: Grammar, products: Node, text: str = "") -> None:
        self.grammar = grammar
        self.products = products
        self._attributes = text_attributes(text) if grammar.attribute_bias and text else frozenset()
        self._words = text_words(text) if grammar.word_bias and text else frozenset()
        self._word_counts: dict[str, int] = {}  # entry -> word_agreement, filled as branches are met
        self.pending: list[int] = []
        self.log_prob = 0.0
        self.decisions = 0
        self.answer: Answer | None = None
        self._cursors = [_Cursor("intent", grammar.intents)]
        self._advance()

    @property
    def done(self) -> bool:
        return self.answer is not None

    def allowed(self) -> list[int]:
        return sorted({t for c in self._cursors for t in c.node.children})

    def fork(self) -> AnswerDecoder:
        twin = AnswerDecoder.__new__(AnswerDecoder)
        twin.__dict__.update(self.__dict__)
        twin.pending = list(self.pending)
        twin._cursors = list(self._cursors)
        return twin

    def intent_choices(self) -> dict[str, int]:
        """At the first decision: the first token of each action intent (the draft lanes)."""
        first: dict[str, int] = {}
        at = [c.node for c in self._cursors if c.stage == "intent"]
        for token, child in (at[0].children.items() if len(at) == 1 else ()):
            node = child
            while not node.terminal and len(node.children) == 1:
                node = next(iter(node.children.values()))
            if node.terminal and node.value != OTHER:
                first[node.value] = token
        return first

    def draft(self, first: int, guesses: list[int]) -> tuple[list[int], list[int]]:
        """Tokens that follow if the model picks ``first`` now and then the ``guesses`` in turn
        (forced tokens included), and the offsets in them whose logits make the next decisions.

        The engine feeds a draft together with the real tokens; ``choose`` on each row then
        verifies it, and the engine rolls the KV cache back past the first wrong guess.
        """
        sim = self.fork()
        sim.pending = []
        sim._take(first)
        sim._advance()
        tokens, checks = list(sim.pending), []
        sim.pending = []
        forced = tokens[1:]
        # Guesses may repeat what was forced already, e.g. the space before a quantity's digits.
        overlap = next((k for k in range(min(len(forced), len(guesses)), 0, -1) if guesses[:k] == forced[-k:]), 0)
        guesses = guesses[overlap:]
        for guess in guesses:
            if sim.done or guess not in sim.allowed():
                break
            checks.append(len(tokens) - 1)
            sim._take(guess)
            sim._advance()
            tokens += sim.pending
            sim.pending = []
        if not sim.done:
            checks.append(len(tokens) - 1)
        return tokens, checks

    def choose(self, logits: Any) -> None:
        allowed = self.allowed()
        scores = [float(logits[t]) for t in allowed]
        if self.grammar.no_product_bias:
            branches = {c.node.no_product_token for c in self._cursors if c.stage == "product"}
            for token in set(allowed) & branches:  # set[int]: None is never allowed
                scores[allowed.index(token)] += self.grammar.no_product_bias
        other = self.grammar.other_token
        if self.grammar.other_bias and other in allowed and any(
            c.stage == "intent" and c.node is self.grammar.other_node for c in self._cursors
        ):
            scores[allowed.index(other)] += self.grammar.other_bias
        if (self._attributes or self._words) and any(c.stage == "product" for c in self._cursors):
            self._agree(allowed, scores)
        best = max(range(len(allowed)), key=scores.__getitem__)
        top = scores[best]
        self.log_prob += -math.log(sum(math.exp(s - top) for s in scores))  # log softmax of the best
        self.decisions += 1
        self._take(allowed[best])
        self._advance()

    # -- internals --------------------------------------------------------------------------
    def _agree(self, allowed: list[int], scores: list[float]) -> None:
        """Take ``attribute_bias`` per attribute, and ``word_bias`` per word, that a product branch
        names less than the best branch.

        Branches are scored by their best entry, for each rule apart. Where a quantity may still go
        on (its next digit) the digits keep their scores: only product branches that the text speaks
        against lose. "Not in catalog" names nothing, so it loses wherever an entry agrees.
        """
        attributes: dict[int, int] = {}
        words: dict[int, int] = {}
        for cursor in self._cursors:
            if cursor.stage != "product":
                continue
            for i, token in enumerate(allowed):
                child = cursor.node.children.get(token)
                if child is None:
                    continue
                entries = [e for e in child.entries if e is not None]
                if self._attributes:
                    attributes[i] = max([attributes.get(i, 0)] + [agreement(e, self._attributes, cursor.quantity)
                                                                  for e in entries])
                if self._words:
                    words[i] = max([words.get(i, 0)] + [self._word_count(e) for e in entries])
        for agree, bias in ((attributes, self.grammar.attribute_bias), (words, self.grammar.word_bias)):
            if agree and max(agree.values()) > min(agree.values()):  # the text tells the branches apart
                best = max(agree.values())
                for i, n in agree.items():
                    scores[i] -= bias * (best - n)

    def _word_count(self, entry: str) -> int:
        count = self._word_counts.get(entry)
        if count is None:
            count = self._word_counts[entry] = word_agreement(entry, self._words)
        return count

    def _take(self, token: int) -> None:
        self.pending.append(token)
        self._cursors = [
            _Cursor(c.stage, c.node.children[token], c.intent, c.quantity) for c in self._cursors if token in c.node.children
        ]

    def _expand(self) -> tuple[list[_Cursor], list[Answer]]:
        """Follow terminals into the next stage; collect finished answers."""
        live: list[_Cursor] = []
        finished: list[Answer] = []
        stack = list(self._cursors)
        while stack:
            c = stack.pop()
            if c.node.children:
                live.append(c)
            if not c.node.terminal:
                continue
            if c.stage == "intent":
                if c.node.value == OTHER:
                    finished.append(self._answer(OTHER, None, None))
                else:
                    stack.append(_Cursor("quantity", self.grammar.quantities, c.node.value))
            elif c.stage == "quantity":
                stack.append(_Cursor("product", self.products, c.intent, c.node.value))
            else:
                finished.append(self._answer(c.intent or OTHER, c.node.value, c.quantity))
        return live, finished

    def _answer(self, intent: str, product: str | None, quantity: int | None) -> Answer:
        return Answer(intent, product, quantity, math.exp(self.log_prob), self.decisions)

    def _advance(self) -> None:
        while True:
            live, finished = self._expand()
            self._cursors = live
            if finished and not live:
                self.answer = finished[0]
                self.pending = []
                return
            if not live:
                raise RuntimeError("the grammar has no way forward")  # cannot happen with well-formed tries
            allowed = self.allowed()
            if len(allowed) > 1:
                return
            self._take(allowed[0])  # forced: no decision, no model call
