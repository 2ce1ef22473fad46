"""Binding the extensions, blueprints and commands to an application (``init_app``)."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import secrets
import tempfile
import threading
from pathlib import Path
from typing import Any

from flask import Flask, Request, Response, render_template, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_migrate import Migrate
from sqlalchemy import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from moderation.db import (
    current_session,
    db,
    engine_options,
    normalize_database_url,
    share_commit_count,
)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
migrate = Migrate()
log = logging.getLogger("moderation")


class HttpsAwareSessionInterface(SecureCookieSessionInterface):
    """Session cookies are Secure whenever the request came over https (behind a proxy:
    with MODERATION_TRUSTED_PROXIES set), without a setting to forget."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        # Most requests carry no session cookie (the API, the widget, the counts): their
        # empty session comes without building the cookie's signing serializer first.
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


class BoundedIntConverter(IntegerConverter):
    """Werkzeug's ``int`` converter, answering 404 for a number past a 64-bit id (no row
    has that id) instead of letting it reach the database. A 404 here, not "no match":
    another route of the same path would turn it into a misleading 405."""

    def to_python(self, value: str) -> int:
        number: int = super().to_python(value)
        if number > 2**63 - 1:
            raise NotFound(f"no such id: {value}")
        return number


def _secret_key(app: Flask) -> str:
    """MODERATION_SECRET_KEY, or a random key kept in the instance folder so sessions
    and IP hashes stay stable across restarts of a local install."""
    configured = app.config.get("SECRET_KEY")
    if configured:
        return str(configured)
    path = Path(app.instance_path) / "secret_key"
    if not path.exists():
        # Written aside, then linked into place: two processes starting at once (make dev)
        # both end up with the one complete key, never an empty or half-written file.
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret_key.")
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    return path.read_text().strip()


def init_app(app: Flask) -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )

    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config["SECRET_KEY"] = _secret_key(app)
    url = normalize_database_url(
        app.config.get("SQLALCHEMY_DATABASE_URI") or app.config["DATABASE_URL"]
    )
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(url))

    app.session_interface = HttpsAwareSessionInterface()
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)

    from moderation.extensions import csrf, limiter, login_manager, retry_after_header

    storage = str(app.config["RATELIMIT_STORAGE"])
    if storage.startswith(("redis://", "rediss://", "sqlite://")):
        # Limits keep counting in memory while Redis (or the file) fails
        # (extensions.FallbackStorage).
        storage = "fallback+" + storage
    app.config.setdefault("RATELIMIT_STORAGE_URI", storage)
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    app.after_request(retry_after_header)  # before the limiter's: runs after it
    limiter.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    import moderation.auth  # noqa: F401  (registers the session's user loader)
    from moderation import i18n

    i18n.init_app(app)  # readers' language, per request (see moderation/i18n.py)

    if app.config["TRUSTED_PROXIES"]:
        proxies = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies
        )

    from moderation.scoring import ScorerSlot

    app.extensions["moderation.scorer"] = ScorerSlot(app.config)

    from moderation.api.thread_cache import cache_from_config

    # Pages rendered from one database are shared by every process serving it, and only
    # by them (several deployments may share a Redis).
    database = make_url(url).render_as_string(hide_password=True)
    app.extensions["moderation.cache_namespace"] = hashlib.sha256(database.encode()).hexdigest()
    app.extensions["moderation.thread_cache"] = cache_from_config(app.config)

    from moderation.services import sites

    sites.SITE_CACHE_SECONDS = float(app.config["SITE_CACHE_SECONDS"])
    from moderation.api.thread_cache import RecentAnswers

    app.extensions["moderation.recent_counts"] = RecentAnswers(app.config["COUNTS_CACHE_SECONDS"])
    share_commit_count(app.config["COMMIT_COUNT_FILE"])

    # Every <int:…> in a route is an id or a page: bounded by PostgreSQL's integer, so
    # that a larger number is a 404 (no such row) rather than a database error.
    app.url_map.converters["int"] = BoundedIntConverter

    from moderation.api.views import bp as api_bp
    from moderation.api.views import health_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(api_bp)
    # JSON APIs authenticate by origin, token or key, not by cookie: no CSRF token there.
    csrf.exempt(api_bp)

    from moderation.embed import bp as embed_bp

    app.register_blueprint(embed_bp)  # /embed.js and the demo blog at /demo/

    from moderation.readers import bp as readers_bp

    app.register_blueprint(readers_bp)  # confirm and unsubscribe links of readers' mail

    from moderation.api.admin import bp as admin_api_bp
    from moderation.review.views import bp as review_bp

    app.register_blueprint(review_bp)
    app.register_blueprint(admin_api_bp)
    csrf.exempt(admin_api_bp)
    from moderation.perspective.views import bp as perspective_bp

    app.register_blueprint(perspective_bp)
    csrf.exempt(perspective_bp)

    from moderation.cli import moderation_cli

    app.cli.add_command(moderation_cli)

    @app.get("/")
    def index() -> str:
        from moderation.current_scorer import get_scorer, get_scorer_warning

        return render_template(
            "index.html", scorer=get_scorer(), scorer_warning=get_scorer_warning()
        )

    @app.get("/favicon.ico")
    def favicon() -> Response:
        # Browsers ask for it on every page, JSON ones included.
        return app.send_static_file("favicon.svg")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        from moderation.api.problems import problem

        if request.path.startswith(("/api/", "/healthz")):
            response = problem(error.code or 500, error.description or error.name)
            # The exception's own headers (Allow on a 405, WWW-Authenticate on a 401)
            # belong on the problem too.
            for name, value in error.get_headers():
                if name.lower() != "content-type":
                    response.headers[name] = value
            return response
        return error

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(SQLAlchemyTimeoutError)
    def database_unavailable(error: Exception) -> Any:
        """The database went away, restarts, or is locked past the busy timeout: nothing
        of this request was committed (a view commits last, and what follows a commit
        catches its own errors), so the client may safely try again: 503 with
        Retry-After, as problem+json for the API, never a bare 500."""
        from moderation.api.problems import problem

        try:
            db.session.rollback()
        except Exception:  # the connection is gone; the pool replaces it
            log.debug("rollback after a database failure failed too", exc_info=True)
        log.warning("database unavailable for %s %s: %s", request.method, request.path,
                    getattr(error, "orig", error))  # fmt: skip
        retry_after = str(app.config["DATABASE_RETRY_AFTER_SECONDS"])
        detail = (f"the database is unavailable for a moment; nothing was stored; try again "
                  f"in {retry_after} seconds")  # fmt: skip
        if request.path.startswith(("/api/", "/healthz", "/perspective/")):
            return problem(503, detail, kind="unavailable", headers={"Retry-After": retry_after})
        return Response(
            render_template("unavailable.html", detail=detail),
            status=503,
            headers={"Retry-After": retry_after},
        )

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'",
        )
        return response


