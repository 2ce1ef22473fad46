"""gunicorn settings for `make run`: a web process per core, two at most
(MODERATION_WEB_PROCESSES sets the number), each with several request threads, and the
scoring worker a thread of one of them (README, Performance). The application is loaded
once, in gunicorn's master, before it forks the web processes: they share its memory.
MODERATION_WORKER_IN_PROCESS, when set, is the operator's choice instead (true: a worker
thread in every web process; false: run `flask moderation worker` yourself)."""

import gc
import os
import tempfile

bind = f"127.0.0.1:{os.environ.get('PORT', '5000')}"
# SQLite takes one writer at a time, so more processes add memory more than posts; with
# PostgreSQL and Redis, set MODERATION_WEB_PROCESSES to the cores (README, Scaling out).
workers = int(os.environ.get("MODERATION_WEB_PROCESSES") or min(2, os.cpu_count() or 1))
# Four request threads in each: with two processes, the eight a single process had. More
# threads per process measured no faster, and each holds a database connection with its
# page cache (README, Performance).
threads = 4
preload_app = True
accesslog = "-"
# gunicorn's default access line, built for a fraction of the CPU (moderation/access_log.py);
# gunicorn's own logger when asked for statsd, which gunicorn then puts in its place.
if "statsd" not in os.environ.get("GUNICORN_CMD_ARGS", ""):
    logger_class = "moderation.access_log.AccessLog"
graceful_timeout = 10
# `make run` does not use gunicorn's control socket; a shared default path would let two
# instances on one machine replace each other's.
control_socket_disable = True

# One scoring worker among the web processes: each waits for this file's lock, and the
# one holding it runs the worker (moderation.wiring.start_in_process_worker). A file of this
# server's own, made here in the master before it forks: two servers on one machine each
# have their worker.
_WORKER_LOCK: str | None = None
if workers > 1 and "MODERATION_WORKER_IN_PROCESS" not in os.environ:
    _descriptor, _WORKER_LOCK = tempfile.mkstemp(prefix="moderation-worker-", suffix=".lock")
    os.close(_descriptor)


# The rate limits' counts, shared by the web processes: in a file of this server's own
# (moderation.extensions.SQLiteStorage), unless the operator chose a storage (Redis).
_LIMITS_FILE: str | None = None
if workers > 1 and "MODERATION_RATELIMIT_STORAGE" not in os.environ:
    _descriptor, _LIMITS_FILE = tempfile.mkstemp(prefix="moderation-limits-", suffix=".sqlite")
    os.close(_descriptor)
    os.environ["MODERATION_RATELIMIT_STORAGE"] = f"sqlite:///{_LIMITS_FILE}"


def pre_fork(server, worker):  # noqa: ANN001 - gunicorn's hook signature
    """Move the loaded application out of the garbage collector's reach before forking:
    its collections would otherwise write to every object's header, and each web process
    would end up with its own copy of pages it could share with the master."""
    gc.freeze()


def post_worker_init(worker):  # noqa: ANN001 - gunicorn's hook signature
    from pathlib import Path

    from moderation.wiring import load_scorer_now, start_in_process_worker

    # Load the model before taking requests: a misconfigured scorer stops start-up here.
    load_scorer_now(worker.wsgi)
    start_in_process_worker(
        worker.wsgi, one_holding=Path(_WORKER_LOCK) if _WORKER_LOCK is not None else None
    )


def on_exit(server):  # noqa: ANN001 - gunicorn's hook signature
    """Remove the files this server made for itself."""
    made = [_WORKER_LOCK] if _WORKER_LOCK is not None else []
    if _LIMITS_FILE is not None:
        made += [_LIMITS_FILE, f"{_LIMITS_FILE}-wal", f"{_LIMITS_FILE}-shm"]
    for path in made:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def pre_request(worker, req):  # noqa: ANN001 - gunicorn's hook signature
    """Announce the close of a connection whose request body is over the app's limit.

    The app answers such a request 413 without reading its body; gunicorn then drains
    at most 64 KiB of it before reusing the connection, gives up on a larger body and
    closes the connection, after telling the client "Connection: keep-alive". The
    client's next request on it then fails. Marking the request makes gunicorn say
    "Connection: close" instead, so clients open a new connection."""
    from config.default import MAX_CONTENT_LENGTH

    limit = int(os.environ.get("MODERATION_MAX_CONTENT_LENGTH", MAX_CONTENT_LENGTH))
    for name, value in req.headers:
        if name == "CONTENT-LENGTH" and value.strip().isdigit() and int(value) > limit:
            req.must_close = True
    worker.log.debug("%s %s", req.method, req.path)
