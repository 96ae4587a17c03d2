"""Request and response bodies of the public API.

The models check a body's structure. The sizes a deployment allows (text length, catalog and batch
items) are the app's settings: ``app.api.limits`` checks them per app and adds them to its OpenAPI schema.
"""

from __future__ import annotations

import unicodedata

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.domain import Intent, Language

# Control characters and line breaks: they would break the one-entry-per-line prompt.
_CONTROL = "\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029"
ITEM_PATTERN = f"^[^\\s{_CONTROL}](?:[^{_CONTROL}]*[^\\s{_CONTROL}])?$"
TEXT_PATTERN = f"[^\\s{_CONTROL}]"


def _is_control(c: str) -> bool:
    return unicodedata.category(c) in {"Cc", "Zl", "Zp"}


class ClassifyRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"text": "dodaj 2 jastuka u košaricu", "catalog": ["Pillow", "Duvet", "Bed Sheets"]},
                {"text": "is the coconut water sugar free?", "catalog": ["Coconut Water (330ml can)", "Cola"]},
            ]
        },
    )

    text: str = Field(
        description="The shopper's message, in any of our languages.", min_length=1,
        json_schema_extra={"pattern": TEXT_PATTERN},
    )
    catalog: list[str] = Field(
        description="The products in view, exactly as the shop lists them: distinct, no padding, no line breaks.",
        min_length=1,
        json_schema_extra={
            "uniqueItems": True,
            "items": {"type": "string", "minLength": 1, "pattern": ITEM_PATTERN},
        },
    )
    language: Language | None = Field(default=None, description="Optional ISO 639-1 hint; detected when absent.")

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        if all(c.isspace() or _is_control(c) for c in value):
            raise ValueError("text is empty, whitespace or control characters only")
        return value

    @field_validator("catalog")
    @classmethod
    def _catalog(cls, value: list[str]) -> list[str]:
        seen: set[str] = set()
        for i, item in enumerate(value):
            if not item.strip():
                raise ValueError(f"catalog[{i}] is empty")
            if item != item.strip():
                raise ValueError(f"catalog[{i}] has leading or trailing whitespace")
            if any(_is_control(c) for c in item):
                raise ValueError(f"catalog[{i}] contains a control character or line break")
            if item in seen:
                raise ValueError(f"catalog[{i}] duplicates an earlier entry: {item!r}")
            seen.add(item)
        return value


class Prediction(BaseModel):
    intent: Intent
    product: str | None = Field(description="Exactly one catalog entry, or null.")
    quantity: int | None = Field(description="Positive; null when intent is 'other'.", ge=1)
    confidence: float = Field(ge=0.0, le=1.0, description="Probability that this answer is exactly right (calibrated on dev for the shipped model).")
    needs_confirmation: bool = Field(
        description="The confidence is below the service's threshold (see /info): confirm with the shopper "
        "before acting on this answer.")
    language: str = Field(description="ISO 639-1 code of the text (the hint when given).")
    model: str
    latency_ms: float = Field(ge=0.0)


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[ClassifyRequest] = Field(min_length=1)


class BatchResponse(BaseModel):
    results: list[Prediction]


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[dict[str, object]] | None = None
    request_id: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class Info(BaseModel):
    model: str
    format: str
    backend: str
    base: str | None
    adapter: str | None
    languages: list[str]
    intents: list[str]
    max_catalog_items: int
    max_text_chars: int
    confirm_below: float = Field(description="Answers below this confidence are flagged needs_confirmation.")
    catalog_layout: str = Field(default="causal", description="'entries': each catalog entry is encoded and cached "
                                "on its own; 'causal': one cached prefix per catalog.")
