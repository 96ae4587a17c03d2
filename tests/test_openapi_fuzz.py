"""Schemathesis against /openapi.json on the real engine: no 5xx, responses match the schema.

Short in CI (30 examples per operation); `make fuzz` runs the long version."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from app.core.config import get_settings
from app.main import create_app

EXAMPLES = int(os.environ.get("SHOPINTENT_FUZZ_EXAMPLES", "30"))


@pytest.fixture
def api_schema(llama_backend):  # type: ignore[no-untyped-def]
    app = create_app(get_settings(), backend=llama_backend)
    app.state.backend, app.state.ready = llama_backend, True  # what the lifespan does, without closing
    return schemathesis.openapi.from_asgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case) -> None:  # type: ignore[no-untyped-def]
    case.call_and_validate()
