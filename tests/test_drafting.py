"""The drafted first step without a model: a deterministic fake model and one token per answer piece.

The engine's protocol (``plan_lanes`` -> one call -> ``choose`` -> ``followed_lane`` -> ``verify``)
must give exactly the answer, and the confidence, of plain step-by-step decoding; only the number
of model calls may differ."""

from __future__ import annotations

from collections import defaultdict

import pytest

from app.backends.drafting import Lane, followed_lane, guess_tokens, plan_lanes, verify
from app.backends.llama_context import Entry
from app.core import metrics
from app.decoding import AnswerDecoder, Grammar, build_product_trie

CATALOG = ["Milk", "Bread", "Oat Milk"]
PROMPT_TOKEN = 10_000


class PieceTokenizer:
    """One token per piece (" add", " 12", " Oat Milk", "\\n"): every decision is a single token."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def __call__(self, text: str) -> list[int]:
        return [self.ids.setdefault(text, len(self.ids))]


TOK = PieceTokenizer()
GRAMMAR = Grammar.build(TOK, max_quantity=20)
PRODUCTS = build_product_trie(TOK, CATALOG)


def answer(*pieces: str) -> list[int]:
    return [TOK(p)[0] for p in pieces]


def fake_model(target: list[int]):  # type: ignore[no-untyped-def]
    """Logits after an answer prefix: the target's next token scores 3 nats, every other token 0
    (a confident but not certain model, so confidences are comparable)."""

    def logits(prefix: list[int]) -> defaultdict[int, float]:
        scores: defaultdict[int, float] = defaultdict(float)
        if prefix == target[: len(prefix)] and len(prefix) < len(target):
            scores[target[len(prefix)]] = 3.0
        return scores

    return logits


def plain(target: list[int]) -> tuple[AnswerDecoder, int]:
    model, decoder, fed, calls = fake_model(target), AnswerDecoder(GRAMMAR, PRODUCTS), [], 0
    while not decoder.done:
        fed += decoder.pending
        decoder.pending = []
        decoder.choose(model(fed))
        calls += 1
    return decoder, calls


def drafted(target: list[int], guess: str, budget: int = 64, rows: int = 8
            ) -> tuple[AnswerDecoder, int, list[Lane], Lane | None, int]:
    """The engine's drafted first step on sequences 0 and 1, then plain steps."""
    model, decoder = fake_model(target), AnswerDecoder(GRAMMAR, PRODUCTS)
    entries: list[Entry] = [(PROMPT_TOKEN, 7, (0, 1), True)]  # the text's last token: row 0
    lanes = plan_lanes(decoder, (0, 1), guess_tokens(TOK, guess, 20), 8, entries, budget, rows)
    owner = {row: (lane, offset) for lane in lanes for offset, row in lane.rows.items()}

    def row_logits(row: int) -> defaultdict[int, float]:
        if row == 0:
            return model([])
        lane, offset = owner[row]
        assert entries[row][2] == (lane.seq,) and entries[row][3]
        return model(lane.tokens[: offset + 1])

    decoder.choose(row_logits(0))
    lane = followed_lane(decoder, lanes)
    accepted = verify(decoder, lane, row_logits) if lane is not None else 0
    fed, calls = (lane.tokens[:accepted] if lane is not None else []), 1
    while not decoder.done:
        fed += decoder.pending
        decoder.pending = []
        decoder.choose(model(fed))
        calls += 1
    return decoder, calls, lanes, lane, accepted


def same_answer(a: AnswerDecoder, b: AnswerDecoder) -> bool:
    assert a.answer is not None and b.answer is not None
    return (a.answer.intent, a.answer.product, a.answer.quantity) == (b.answer.intent, b.answer.product,
                                                                      b.answer.quantity) and \
        a.answer.confidence == pytest.approx(b.answer.confidence, abs=1e-12)


def test_lanes_draft_add_and_remove_on_their_own_sequences() -> None:
    decoder = AnswerDecoder(GRAMMAR, PRODUCTS)
    entries: list[Entry] = [(PROMPT_TOKEN, 7, (0, 1), True)]
    lanes = plan_lanes(decoder, (0, 1), answer(" 2"), 8, entries, 64, 8)
    assert [lane.seq for lane in lanes] == [0, 1]
    assert [lane.tokens for lane in lanes] == [answer(" add", " 2"), answer(" remove", " 2")]
    assert entries[1:] == [(t, 8 + k, (lane.seq,), True) for lane in lanes for k, t in enumerate(lane.tokens)]
    assert lanes[0].rows == {0: 1, 1: 2} and lanes[1].rows == {0: 3, 1: 4}


@pytest.mark.parametrize(
    ("pieces", "guess", "lane_seq", "accepted", "calls"),
    [
        ((" add", " 2", " Milk", "\n"), "add 2 milk", 0, 2, 1),  # the whole answer in one call
        ((" remove", " 2", " Oat Milk", "\n"), "remove 2 oat milk", 1, 2, 1),  # the second lane
        ((" add", " 3", " Bread", "\n"), "add 2 bread", 0, 1, 2),  # wrong guess: " add" kept, " 2" rolled back
        ((" other", "\n"), "is 2 milk fresh?", None, 0, 1),  # no lane followed
        ((" add", " 1", " -", "\n"), "add some cheese", 0, 2, 1),  # no number: the guess is 1
    ],
)
def test_a_drafted_first_step_gives_the_plain_answer(pieces: tuple[str, ...], guess: str, lane_seq: int | None,
                                                     accepted: int, calls: int) -> None:
    target = answer(*pieces)
    accepted_before = metrics.DRAFT_TOKENS.labels("accepted")._value.get()
    rejected_before = metrics.DRAFT_TOKENS.labels("rejected")._value.get()
    reference, plain_calls = plain(target)
    got, got_calls, _lanes, lane, got_accepted = drafted(target, guess)
    assert same_answer(got, reference)
    assert (lane.seq if lane else None, got_accepted, got_calls) == (lane_seq, accepted, calls)
    assert got_calls <= plain_calls
    if lane is not None:
        assert metrics.DRAFT_TOKENS.labels("accepted")._value.get() == accepted_before + accepted
        assert metrics.DRAFT_TOKENS.labels("rejected")._value.get() == rejected_before + len(lane.tokens) - accepted


def test_lanes_that_do_not_fit_the_call_are_left_out() -> None:
    target = answer(" remove", " 2", " Bread", "\n")
    reference, _ = plain(target)
    for budget, rows, n_lanes in ((3, 8, 1), (1, 8, 0), (64, 3, 1), (64, 1, 0)):
        got, _, lanes, lane, _ = drafted(target, "2", budget=budget, rows=rows)
        assert len(lanes) == n_lanes and (lane is None) == (n_lanes < 2)
        assert same_answer(got, reference)
