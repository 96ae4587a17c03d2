"""The request limits of the app's settings: checked on each body, and stated in the app's OpenAPI schema.

Pydantic checks a body's structure (``app.schemas``); how much text, how many catalog entries and
batch items a deployment accepts are its settings, the ones ``create_app(settings)`` was given. A
body over a limit is refused as pydantic's own errors are: 422 ``invalid_request``, with the field
and message in the details. Limits are checked once the structure is valid.
"""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError

from app.core.config import Settings
from app.schemas import BatchRequest, ClassifyRequest

Loc = tuple[str | int, ...]


def check_classify(body: ClassifyRequest, settings: Settings) -> None:
    _raise(classify_errors(body, settings, ("body",)))


def check_batch(body: BatchRequest, settings: Settings) -> None:
    """Each item's limits first; the batch size only when every item is within them."""
    errors = [e for i, item in enumerate(body.items) for e in classify_errors(item, settings, ("body", "items", i))]
    if not errors and len(body.items) > settings.max_batch_items:
        errors.append(_error(("body", "items"), f"batch has {len(body.items)} items; the limit is {settings.max_batch_items}"))
    _raise(errors)


def classify_errors(body: ClassifyRequest, settings: Settings, loc: Loc) -> list[dict[str, Any]]:
    """At most one error per field, in field order (pydantic's order for its own errors)."""
    errors = []
    if len(body.text) > settings.max_text_chars:
        errors.append(_error((*loc, "text"), f"text is {len(body.text)} characters; the limit is {settings.max_text_chars}"))
    catalog = body.catalog
    if len(catalog) > settings.max_catalog_items:
        errors.append(_error((*loc, "catalog"), f"catalog has {len(catalog)} items; the limit is {settings.max_catalog_items}"))
    else:
        for i, item in enumerate(catalog):
            if len(item) > settings.max_item_chars:
                message = f"catalog[{i}] is {len(item)} characters; the limit is {settings.max_item_chars}"
                errors.append(_error((*loc, "catalog"), message))
                break
    return errors


def document_limits(openapi: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The limits in the request schemas (``maxLength``, ``maxItems``), so clients and fuzzers see them."""
    schemas = openapi["components"]["schemas"]
    text, catalog = (schemas["ClassifyRequest"]["properties"][name] for name in ("text", "catalog"))
    _bound(text, "maxLength", settings.max_text_chars)
    _bound(catalog, "maxItems", settings.max_catalog_items)
    _bound(catalog["items"], "maxLength", settings.max_item_chars)
    _bound(schemas["BatchRequest"]["properties"]["items"], "maxItems", settings.max_batch_items)
    return openapi


def _bound(schema: dict[str, Any], key: str, value: int) -> None:
    """Set ``maxLength``/``maxItems`` right before its ``min`` twin, where pydantic puts it."""
    entries = list(schema.items())
    schema.clear()
    for name, old in entries:
        if name == "min" + key.removeprefix("max"):
            schema[key] = value
        if name != key:
            schema[name] = old
    schema.setdefault(key, value)


def _error(loc: Loc, message: str) -> dict[str, Any]:
    return {"type": "value_error", "loc": loc, "msg": f"Value error, {message}"}


def _raise(errors: list[dict[str, Any]]) -> None:
    if errors:
        raise RequestValidationError(errors)
