"""The task itself, in one place: the intents, the languages, and the answer's fixed vocabulary.

Imported by the API, the backends, the decoder, training and the benchmarks alike, so it imports
nothing of the project and nothing outside the standard library (the GPU check's bare image has no
pydantic). The strings are wire values: API responses, the dataset's rows and the trained model's
answers all spell them exactly so.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

# -- intents ----------------------------------------------------------------------------------
Intent = Literal["add_to_cart", "remove_from_cart", "other"]
ADD: Final = "add_to_cart"
REMOVE: Final = "remove_from_cart"
OTHER: Final = "other"
INTENTS: Final[tuple[Intent, ...]] = (ADD, REMOVE, OTHER)
ACTIONS: Final[tuple[Intent, ...]] = (ADD, REMOVE)  # the cart actions: they name a product and a quantity

# Each intent's one-word name: the study's JSON ``action`` and the phrase banks' keys.
SHORT_NAMES: Final[dict[str, str]] = {ADD: "add", REMOVE: "remove", OTHER: "other"}

# -- languages ----------------------------------------------------------------------------------
Language = Literal["en", "hr", "es", "de", "fr", "it"]
LANGUAGES: Final[tuple[Language, ...]] = get_args(Language)

# -- the compact answer: ``intent [quantity product] end``, each piece tokenized on its own -------
# The model was trained on exactly these pieces (see app.prompt): changing one needs retraining.
INTENT_WORDS: Final[dict[str, str]] = {ADD: " add", REMOVE: " remove", OTHER: " other"}
WORD_TO_INTENT: Final[dict[str, str]] = {word: intent for intent, word in INTENT_WORDS.items()}
NO_PRODUCT: Final = " -"  # the product piece of an action on a product the catalog lacks
END: Final = "\n"

assert set(INTENTS) == set(get_args(Intent)) == set(SHORT_NAMES) == set(INTENT_WORDS)
