"""gunicorn settings for `make run`: a web process per core, two at most
(MODERATION_WEB_PROCESSES sets the number), each with its request threads, and the
scoring worker a thread of one of them (README, Performance). The application is loaded
once, in gunicorn's master, before it forks the web processes: they share its memory.
MODERATION_WORKER_IN_PROCESS, when set, is the operator's choice instead (true: a worker
thread in every web process; false: run `flask moderation worker` yourself)."""

import atexit
import gc
import os
from pathlib import Path

bind = f"127.0.0.1:{os.environ.get('PORT', '5000')}"
# The cores this process may run on (a container's or taskset's, not the machine's).
_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
# SQLite takes one writer at a time, so more processes add memory more than posts; with
# PostgreSQL and Redis, set MODERATION_WEB_PROCESSES to the cores (README, Scaling out).
workers = int(os.environ.get("MODERATION_WEB_PROCESSES") or min(2, _CORES or 1))
# Request threads in each. On SQLite with two processes or more, one: a post's writer then
# never waits for the interpreter's lock while it holds SQLite's, which every writer of
# both processes waits for (a thread running Python keeps that lock up to 5 ms at a time).
# One thread against two, five paired runs: the posts' p99 at 8 clients 26 to 37 ms
# against 65 to 79, and more posts on average (README, Performance). Two with PostgreSQL,
# whose writers do not wait for each other, and four in a lone process. A connection that
# has sent nothing yet holds no thread (moderation/serving.py); a slow reader is for the
# reverse proxy to wait for (nginx reads each answer at once). GUNICORN_CMD_ARGS="--threads
# N" chooses otherwise. The database's URL is read as the application reads it
# (moderation.wiring); without one, config/default.py's SQLite file. (Read here, not
# imported: this file is loaded before the project is on gunicorn's path.)
_URL = (
    os.environ.get("MODERATION_SQLALCHEMY_DATABASE_URI")
    or os.environ.get("MODERATION_DATABASE_URL")
    or "sqlite"
)
threads = 4 if workers == 1 else 1 if _URL.startswith("sqlite") else 2
# gthread, listening only while a thread is free: the web processes share the connections
# of a burst instead of the first one awake taking them all (moderation/serving.py).
worker_class = "moderation.serving.ThreadWorker"
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

# Files of this server's own, shared by its web processes however many there are (-w,
# TTIN): the scoring worker's lock, the rate limits' counts and the count of commits
# (_own below). In instance/run/ (which no /tmp cleaner empties under a running server),
# named by the master's pid: gunicorn runs this file again on HUP, in the same master, and
# finds the same names; a new master (USR2) has its own. The processes make them when they
# first use them; the master removes its own when it exits, and those of masters that are
# gone when it starts.
_RUN = Path(__file__).resolve().parent.parent / "instance" / "run"
_MASTER = os.getpid()
_RUN.mkdir(parents=True, exist_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


for _path in _RUN.glob("*-*.*"):
    _pid = _path.name.split(".")[0].rpartition("-")[2]
    if _pid.isdigit() and int(_pid) != _MASTER and not _alive(int(_pid)):
        _path.unlink(missing_ok=True)


def _own(name: str) -> Path:
    """The path of this server's file ``name`` (``<kind>.<suffix>``)."""
    kind, _, suffix = name.partition(".")
    return _RUN / f"{kind}-{_MASTER}.{suffix}"


@atexit.register
def _remove_own_files() -> None:
    if os.getpid() == _MASTER:  # not in a web process that exits
        for path in _RUN.glob(f"*-{_MASTER}.*"):
            path.unlink(missing_ok=True)


# One scoring worker among the web processes: each waits for this file's lock, and the
# one holding it runs the worker (moderation.wiring.start_in_process_worker).
_WORKER_LOCK = None
if "MODERATION_WORKER_IN_PROCESS" not in os.environ:
    _WORKER_LOCK = _own("worker.lock")

# The rate limits' counts, in a file the web processes share (moderation.extensions.
# SQLiteStorage), unless the operator chose a storage (Redis). Set in the environment,
# where the application reads its settings; replaced when a master of ours set it before.
if "MODERATION_RATELIMIT_STORAGE" not in os.environ or "_MODERATION_RUN_MASTER" in os.environ:
    os.environ["MODERATION_RATELIMIT_STORAGE"] = f"sqlite:///{_own('limits.sqlite')}"
    os.environ["_MODERATION_RUN_MASTER"] = str(_MASTER)


# The web processes count their commits together, so that the comment counts each keeps
# see the others' posts and decisions at once (moderation.db.SharedCount).
os.environ["MODERATION_COMMIT_COUNT_FILE"] = str(_own("commits.count"))


def pre_fork(server, worker):  # noqa: ANN001 - gunicorn's hook signature
    """Move the loaded application out of the garbage collector's reach before forking:
    its collections would otherwise write to every object's header, and each web process
    would end up with its own copy of pages it could share with the master."""
    gc.freeze()


def post_worker_init(worker):  # noqa: ANN001 - gunicorn's hook signature
    from moderation.wiring import load_scorer_now, start_in_process_worker

    # Load the model before taking requests: a misconfigured scorer stops start-up here.
    load_scorer_now(worker.wsgi)
    start_in_process_worker(worker.wsgi, one_holding=_WORKER_LOCK)


def worker_exit(server, worker):  # noqa: ANN001 - gunicorn's hook signature
    """A web process that runs the scoring worker lets it finish its batch before exiting
    (its claims would otherwise wait out their lease before another worker took them)."""
    from moderation.wiring import stop_in_process_worker

    stop_in_process_worker(worker.wsgi, timeout=graceful_timeout / 2)


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
