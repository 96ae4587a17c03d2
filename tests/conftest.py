"""Shared fixtures: the real packaged model (base + shipped adapter) and API clients."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.artifacts import DEFAULT_MANIFEST
from app.backends.fake import FakeBackend
from app.core.config import Settings, get_settings
from app.main import create_app

MANIFEST = Path(os.environ.get("SHOPINTENT_MODEL_MANIFEST", DEFAULT_MANIFEST))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    for item in items:
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU"))


@pytest.fixture(scope="session")
def served_model():  # type: ignore[no-untyped-def]
    from app.artifacts import resolve

    return resolve(MANIFEST, merge=True)  # the file the service serves: adapter folded in


@pytest.fixture(scope="session")
def llama_backend(served_model):  # type: ignore[no-untyped-def]
    """One real engine for the whole session (loading costs about a second)."""
    from app.backends.engine import engine_config
    from app.backends.llamacpp import LlamaCppBackend

    # The serving configuration with raw confidences and no confirmation flag, which the tests check,
    # in the causal layout (its prefix cache is what these tests probe; tests/test_entries_layout.py
    # has the entries layout's own engine).
    config = engine_config(Settings(model_manifest=MANIFEST, threads=2, queue_size=1024, draft=True,
                                    catalog_layout="causal"))
    backend = LlamaCppBackend(replace(config, calibration=None, confirm_below=0.0))
    backend.start()
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def engine_config_for():  # type: ignore[no-untyped-def]
    """``engine_config_for(model_path=..., draft=False)``: an engine configured the way the service
    configures one (app.backends.engine), from these settings; ``dataclasses.replace`` the result for
    what Settings would refuse (a missing file, in the failure tests)."""
    from app.backends.engine import engine_config

    def build(**settings):  # type: ignore[no-untyped-def]
        return engine_config(Settings(**settings))

    return build


@pytest.fixture(scope="session")
def shared_backend(llama_backend):  # type: ignore[no-untyped-def]
    """The session's engine, for apps whose lifespan must neither start nor close it."""
    return _NoClose(llama_backend)


@pytest.fixture(scope="session")
def client(shared_backend) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(create_app(get_settings(), backend=shared_backend)) as c:
        yield c


class _NoClose:
    """Lets several apps share the session's engine without closing it."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self._inner = inner

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._inner, name)

    def start(self) -> None:
        return None

    def close(self) -> None:
        return None


@pytest.fixture
def fake_backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def fake_client(fake_backend: FakeBackend) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(backend="fake"), backend=fake_backend)) as c:
        yield c
