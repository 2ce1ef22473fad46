"""Fixtures: every database test runs on SQLite and, when it is reachable, on PostgreSQL.

TEST_DATABASE_URL names the PostgreSQL server, and the database on it to connect to for
CREATE/DROP DATABASE (default postgresql://postgres@127.0.0.1:5432/postgres; the role needs
CREATEDB). Each pytest run creates a database of its own there, moderation_test_<pid>_<random>,
builds the schema in it, and drops it at the end, so runs in other checkouts (a developer and
CI on one server) never share or drop each other's tables. A run that was killed leaves its
database behind; the next run drops it (see _drop_stale_test_databases). CI sets
REQUIRE_POSTGRES=1 so an unusable server fails the run instead of skipping half of it."""

from __future__ import annotations

import contextvars
import json
import os
import secrets
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from psycopg import sql
from sqlalchemy import create_engine, inspect, make_url, select, text
from sqlalchemy.orm import Session

from app import create_app
from moderation.db import db, normalize_database_url
from moderation.models import Site
from moderation.types import ModerationMode

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
# The server, and its maintenance database: never the database the tests use.
PG_SERVER_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TEST_DATABASE_PREFIX = "moderation_test_"
# A database of this scheme older than this is stale whoever made it (unless still in use).
STALE_AFTER_SECONDS = 24 * 3600


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a server a test starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_label() -> str:
    url = make_url(normalize_database_url(PG_SERVER_URL))
    return url.set(drivername="postgresql").render_as_string(hide_password=True)


def _postgres_problem() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when they can."""
    try:
        with psycopg.connect(PG_SERVER_URL, connect_timeout=3) as conn:
            row = conn.execute(
                "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
    except psycopg.OperationalError:
        return f"PostgreSQL at {_server_label()} is not reachable"
    if not (row and row[0]):
        return f"the role of {_server_label()} may not create databases (needs CREATEDB)"
    return None


POSTGRES_PROBLEM = _postgres_problem()
POSTGRES = POSTGRES_PROBLEM is None
if not POSTGRES and os.environ.get("REQUIRE_POSTGRES") == "1":
    raise SystemExit(f"REQUIRE_POSTGRES=1 but {POSTGRES_PROBLEM} (set TEST_DATABASE_URL)")
BACKENDS = ["sqlite", "postgresql"] if POSTGRES else ["sqlite"]


def pytest_report_header() -> str:
    where = (
        f"; postgresql: a new database per run on {_server_label()}"
        if POSTGRES
        else f"; postgresql skipped: {POSTGRES_PROBLEM}"
    )
    return f"database backends: {', '.join(BACKENDS)}{where}"


# --- One database per run -------------------------------------------------------------


def _host_id() -> str:
    """This machine and PID namespace: process ids mean something only within it."""
    parts = [socket.gethostname()]
    try:
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip())
        parts.append(os.readlink("/proc/self/ns/pid"))
    except OSError:
        pass
    return "/".join(parts)


def _process_start(pid: int) -> str | None:
    """The start time of process ``pid`` (clock ticks since boot), to tell a reused pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _process_alive(pid: int, started: str | None) -> bool:
    if started is not None:  # recorded where /proc exists
        return _process_start(pid) == started
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _maintenance_connection() -> psycopg.Connection[Any]:
    return psycopg.connect(PG_SERVER_URL, autocommit=True, connect_timeout=10)


def _drop_stale_test_databases() -> None:
    """Drop what killed runs left behind: databases of our naming scheme whose creating
    process (recorded in the database's comment) is gone from this host, or that are
    older than a day and nobody is connected to. A database of a live run, on this host or
    another, is never touched; one without our comment neither."""
    me, now = _host_id(), time.time()
    with _maintenance_connection() as conn:
        rows = conn.execute(
            "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database"
            " WHERE starts_with(datname, %s)",
            (TEST_DATABASE_PREFIX,),
        ).fetchall()
        for name, comment in rows:
            if name in _created_here:
                continue
            try:
                owner = json.loads(comment)
                host, pid, started = owner["host"], int(owner["pid"]), owner.get("started")
                created = float(owner["created"])
            except (TypeError, ValueError, KeyError):
                continue
            # A database of our own pid that we did not make was left by an earlier process.
            if host == me and (pid == os.getpid() or not _process_alive(pid, started)):
                statement = "DROP DATABASE IF EXISTS {} WITH (FORCE)"
            elif now - created > STALE_AFTER_SECONDS:
                statement = "DROP DATABASE IF EXISTS {}"  # fails while anyone is connected
            else:
                continue
            try:
                conn.execute(sql.SQL(statement).format(sql.Identifier(name)))
            except psycopg.Error:
                pass  # in use, or another run dropped it first


_created_here: set[str] = set()


def create_test_database() -> str:
    """A new, empty database on the server, named for this process; returns its name.
    Its comment records who made it, for _drop_stale_test_databases."""
    name = f"{TEST_DATABASE_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
    owner = {
        "host": _host_id(),
        "pid": os.getpid(),
        "started": _process_start(os.getpid()),
        "created": time.time(),
    }
    with _maintenance_connection() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(name), sql.Literal(json.dumps(owner))
            )
        )
    _created_here.add(name)
    return name


def drop_test_database(name: str) -> None:
    """Drop ``name``; FORCE ends connections that are still open (a worker process, an
    engine a test did not dispose of)."""
    with _maintenance_connection() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
    _created_here.discard(name)


def database_url_for(name: str) -> str:
    """The SQLAlchemy URL of database ``name`` on the TEST_DATABASE_URL server."""
    url = make_url(normalize_database_url(PG_SERVER_URL)).set(database=name)
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    """This run's own PostgreSQL database, with the schema built from the models; dropped
    at the end of the run."""
    _drop_stale_test_databases()
    name = create_test_database()
    try:
        url = database_url_for(name)
        engine = create_engine(url)
        try:
            db.metadata.create_all(engine)
        finally:
            engine.dispose()
        yield url
    finally:
        drop_test_database(name)


def _reset_postgres() -> None:
    """Empty every table of this run's database (its schema was built when it was made)."""
    with db.engine.begin() as conn:
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


def postgres_only(test: Any) -> Any:
    """Run ``test`` on PostgreSQL alone: what SQLite cannot show (a connection the server
    drops, 32-bit ids). Skipped, saying why, where the server is unreachable, as the
    PostgreSQL half of the other tests is."""
    test = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)(test)
    return pytest.mark.skipif(not POSTGRES, reason=f"PostgreSQL: {POSTGRES_PROBLEM}")(test)


def end_connection(backend_pid: int) -> None:
    """End a connection of the app's PostgreSQL database (in context) from the server's
    side, as a restart or an administrator does, and wait until it is gone."""
    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url) as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (backend_pid,))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    # Asked for here, not as a parameter, so that a SQLite-only run creates no database.
    return str(request.getfixturevalue("postgres_database_url"))


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
