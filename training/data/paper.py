"""Export rows in the study's exact format (Licardo & Tanković, arXiv 2510.21970).

    python -m training.data.paper data/test.jsonl data/paper_test.jsonl [--include-other]

Prompt ``Catalog:\\n<one product per line>\\n\\nUser:\\n<text>``, completion
``{"action": "add"|"remove", "product": ..., "quantity": N}``. The study has no rejection
class, so "other" rows are left out unless asked for (then ``"action": "other"``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from app.domain import OTHER
from app.prompt import paper_completion, paper_prompt


def export_paper(rows: Iterable[Any], out: Path, include_other: bool = False) -> Path:
    with Path(out).open("w", encoding="utf-8") as f:
        for row in rows:
            record = asdict(row) if is_dataclass(row) else dict(row)
            if record["intent"] == OTHER and not include_other:
                continue
            f.write(json.dumps({
                "prompt": paper_prompt(record["catalog"], record["text"]),
                "completion": paper_completion(record["intent"], record["product"], record["quantity"]),
            }, ensure_ascii=False) + "\n")
    return Path(out)


def main() -> None:
    from training.jsonl import read_jsonl

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source")
    parser.add_argument("out")
    parser.add_argument("--include-other", action="store_true")
    args = parser.parse_args()
    print(export_paper(read_jsonl(args.source), Path(args.out), args.include_other))


if __name__ == "__main__":
    main()
