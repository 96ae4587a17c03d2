"""Write a shop's products into the entry store before shoppers send them, so that no request pays
for an entry's first evaluation (~35 ms of model time per entry on 2 cores; reading a stored one back
costs ~0.2 ms).

    python -m app.preload products.txt        # one catalog entry per line, as the storefront sends it
    python -m app.preload data/test.jsonl     # or JSONL rows with a "catalog" list
    make preload PRODUCTS=products.txt

It builds the engine `make run` serves, from the same SHOPINTENT_* settings, so the states are the
served model's (the store is per model: ``SHOPINTENT_ENTRY_STORE_DIR``, bounded by
``SHOPINTENT_ENTRY_STORE_MB``). Entries already stored are skipped. A running service reads the
store's index when it starts: preload first, or restart it after. About 4 minutes for 6,700 entries
on a 2-core AVX2 machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from tqdm import tqdm

from app.core.config import Settings


def read_entries(path: Path, max_chars: int) -> list[str]:
    """Distinct entries of a text file (one per line) or JSONL (rows with "catalog"), in first-seen
    order. Lines that the API would refuse as a catalog entry are reported and skipped."""
    entries: dict[str, None] = {}
    skipped = 0
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if path.suffix == ".jsonl":
                if not line.strip():
                    continue
                try:
                    items = json.loads(line)["catalog"]
                except (json.JSONDecodeError, KeyError, TypeError) as error:
                    raise SystemExit(f"{path}:{n}: not a JSON row with a \"catalog\" list ({error})") from None
            else:
                items = [line.rstrip("\n")]
            for item in items:
                text = str(item)
                if not text.strip():
                    continue
                if text != text.strip() or len(text) > max_chars or any(ord(c) < 32 for c in text):
                    skipped += 1
                    continue
                entries[text] = None
    if skipped:
        print(f"skipped {skipped} entries the API would refuse (whitespace at an end, control characters, "
              f"over {max_chars} characters)", file=sys.stderr)
    return list(entries)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("products", type=Path, help="a text file (one entry per line) or JSONL with catalogs")
    args = parser.parse_args(argv)
    if not args.products.is_file():
        parser.error(f"{args.products} does not exist")

    from app.backends.engine import engine_config
    from app.backends.llamacpp import LlamaCppBackend

    settings = Settings(warmup=False)
    entries = read_entries(args.products, settings.max_item_chars)
    config = engine_config(settings)
    if config.catalog_layout != "entries" or config.entry_store_mb <= 0:
        print("error: the entry store needs SHOPINTENT_CATALOG_LAYOUT=entries and SHOPINTENT_ENTRY_STORE_MB > 0",
              file=sys.stderr)
        return 2
    backend = LlamaCppBackend(config)
    backend.start()
    started = time.perf_counter()
    try:
        steps = backend.preload(entries)
        already = next(steps)
        with tqdm(total=len(entries), initial=already, unit="entry", desc="preloading") as bar:
            for done in steps:
                bar.update(done)
        stored = sum(backend.stored(entry) for entry in entries)
    finally:
        backend.close()
    print(f"{len(entries)} entries: {already} were stored already, {stored} stored now "
          f"({time.perf_counter() - started:.0f} s) in {config.entry_store_dir}")
    if stored < len(entries):
        print(f"{len(entries) - stored} did not fit: raise SHOPINTENT_ENTRY_STORE_MB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
