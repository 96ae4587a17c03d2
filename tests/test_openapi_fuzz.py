"""Schemathesis against /openapi.json on the real engine: no 5xx, responses match the schema.

Short in CI (30 examples per operation); `make fuzz` runs the long version. Driven through
schemathesis's Python API (its pytest plugin does not load under pytest 9)."""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, given, settings

from app.core.config import get_settings
from app.main import create_app

EXAMPLES = int(os.environ.get("SHOPINTENT_FUZZ_EXAMPLES", "30"))


def test_api_conforms_to_its_schema(shared_backend) -> None:  # type: ignore[no-untyped-def]
    app = create_app(get_settings(), backend=shared_backend)
    app.state.backend, app.state.ready = shared_backend, True  # what the lifespan does
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/classify", "/classify/batch", "/healthz", "/readyz", "/info"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case) -> None:  # type: ignore[no-untyped-def]
            case.call_and_validate()

        check()
