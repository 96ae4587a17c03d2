"""HTTP plumbing on the fake backend: validation, the error envelope, limits, overload, faults."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.backends.fake import FakeBackend

CATALOG = ["Milk", "Bread", "Eggs (dozen)"]


def assert_error(response, status: int, code: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert body["error"]["request_id"] == response.headers["x-request-id"]
    return body["error"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"text": "   ", "catalog": CATALOG}, "empty"),
        ({"text": "", "catalog": CATALOG}, "text"),
        ({"text": "x" * 2001, "catalog": CATALOG}, "2001"),
        ({"text": "add milk", "catalog": []}, "catalog"),
        ({"text": "add milk", "catalog": [f"item {i}" for i in range(201)]}, "201"),
        ({"text": "add milk", "catalog": ["Milk", "Milk"]}, "duplicates"),
        ({"text": "add milk", "catalog": ["M" * 201]}, "201"),
        ({"text": "add milk", "catalog": ["Milk\nBread"]}, "line break"),
        ({"text": "add milk", "catalog": ["  "]}, "empty"),
        ({"text": 5, "catalog": CATALOG}, "string"),
        ({"text": "add milk", "catalog": "Milk"}, "list"),
        ({"text": "add milk", "catalog": [1, 2]}, "string"),
        ({"text": "add milk"}, "catalog"),
        ({"catalog": CATALOG}, "text"),
        ({"text": "add milk", "catalog": CATALOG, "language": "xx"}, "language"),
        ({"text": "add milk", "catalog": CATALOG, "extra": 1}, "extra"),
    ],
)
def test_bad_input_gets_422_with_a_clear_message(fake_client: TestClient, body: dict, fragment: str) -> None:  # type: ignore[type-arg]
    error = assert_error(fake_client.post("/classify", json=body), 422, "invalid_request")
    assert fragment.lower() in (error["message"] + str(error.get("details"))).lower()


def test_malformed_json_and_wrong_content(fake_client: TestClient) -> None:
    assert_error(fake_client.post("/classify", content=b'{"text": ', headers={"content-type": "application/json"}),
                 422, "invalid_request")
    assert_error(fake_client.post("/classify", content=b"not json", headers={"content-type": "text/plain"}),
                 422, "invalid_request")
    assert_error(fake_client.post("/classify", json=[1, 2]), 422, "invalid_request")


def test_batch_limits_and_order(fake_client: TestClient) -> None:
    items = [{"text": f"add {i} milk", "catalog": CATALOG} for i in range(1, 65)]
    response = fake_client.post("/classify/batch", json={"items": items})
    assert response.status_code == 200
    assert [r["quantity"] for r in response.json()["results"]] == list(range(1, 65))
    assert_error(fake_client.post("/classify/batch", json={"items": items + items[:1]}), 422, "invalid_request")
    assert_error(fake_client.post("/classify/batch", json={"items": []}), 422, "invalid_request")
    error = assert_error(fake_client.post("/classify/batch", json={"items": [items[0], {"text": " ", "catalog": CATALOG}]}),
                         422, "invalid_request")
    assert "items.1" in error["message"]


def test_unknown_route_and_method(fake_client: TestClient) -> None:
    assert_error(fake_client.get("/nope"), 404, "not_found")
    assert_error(fake_client.get("/classify"), 405, "method_not_allowed")


def test_body_size_limit(fake_client: TestClient) -> None:
    big = b'{"text": "' + b"x" * 1_200_000 + b'", "catalog": ["Milk"]}'
    assert_error(fake_client.post("/classify", content=big, headers={"content-type": "application/json"}),
                 413, "payload_too_large")


def test_overload_is_a_fast_429_with_retry_after(fake_client: TestClient, fake_backend: FakeBackend) -> None:
    fake_backend.capacity = 0
    response = fake_client.post("/classify", json={"text": "add milk", "catalog": CATALOG})
    assert_error(response, 429, "overloaded")
    assert int(response.headers["retry-after"]) >= 1


def test_backend_failure_is_503_and_the_next_request_succeeds(fake_client: TestClient, fake_backend: FakeBackend) -> None:
    fake_backend.fail_next = True
    assert_error(fake_client.post("/classify", json={"text": "add milk", "catalog": CATALOG}), 503, "backend_unavailable")
    assert fake_client.post("/classify", json={"text": "add milk", "catalog": CATALOG}).status_code == 200


def test_deadline_gives_504(fake_backend: FakeBackend) -> None:
    from app.core.config import Settings
    from app.main import create_app

    fake_backend.delay_s = 1.0
    with TestClient(create_app(Settings(backend="fake", request_timeout_s=0.05), backend=fake_backend)) as c:
        assert_error(c.post("/classify", json={"text": "add milk", "catalog": CATALOG}), 504, "timeout")


def test_request_id_is_echoed(fake_client: TestClient) -> None:
    response = fake_client.post("/classify", json={"text": "add milk", "catalog": CATALOG}, headers={"x-request-id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"


def test_ops_endpoints(fake_client: TestClient) -> None:
    assert fake_client.get("/healthz").json() == {"status": "ok"}
    assert fake_client.get("/readyz").json() == {"status": "ready"}
    info = fake_client.get("/info").json()
    assert info["backend"] == "fake" and set(info["languages"]) == {"en", "hr", "es", "de", "fr", "it"}
    assert fake_client.get("/docs").status_code == 200
    schema = fake_client.get("/openapi.json").json()
    assert "/classify" in schema["paths"] and "/classify/batch" in schema["paths"]


def test_api_keys_401_403_and_rate_limit(fake_backend: FakeBackend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from app.core.config import Settings
    from app.main import create_app

    keys_file = tmp_path / "keys"
    keys_file.write_text("# comment\nfile-key\n")
    settings = Settings(backend="fake", api_keys="env-key", api_keys_file=keys_file, rate_limit_per_s=1, rate_limit_burst=2)
    body = {"text": "add milk", "catalog": CATALOG}
    with TestClient(create_app(settings, backend=fake_backend)) as c:
        response = c.post("/classify", json=body)
        assert_error(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"
        assert_error(c.post("/classify", json=body, headers={"x-api-key": "wrong"}), 403, "forbidden")
        assert c.post("/classify", json=body, headers={"authorization": "Bearer env-key"}).status_code == 200
        assert c.post("/classify", json=body, headers={"x-api-key": "file-key"}).status_code == 200
        assert c.post("/classify", json=body, headers={"x-api-key": "file-key"}).status_code == 200
        limited = c.post("/classify", json=body, headers={"x-api-key": "file-key"})
        assert_error(limited, 429, "rate_limited")
        assert int(limited.headers["retry-after"]) >= 1
        assert c.get("/healthz").status_code == 200  # probes stay open


def test_cors_is_off_by_default_and_configurable(fake_backend: FakeBackend) -> None:
    from app.core.config import Settings
    from app.main import create_app

    preflight = {"origin": "https://shop.example", "access-control-request-method": "POST"}
    with TestClient(create_app(Settings(backend="fake"), backend=fake_backend)) as c:
        assert "access-control-allow-origin" not in c.options("/classify", headers=preflight).headers
    with TestClient(create_app(Settings(backend="fake", cors_origins="https://shop.example"), backend=fake_backend)) as c:
        assert c.options("/classify", headers=preflight).headers["access-control-allow-origin"] == "https://shop.example"


def test_predicted_wait_over_40_percent_of_the_deadline_is_shed_at_once() -> None:
    import threading
    import time

    from app.backends.base import Overloaded, Query
    from app.backends.queued import QueuedBackend

    backend = QueuedBackend(queue_size=1000)
    backend._thread = threading.Thread(target=time.sleep, args=(5,), daemon=True)
    backend._thread.start()  # "alive", but never takes jobs: the queue only grows
    assert backend.capacity() is None  # no measurement yet: only the queue bound applies
    backend._record_work(busy_s=5.0, cost_done=10.0)  # measured: 2 answers per busy second
    backend.submit([Query("add milk", ("Milk",))] * 8, timeout_s=10)  # 8 ahead / 2 per s = 4 s < 5 s
    started = time.perf_counter()
    with pytest.raises(Overloaded, match=r"predicted wait 6\.0 s"):
        backend.submit([Query("add milk", ("Milk",))] * 4, timeout_s=10)  # 12 / 2 = 6 s > 40% of 10 s
    assert time.perf_counter() - started < 0.01


def test_admission_prices_a_request_by_its_work(engine_config_for) -> None:  # type: ignore[no-untyped-def]
    """A catalog the prefix cache lacks costs its tokens; a cached one costs only the text."""
    from dataclasses import replace

    from app.backends.base import Query
    from app.backends.llamacpp import LlamaCppBackend

    config = engine_config_for(warmup=False, catalog_layout="causal")
    backend = LlamaCppBackend(replace(config, model_path=Path("unused.gguf")))
    catalog = tuple(f"Product number {i} (500 g)" for i in range(15))
    cold = backend.cost(Query("add two of product 3", catalog))
    backend._catalog_cached = lambda _: True  # type: ignore[method-assign]  # as if its prefix were cached
    warm = backend.cost(Query("add two of product 3", catalog))
    assert cold > 4 * warm
    assert warm == pytest.approx(len("add two of product 3") / 3.5 + 10.0)


def test_answers_under_the_threshold_need_confirmation() -> None:
    from app.backends import make_backend
    from app.core.config import Settings
    from app.main import create_app

    body = {"text": "add milk", "catalog": CATALOG}  # the fake answers with confidence 0.5
    assert make_backend(Settings(backend="fake")).confirm_below == 0.0  # no calibration, no threshold
    for threshold, flagged in ((0.6, True), (0.5, False)):
        backend = make_backend(Settings(backend="fake", confirm_below=threshold))
        with TestClient(create_app(Settings(backend="fake"), backend=backend)) as c:
            answer = c.post("/classify", json=body).json()
            assert answer["confidence"] == 0.5 and answer["needs_confirmation"] is flagged
            assert c.get("/info").json()["confirm_below"] == threshold
            metrics = c.get("/metrics").text
            assert 'shopintent_needs_confirmation_total{intent="add_to_cart"}' in metrics
    with pytest.raises(ValueError, match="confirm_below"):
        Settings(backend="fake", confirm_below=1.5)