def load_scorer_now(app: Flask) -> None:
    """Load the configured scorer (servers and workers call this at start-up)."""
    with app.app_context():
        from moderation.current_scorer import get_scorer, get_scorer_warning

        scorer = get_scorer()
        log.info("scoring with %s (%s)", scorer.name, scorer.version)
        if warning := get_scorer_warning():
            log.warning(warning)


def start_in_process_worker(
    app: Flask, *, one_holding: Path | None = None
) -> threading.Thread | None:
    """Start the scoring worker as a daemon thread of this process (``make run``).
    Returns the thread, or None when WORKER_IN_PROCESS is off.

    With ``one_holding``, a lock file that the web processes of one server share, the
    thread first waits for that file's lock: one process of them runs the worker, and when
    it exits (a restart, a crash) the lock is released and another process's thread takes
    over. The file is opened here, in this process: a lock is held by an open file, and
    one opened before a fork would be the same one in every process."""
    if not app.config["WORKER_IN_PROCESS"]:
        return None
    from moderation.current_scorer import get_scorer
    from moderation.services import learning
    from moderation.services.notifications import notifier_from_config
    from moderation.services.worker import Retention, Worker

    def run() -> None:
        if one_holding is not None:
            held = open(one_holding, "ab")  # noqa: SIM115 - open for the life of the process
            fcntl.flock(held, fcntl.LOCK_EX)  # blocks this thread only, until it is ours
            app.extensions["moderation.worker_lock"] = held
        with app.app_context():
            worker = Worker(
                current_session(),
                get_scorer(),
                batch_size=app.config["WORKER_BATCH_SIZE"],
                lease_seconds=app.config["WORKER_LEASE_SECONDS"],
                poll_seconds=app.config["WORKER_POLL_SECONDS"],
                max_attempts=app.config["WORKER_MAX_ATTEMPTS"],
                webhook_allow_private=app.config["WEBHOOK_ALLOW_PRIVATE"],
                notifier=notifier_from_config(app.config),
                learn=learning.Settings.from_config(app.config),
                retention=Retention.from_config(app.config),
            )
            app.extensions["moderation.worker"] = worker
            log.info("in-process scoring worker %s started", worker.worker_id)
            worker.run()

    thread = threading.Thread(target=run, name="scoring-worker", daemon=True)
    thread.start()
    app.extensions["moderation.worker_thread"] = thread
    return thread


def stop_in_process_worker(app: Flask, timeout: float) -> None:
    """Ask this process's scoring worker, if it runs one, to stop after its batch, and
    wait for it at most ``timeout`` seconds. A thread still waiting for the lock (another
    process runs the worker) is left to end with the process."""
    worker = app.extensions.get("moderation.worker")
    thread = app.extensions.get("moderation.worker_thread")
    if worker is None or thread is None:
        return
    worker.stop()
    thread.join(timeout)
