"""How the backends' failures reach the client: the status, code and message of each in the envelope."""

from __future__ import annotations

from app.backends.base import BackendError, InputTooLarge, Overloaded
from app.core.errors import Failure

BACKEND_FAILURES: dict[type[Exception], Failure] = {
    Overloaded: Failure(429, "overloaded", lambda exc: f"server busy: {exc}; retry later", retry_after=True),
    InputTooLarge: Failure(422, "input_too_large"),
    BackendError: Failure(503, "backend_unavailable", retry_after=True),  # and any subclass not listed above
}
