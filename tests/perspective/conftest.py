"""Fixtures for the Perspective-compatible API: scoring keys, an application scoring with
the tiny Detoxify model, and the application served over real HTTP for real clients."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from app import create_app
from moderation.db import db
from moderation.models import Site
from moderation.services import perspective
from moderation.types import utcnow
from tests.browser.conftest import LiveServer, serve
from tests.conftest import app_config, make_site, reset_database
from tests.tiny_detoxify import TinyDetoxify

ANALYZE = "/perspective/v1alpha1/comments:analyze"
SUGGEST = "/perspective/v1alpha1/comments:suggestscore"


@pytest.fixture(autouse=True)
def _loopback_without_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    # httplib2 (under Google's client) honours http_proxy; our server is on loopback.
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")


def new_key(session: Session, site: str = "blog", rate: float = 10.0, name: str = "coral") -> str:
    """A scoring key for ``site``, committed; returns the key as the admin is shown it."""
    _, plaintext = perspective.create_key(session, site, name, rate, now=utcnow())
    session.commit()
    return plaintext


@pytest.fixture
def key(session: Session, site: Site) -> str:
    return new_key(session)


def detoxify_settings(tiny: TinyDetoxify, **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"SCORER": "detoxify", "DETOXIFY_CHECKPOINT": str(tiny.checkpoint),
                              "DETOXIFY_CONFIG_DIR": str(tiny.config_dir)}  # fmt: skip
    values.update(extra)
    return values


@pytest.fixture
def detoxify_app(database_url: str, backend: str, tiny_detoxify: TinyDetoxify) -> Iterator[Flask]:
    """The service scoring with the tiny Detoxify model (six labels), a site ``blog``."""
    app = create_app(app_config(database_url, **detoxify_settings(tiny_detoxify)))
    with app.app_context():
        reset_database(backend)
        make_site(db.session)
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    running = serve(app)
    yield running
    running.server.shutdown()
