"""Language identification of the shopper's text, restricted to the languages we serve."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from app.domain import LANGUAGES


@lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    return identifier


def detect_language(text: str) -> str:
    """ISO 639-1 code among ours (py3langid, restricted to them). On a text of a few words it is a
    guess: a client that knows the shopper's language sends ``language`` and skips it."""
    code, _probability = _identifier().classify(text)
    return str(code)
