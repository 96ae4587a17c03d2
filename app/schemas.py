"""Request and response bodies of the public API."""

from __future__ import annotations

import unicodedata
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core.config import get_settings

Intent = Literal["add_to_cart", "remove_from_cart", "other"]
LANGUAGES = ("en", "hr", "es", "de", "fr", "it")


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

    text: str = Field(description="The shopper's message, in any of our languages.", min_length=1)
    catalog: list[str] = Field(description="The products in view, exactly as the shop lists them.", min_length=1)
    language: str | None = Field(default=None, description="Optional ISO 639-1 hint; detected when absent.")

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        limit = get_settings().max_text_chars
        if not value.strip():
            raise ValueError("text is empty or whitespace only")
        if len(value) > limit:
            raise ValueError(f"text is {len(value)} characters; the limit is {limit}")
        return value

    @field_validator("catalog")
    @classmethod
    def _catalog(cls, value: list[str]) -> list[str]:
        settings = get_settings()
        if len(value) > settings.max_catalog_items:
            raise ValueError(f"catalog has {len(value)} items; the limit is {settings.max_catalog_items}")
        seen: set[str] = set()
        for i, item in enumerate(value):
            if not item.strip():
                raise ValueError(f"catalog[{i}] is empty")
            if item != item.strip():
                raise ValueError(f"catalog[{i}] has leading or trailing whitespace")
            if len(item) > settings.max_item_chars:
                raise ValueError(f"catalog[{i}] is {len(item)} characters; the limit is {settings.max_item_chars}")
            if any(unicodedata.category(c) in {"Cc", "Cf", "Zl", "Zp"} for c in item):
                raise ValueError(f"catalog[{i}] contains a control character or line break")
            if item in seen:
                raise ValueError(f"catalog[{i}] duplicates an earlier entry: {item!r}")
            seen.add(item)
        return value

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.strip().lower()
        if code not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
        return code


class Prediction(BaseModel):
    intent: Intent
    product: str | None = Field(description="Exactly one catalog entry, or null.")
    quantity: int | None = Field(description="Positive; null when intent is 'other'.", ge=1)
    confidence: float = Field(ge=0.0, le=1.0, description="Model probability of this answer.")
    language: str = Field(description="ISO 639-1 code of the text (the hint when given).")
    model: str
    latency_ms: float = Field(ge=0.0)


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[ClassifyRequest] = Field(min_length=1)

    @field_validator("items")
    @classmethod
    def _items(cls, value: list[ClassifyRequest]) -> list[ClassifyRequest]:
        limit = get_settings().max_batch_items
        if len(value) > limit:
            raise ValueError(f"batch has {len(value)} items; the limit is {limit}")
        return value


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
