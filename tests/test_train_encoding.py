"""How training lays out a row with independent entries (no torch, no model): the positions and
segments the attention mask is built from must be the ones the engine serves with."""

from __future__ import annotations

from typing import Any

from app.prompt import ENTRY_HEADER, USER_CUE, entry_piece, query_suffix
from training.train import IGNORE, encode


class CharTokenizer:
    """One token per character; BOS is 0. Enough to see where every piece lands."""

    eos_token_id = 1

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict[str, list[int]]:
        ids = [ord(c) for c in text]
        return {"input_ids": ([0] if add_special_tokens else []) + ids}


ROW: dict[str, Any] = {"text": "add 2 milk", "catalog": ["Milk", "Oat Milk", "Eggs"], "intent": "add_to_cart",
                       "product": "Milk", "quantity": 2}


def test_every_entry_starts_right_after_the_header_and_the_text_after_the_widest() -> None:
    ex = encode(CharTokenizer(), ROW, "compact", independent=True)
    assert ex.positions is not None and ex.segments is not None
    header = 1 + len(ENTRY_HEADER)
    widths = [len(entry_piece(e)) for e in ROW["catalog"]]
    assert ex.positions[:header] == list(range(header)) and set(ex.segments[:header]) == {0}
    start = header
    for i, width in enumerate(widths, start=1):
        assert ex.segments[start : start + width] == [i] * width
        assert ex.positions[start : start + width] == list(range(header, header + width))
        start += width
    tail = len(ex.ids) - start
    assert ex.segments[start:] == [-1] * tail
    assert ex.positions[start:] == list(range(header + max(widths), header + max(widths) + tail))
    prompt_tail = len(USER_CUE) + len(query_suffix(ROW["text"]))
    assert all(label == IGNORE for label in ex.labels[: start + prompt_tail])
    assert all(label != IGNORE for label in ex.labels[start + prompt_tail :])


def test_the_causal_layout_is_the_prompt_as_before() -> None:
    ex = encode(CharTokenizer(), ROW, "compact")
    assert ex.positions is None and ex.segments is None
    same = encode(CharTokenizer(), {**ROW, "catalog": list(reversed(ROW["catalog"]))}, "compact", independent=True)
    assert same.ids != ex.ids  # a different token layout (pieces tokenized on their own)
