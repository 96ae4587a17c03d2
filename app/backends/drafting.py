"""Drafting a request's whole answer into its first model call, and verifying the draft.

At a request's first decision the engine holds two work sequences for it. Beside the request's
last prompt token it feeds one lane per action intent: " add <guessed quantity> ..." on the first
sequence and " remove <guessed quantity> ..." on the second (the guess is the last number in the
text), with logits at every decision point of the lane. If the model's choices follow a lane, the
whole answer costs this one call instead of three; if not, the engine keeps what the model
confirmed and rolls the KV cache back past it. Drafted answers are the model's own: each drafted
token is accepted only where the decoder, given the logits of the row before it, chose it.

Protocol, per drafted first step (the engine owns the KV sequences and the model call):

1. ``plan_lanes`` appends the lanes' rows to the batch (within the call's token and logits-row
   budgets; a lane that does not fit is left out, and so are those after it).
2. After the call: ``decoder.choose(logits of the prompt's last row)``, then ``followed_lane``
   names the lane whose first token the decoder chose, if any. The engine keeps that lane's
   sequence (else the first one) and drops the other.
3. ``verify`` walks the followed lane, choosing at each of its logits rows while the decoder's
   choices match the draft; it returns the number of drafted tokens accepted. The engine then
   drops the main sequence's cells after the accepted ones (whenever lanes were fed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.core import metrics
from app.decoding import AnswerDecoder, Tokenize
from app.numbers import guess_quantity
from app.prompt import quantity_piece

if TYPE_CHECKING:
    from app.backends.llama_context import Entry


@dataclass
class Lane:
    seq: int
    tokens: list[int]
    rows: dict[int, int]  # draft offset -> batch index whose logits decide the next token


def guess_tokens(tokenize: Tokenize, text: str, max_quantity: int) -> list[int]:
    """The quantity a lane guesses, as tokens: the last number in the text (else 1)."""
    return tokenize(quantity_piece(guess_quantity(text, max_quantity)))


def plan_lanes(decoder: AnswerDecoder, seqs: tuple[int, ...], guesses: list[int], pos: int,
               entries: list[Entry], budget: int, rows: int) -> list[Lane]:
    """Append one draft lane per action intent to ``entries``, lane k on ``seqs[k]`` from position
    ``pos``, within ``budget`` more tokens and ``rows`` more logits rows."""
    lanes: list[Lane] = []
    for (_intent, first), seq in zip(decoder.intent_choices().items(), seqs, strict=False):
        tokens, checks = decoder.draft(first, guesses)
        if len(tokens) > budget or len(checks) > rows:
            break
        start = len(entries)
        for k, tok in enumerate(tokens):
            entries.append((tok, pos + k, (seq,), k in checks))
        lanes.append(Lane(seq, tokens, {k: start + k for k in checks}))
        budget -= len(tokens)
        rows -= len(checks)
    return lanes


def followed_lane(decoder: AnswerDecoder, lanes: list[Lane]) -> Lane | None:
    """After the first ``choose``: the lane that starts with the token the decoder chose."""
    return next((lane for lane in lanes if not decoder.done and lane.tokens[:1] == decoder.pending[:1]), None)


def verify(decoder: AnswerDecoder, lane: Lane, logits: Callable[[int], Any]) -> int:
    """Accept the lane's tokens while the decoder's choices match them, one decision row at a time.
    Returns how many were accepted; ``decoder.pending`` is left with the choice that broke off."""
    accepted = 0
    while True:
        chosen = decoder.pending
        if lane.tokens[accepted : accepted + len(chosen)] != chosen:
            break
        accepted += len(chosen)
        decoder.pending = []
        if decoder.done or (accepted - 1) not in lane.rows:
            break
        decoder.choose(logits(lane.rows[accepted - 1]))
    metrics.DRAFT_TOKENS.labels("accepted").inc(accepted)
    metrics.DRAFT_TOKENS.labels("rejected").inc(len(lane.tokens) - accepted)
    return accepted
