"""How many product names the base model can put into each language on its own (no fine-tune).

    python -m training.probe_lexicon                      # Gemma 3 270M, every hand-described product
    python -m training.probe_lexicon --limit 40 --show 5

The fine-tune teaches the task; the words must come from pretraining. A test row that names
Grapes as "Weintrauben" is only answerable if the base already links the two. This probe asks the
base model, few-shot and greedy, for each product's name in each language ("English: grapes /
German: ...") and counts an answer right when it matches one of our hand-written forms for that
product (any form, diacritics and case ignored, or a form contained in the answer). Forms the model
produces but we did not list count as wrong, so the rate is a lower bound, but a telling one.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tqdm import tqdm

from app.core.models import packaged_gguf
from training.data.generate import strip_diacritics
from training.data.products import PRODUCTS

NAMES = {"hr": "Croatian", "es": "Spanish", "de": "German", "fr": "French", "it": "Italian"}
# Shots: common words not in the product table, so no answer is copied from the prompt.
SHOTS = {
    "hr": [("chair", "stolica"), ("window", "prozor"), ("spoon", "žlica")],
    "es": [("chair", "silla"), ("window", "ventana"), ("spoon", "cuchara")],
    "de": [("chair", "Stuhl"), ("window", "Fenster"), ("spoon", "Löffel")],
    "fr": [("chair", "chaise"), ("window", "fenêtre"), ("spoon", "cuillère")],
    "it": [("chair", "sedia"), ("window", "finestra"), ("spoon", "cucchiaio")],
}


def fold(text: str) -> str:
    return strip_diacritics(text.casefold().replace("œ", "oe").strip(" .,'\""))


def main(argv: list[str] | None = None) -> None:
    from llama_cpp import Llama

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="gemma3-270m")
    parser.add_argument("--limit", type=int, help="only the first N products")
    parser.add_argument("--show", type=int, default=3, help="misses to print per language")
    args = parser.parse_args(argv)
    llm = Llama(str(Path(packaged_gguf(args.base))), n_ctx=256, n_threads=2, verbose=False)
    products = PRODUCTS[: args.limit]
    print(f"{args.base}: few-shot product names, {len(products)} products, greedy, matched against our forms")
    for language, name in NAMES.items():
        shots = "".join(f"English: {en}\n{name}: {word}\n\n" for en, word in SHOTS[language])
        right, misses = 0, []
        for product in tqdm(products, desc=language, leave=False):
            english = product.forms["en"][0].singular
            prompt = f"{shots}English: {english}\n{name}:"
            answer = fold(llm(prompt, max_tokens=10, temperature=0.0, stop=["\n"])["choices"][0]["text"])
            known = {fold(s) for f in product.forms[language] for s in (f.singular, f.plural)}
            if answer and (answer in known or any(k in answer for k in known if len(k) >= 3)):
                right += 1
            else:
                misses.append(f"{english} -> {answer!r}")
        print(f"{language}: {right}/{len(products)} = {right / len(products):.2f}   misses e.g. {'; '.join(misses[: args.show])}")


if __name__ == "__main__":
    main()
