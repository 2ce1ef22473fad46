"""Fixtures: every database test runs on SQLite and, when it is reachable, on PostgreSQL
(TEST_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/test). CI sets
REQUIRE_POSTGRES=1 so an unreachable server fails the run instead of skipping half of it."""

from __future__ import annotations

import contextvars
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from app import create_app
from moderation.db import db, normalize_database_url
from moderation.models import Site
from moderation.types import ModerationMode

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _postgres_reachable() -> bool:
    try:
        with psycopg.connect(PG_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


POSTGRES = _postgres_reachable()
if not POSTGRES and os.environ.get("REQUIRE_POSTGRES") == "1":
    raise SystemExit(f"REQUIRE_POSTGRES=1 but PostgreSQL at {PG_URL} is not reachable")
BACKENDS = ["sqlite", "postgresql"] if POSTGRES else ["sqlite"]


def pytest_report_header() -> str:
    return f"database backends: {', '.join(BACKENDS)}"


_pg_schema_ready = False


def _reset_postgres() -> None:
    """First use: rebuild the schema from the models. Then: empty every table."""
    global _pg_schema_ready
    with db.engine.begin() as conn:
        if not _pg_schema_ready:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            db.metadata.create_all(conn)
            _pg_schema_ready = True
        else:
            tables = ", ".join(t.name for t in db.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


def app_config(database_url: str, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret",
        "WORKER_IN_PROCESS": False,
        # Most tests use the embedded model; tests/scoring builds Detoxify-format ones.
        "SCORER": "lite",
        # Rate-limit tests turn limits on for themselves.
        "RATELIMIT_ENABLED": False,
        # Generous so that the lite scorer always finishes inline on a loaded machine;
        # tests of the budget set their own.
        "SCORE_BUDGET_MS": 5000,
    }
    config.update(overrides)
    return config


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return normalize_database_url(PG_URL)


def reset_database(backend: str) -> None:
    """An empty schema for the app in context: built from the models."""
    if backend == "postgresql":
        _reset_postgres()
    else:
        db.create_all()


class IsolatedClient(FlaskClient):
    """Each request runs in a fresh context, as in production. Without this, a request
    reuses the app context the test holds, so ``g`` (where Flask-Login and Flask-WTF cache
    the user and the CSRF token) and the database session leak from one request, and one
    client, to the next."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture
def app(database_url: str, backend: str) -> Iterator[Flask]:
    app = create_app(app_config(database_url))
    app.test_client_class = IsolatedClient
    with app.app_context():
        reset_database(backend)
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def session(app: Flask) -> Session:
    return db.session  # type: ignore[return-value]


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def make_site(session: Session, slug: str = "blog", **settings: Any) -> Site:
    values: dict[str, Any] = {
        "name": slug.title(),
        "allowed_origins": ["https://blog.example"],
        "moderation_mode": ModerationMode.POST,
        "thresholds": {},
        "banned_words": [],
        "suspect_words": [],
        "flags_to_hold": 3,
    }
    values.update(settings)
    site = Site(slug=slug, **values)
    session.add(site)
    session.commit()
    return site


@pytest.fixture
def site(session: Session) -> Site:
    return make_site(session)


def database_state(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to assert that a rejected request changed nothing."""
    session.expire_all()
    state = {}
    for table in db.metadata.sorted_tables:
        rows = session.execute(select(table).order_by(*table.primary_key.columns)).all()
        state[table.name] = [tuple(r) for r in rows]
    return state


def table_names(session: Session) -> set[str]:
    return set(inspect(session.get_bind()).get_table_names())


@pytest.fixture(scope="session")
def tiny_detoxify(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A trained 2-layer Detoxify-format checkpoint and its config folder (see
    tests/tiny_detoxify.py)."""
    from tests.tiny_detoxify import build_tiny_detoxify

    return build_tiny_detoxify(tmp_path_factory.mktemp("detoxify"))
