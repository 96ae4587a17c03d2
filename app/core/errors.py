"""One error envelope for every failure: ``{"error": {"code", "message", "details", "request_id"}}``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


@dataclass(frozen=True)
class Failure:
    """How the envelope reports an exception raised below the API (e.g. by a backend)."""

    status: int
    code: str
    message: Callable[[Exception], str] = str
    retry_after: bool = False  # send Retry-After: the client may try again shortly


def error_response(
    request: Request, status: int, code: str, message: str,
    details: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _clean_details(errors: list[Any]) -> list[dict[str, Any]]:
    """Pydantic's errors, minus the raw input: it may be megabytes, or private text."""
    details = []
    for err in errors:
        loc = [str(part) for part in err.get("loc", ())]
        message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        details.append({"field": ".".join(loc), "message": message, "type": err.get("type", "value_error")})
    return details


def install_error_handlers(app: FastAPI, retry_after_s: int, failures: Mapping[type[Exception], Failure]) -> None:
    """The envelope for validation, HTTP, ``ApiError``, timeouts and the unexpected, plus ``failures``:
    the exceptions of the layers below, each with its status and code (the most specific class wins)."""

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = _clean_details(list(exc.errors()))
        first = details[0] if details else {"field": "body", "message": "invalid request"}
        message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
        return error_response(request, 422, "invalid_request", message, details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(exc.status_code, "http_error")
        return error_response(request, exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(request, exc.status, exc.code, exc.message, headers=exc.headers)

    @app.exception_handler(TimeoutError)
    async def _timeout(request: Request, exc: TimeoutError) -> JSONResponse:
        return error_response(request, 504, "timeout", str(exc) or "the model did not answer in time")

    for exc_class, failure in failures.items():
        app.add_exception_handler(exc_class, _failure_handler(failure, retry_after_s))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return error_response(request, 500, "internal_error", "unexpected error; see the server log")


def _failure_handler(failure: Failure, retry_after_s: int) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        headers = {"Retry-After": str(retry_after_s)} if failure.retry_after else None
        return error_response(request, failure.status, failure.code, failure.message(exc), headers=headers)

    return handle
