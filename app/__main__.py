"""Serve: ``python -m app`` (settings from SHOPINTENT_* variables)."""

from __future__ import annotations

import logging

import uvicorn

from app.core.config import get_settings


def main() -> None:
    settings = get_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    shown = "localhost" if settings.host in ("0.0.0.0", "::") else settings.host
    print(f"shopintent: loading the model; API docs will be at http://{shown}:{settings.port}/docs", flush=True)
    uvicorn.run("app.main:create_app", factory=True, host=settings.host, port=settings.port,
                workers=1, log_level="info", timeout_graceful_shutdown=30)


if __name__ == "__main__":
    main()
