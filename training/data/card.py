"""The dataset card: counts, overlap between splits, and examples, as Markdown."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.domain import INTENTS, OTHER

if TYPE_CHECKING:
    from training.data.generate import DataConfig, Row


def _bucket_quantity(quantity: int | None) -> str:
    if quantity is None:
        return "null (other)"
    if quantity == 1:
        return "1"
    if quantity <= 5:
        return "2-5"
    if quantity <= 20:
        return "6-20"
    return "21+"


def _bucket_catalog(size: int) -> str:
    return "3-7" if size <= 7 else "8-13" if size <= 13 else "14-20" if size <= 20 else "21+"


def _table(title: str, counters: dict[str, Counter[str]], keys: list[str]) -> list[str]:
    splits = list(counters)
    lines = [f"### {title}", "", "| " + " | ".join([title.split(" by ")[-1], *splits]) + " |",
             "|" + "---|" * (len(splits) + 1)]
    for key in keys:
        lines.append("| " + " | ".join([key, *(str(counters[s][key]) for s in splits)]) + " |")
    return [*lines, ""]


def overlap(splits: dict[str, list[Row]]) -> dict[str, int]:
    texts = {name: {row.text.casefold() for row in rows} for name, rows in splits.items()}
    names = list(texts)
    return {f"{a}/{b}": len(texts[a] & texts[b]) for i, a in enumerate(names) for b in names[i + 1 :]}


def write_card(path: Path, splits: dict[str, list[Row]], config: DataConfig) -> None:
    def count(key: Any) -> dict[str, Counter[str]]:
        return {name: Counter(key(row) for row in rows) for name, rows in splits.items()}

    by_language = count(lambda r: r.language)
    by_intent = count(lambda r: r.intent)
    by_quantity = count(lambda r: _bucket_quantity(r.quantity))
    by_catalog = count(lambda r: _bucket_catalog(len(r.catalog)))
    by_product = count(lambda r: "in catalog" if r.product else ("missing from catalog" if r.intent != OTHER else "n/a (other)"))
    lines = [
        "# Dataset card: shopintent cart commands",
        "",
        "Synthetic shopper messages in six languages, each with the catalog in view and the gold",
        "`intent`, `product` (exact catalog entry or null) and `quantity`. Made by",
        "`make data` (`python -m training.data.generate`), deterministic for the seed below.",
        "",
        f"- seed: {config.seed}; rows: " + ", ".join(f"{k} {len(v)}" for k, v in splits.items()),
        "- products: 207 hand-described ones (forms in six languages) plus 160 open-vocabulary English names;",
        "  53 of the latter appear only in test",
        "- the test split uses only held-out phrase templates; half its rows name the product in a held-out wording",
        *(["- the dev split uses only its own hand-written templates and product wordings (`training/data/dev.py`),",
           "  new to training and not test's; it chooses checkpoints and the decoding bias"] if "dev" in splits else []),
        *([f"- training names trained open-vocabulary products in the shopper's language in {config.p_open_translated:.0%} "
           "of their rows (`training/data/open_translations.py`)"] if config.p_open_translated else []),
        "- identical texts across splits (case-insensitive): "
        + ", ".join(f"{k} {v}" for k, v in overlap(splits).items()),
        "",
    ]
    lines += _table("Rows by language", by_language, sorted(config.languages))
    lines += _table("Rows by intent", by_intent, list(INTENTS))
    lines += _table("Rows by product", by_product, ["in catalog", "missing from catalog", "n/a (other)"])
    lines += _table("Rows by quantity", by_quantity, ["1", "2-5", "6-20", "21+", "null (other)"])
    lines += _table("Rows by catalog size", by_catalog, ["3-7", "8-13", "14-20"])
    by_tag: dict[str, Counter[str]] = {name: Counter(t for row in rows for t in row.tags) for name, rows in splits.items()}
    tags = sorted({t for counter in by_tag.values() for t in counter})
    lines += ["Tags say how a row was made: `unseen_form` (product named in a wording held out of training),",
              "`unseen_product` (an open-vocabulary product held out of training entirely), `held_out_template`,",
              "`distractor`, `correction`, `missing_product`, `code_switch`, `typo`, `no_diacritics`, `voice`, `emoji`.", ""]
    lines += _table("Rows by tag", by_tag, tags)
    lines += ["## Examples (test split)", "", "| lang | text | intent | product | qty | catalog size |",
              "|---|---|---|---|---|---|"]
    seen: set[tuple[str, str]] = set()
    for row in splits["test"]:
        key = (row.language, row.intent)
        if key in seen:
            continue
        seen.add(key)
        text = row.text.replace("|", "\\|")
        lines.append(f"| {row.language} | {text} | {row.intent} | {row.product} | {row.quantity} | {len(row.catalog)} |")
    lines += ["", "## Config", "", "```", *(f"{k}: {v}" for k, v in asdict(config).items()), "```", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
