"""Request limits are the settings the app was created with (``create_app(settings)``), per app."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.backends.fake import FakeBackend
from app.core.config import Settings
from app.main import create_app

CATALOG = ["Milk", "Bread", "Eggs (dozen)"]
ELEVEN = "add 2 milks"


def refusal(response) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """The error envelope, minus its request id (checked against the header)."""
    assert response.status_code == 422, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"].pop("request_id") == response.headers["x-request-id"]
    return body["error"]  # type: ignore[no-any-return]


def test_the_text_limit_is_the_apps_own(fake_client: TestClient, fake_backend: FakeBackend) -> None:
    assert len(ELEVEN) == 11
    assert fake_client.post("/classify", json={"text": ELEVEN, "catalog": CATALOG}).status_code == 200
    with TestClient(create_app(Settings(backend="fake", max_text_chars=10), backend=fake_backend)) as small:
        error = refusal(small.post("/classify", json={"text": ELEVEN, "catalog": CATALOG}))
        assert small.post("/classify", json={"text": ELEVEN[:10], "catalog": CATALOG}).status_code == 200
        schema = small.get("/openapi.json").json()["components"]["schemas"]["ClassifyRequest"]
        assert schema["properties"]["text"]["maxLength"] == 10
    message = "text is 11 characters; the limit is 10"
    assert error == {"code": "invalid_request", "message": f"body.text: {message}",
                     "details": [{"field": "body.text", "message": message, "type": "value_error"}]}
    # The same envelope as the default app's refusal of a text over its 2000 characters.
    default = refusal(fake_client.post("/classify", json={"text": "x" * 2001, "catalog": CATALOG}))
    assert default == {"code": "invalid_request", "message": "body.text: text is 2001 characters; the limit is 2000",
                       "details": [{"field": "body.text", "message": "text is 2001 characters; the limit is 2000",
                                    "type": "value_error"}]}
    assert fake_client.get("/openapi.json").json()["components"]["schemas"]["ClassifyRequest"]["properties"][
        "text"]["maxLength"] == 2000


def test_catalog_and_batch_limits_are_the_apps_own(fake_client: TestClient, fake_backend: FakeBackend) -> None:
    settings = Settings(backend="fake", max_catalog_items=2, max_item_chars=5, max_batch_items=2)
    item = {"text": "add milk", "catalog": ["Milk", "Bread"]}
    with TestClient(create_app(settings, backend=fake_backend)) as small:
        assert small.post("/classify", json=item).status_code == 200
        assert refusal(small.post("/classify", json={"text": "add milk", "catalog": CATALOG}))["details"] == [
            {"field": "body.catalog", "message": "catalog has 3 items; the limit is 2", "type": "value_error"}]
        assert refusal(small.post("/classify", json={"text": "add milk", "catalog": ["Milk", "Cheese"]}))["message"] == (
            "body.catalog: catalog[1] is 6 characters; the limit is 5")
        assert small.post("/classify/batch", json={"items": [item, item]}).status_code == 200
        assert refusal(small.post("/classify/batch", json={"items": [item] * 3}))["message"] == (
            "body.items: batch has 3 items; the limit is 2")
        error = refusal(small.post("/classify/batch", json={"items": [item, {"text": "add milk", "catalog": CATALOG}]}))
        assert error["message"] == "body.items.1.catalog: catalog has 3 items; the limit is 2"
        schemas = small.get("/openapi.json").json()["components"]["schemas"]
        catalog = schemas["ClassifyRequest"]["properties"]["catalog"]
        assert (catalog["maxItems"], catalog["items"]["maxLength"]) == (2, 5)
        assert schemas["BatchRequest"]["properties"]["items"]["maxItems"] == 2
    # the default app, alive at the same time, keeps its own limits
    assert fake_client.post("/classify", json={"text": "add milk", "catalog": [*CATALOG, "Cheese"]}).status_code == 200
    assert fake_client.post("/classify/batch", json={"items": [item] * 3}).status_code == 200


def test_a_loading_server_answers_503_before_judging_the_body(fake_backend: FakeBackend) -> None:
    """The limits are checked after the backend dependency, as pydantic's checks were."""
    app = create_app(Settings(backend="fake", max_text_chars=10), backend=fake_backend)
    client = TestClient(app)  # no lifespan: never ready
    response = client.post("/classify", json={"text": ELEVEN, "catalog": CATALOG})
    assert response.status_code == 503 and response.json()["error"]["code"] == "not_ready"
