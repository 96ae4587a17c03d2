"""SHOPINTENT_LOG_PAYLOADS: shoppers' texts reach the logs only when it is on, with the answer and request id."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from app.backends.fake import FakeBackend
from app.core.config import Settings
from app.core.logging import JsonFormatter
from app.main import create_app

CATALOG = ["Milk", "Bread", "Eggs (dozen)"]
SECRET = "please add 3 milk for my neighbour Jolanda"  # a text that must not leak by default
OTHER_SECRET = "remove bread, Jolanda is vegan now"


def _client(fake_backend: FakeBackend, log_payloads: bool) -> TestClient:
    return TestClient(create_app(Settings(backend="fake", log_payloads=log_payloads), backend=fake_backend))


def _payloads(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == "payload"]


def test_texts_never_reach_the_logs_by_default(fake_backend: FakeBackend, caplog: pytest.LogCaptureFixture) -> None:
    assert Settings(backend="fake").log_payloads is False
    caplog.set_level(logging.DEBUG)
    with _client(fake_backend, log_payloads=False) as c:
        assert c.post("/classify", json={"text": SECRET, "catalog": CATALOG}).status_code == 200
        batch = {"items": [{"text": SECRET, "catalog": CATALOG}, {"text": OTHER_SECRET, "catalog": CATALOG}]}
        assert c.post("/classify/batch", json=batch).status_code == 200
        fake_backend.fail_next = True
        assert c.post("/classify", json={"text": SECRET, "catalog": CATALOG}).status_code == 503
    assert caplog.records  # the request lines are there ...
    assert not _payloads(caplog)
    for record in caplog.records:  # ... and no text anywhere in them, formatted or not
        dumped = JsonFormatter().format(record) + repr(record.__dict__)
        assert "Jolanda" not in dumped, dumped


def test_payloads_are_logged_with_answer_and_request_id(
    fake_backend: FakeBackend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with _client(fake_backend, log_payloads=True) as c:
        r = c.post("/classify", json={"text": SECRET, "catalog": CATALOG}, headers={"x-request-id": "req-1"})
        assert r.status_code == 200
        (record,) = _payloads(caplog)
        assert record.levelno == logging.INFO and record.name == "shopintent"
        assert record.request_id == "req-1"  # type: ignore[attr-defined]
        assert record.text == SECRET  # type: ignore[attr-defined]
        answer = record.answer  # type: ignore[attr-defined]
        assert answer["intent"] == r.json()["intent"] == "add_to_cart"
        assert (answer["product"], answer["quantity"]) == ("Milk", 3)
        assert answer["confidence"] == r.json()["confidence"]
        entry = json.loads(JsonFormatter().format(record))  # what a log shipper gets: one JSON line
        assert entry["request_id"] == "req-1" and entry["text"] == SECRET and entry["answer"]["product"] == "Milk"

        caplog.clear()
        batch = {"items": [{"text": SECRET, "catalog": CATALOG}, {"text": OTHER_SECRET, "catalog": CATALOG}]}
        r = c.post("/classify/batch", json=batch, headers={"x-request-id": "req-2"})
        assert r.status_code == 200
        records = _payloads(caplog)
        assert [(x.item, x.text, x.answer["intent"]) for x in records] == [  # type: ignore[attr-defined]
            (0, SECRET, "add_to_cart"), (1, OTHER_SECRET, "remove_from_cart")]
        assert {x.request_id for x in records} == {"req-2"}  # type: ignore[attr-defined]


def test_a_failed_request_logs_its_text_with_the_failure(
    fake_backend: FakeBackend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with _client(fake_backend, log_payloads=True) as c:
        fake_backend.fail_next = True
        r = c.post("/classify", json={"text": SECRET, "catalog": CATALOG}, headers={"x-request-id": "req-3"})
        assert r.status_code == 503  # what the client sees does not change
        (record,) = _payloads(caplog)
        assert record.text == SECRET and record.request_id == "req-3"  # type: ignore[attr-defined]
        assert record.answer == {"error": "BackendError"}  # type: ignore[attr-defined]


def test_invalid_bodies_are_not_logged_even_when_on(fake_backend: FakeBackend, caplog: pytest.LogCaptureFixture) -> None:
    """Only classified texts are logged: a body refused by validation (422) never reaches the route."""
    caplog.set_level(logging.INFO)
    with _client(fake_backend, log_payloads=True) as c:
        assert c.post("/classify", json={"text": SECRET, "catalog": []}).status_code == 422
    assert not _payloads(caplog)
