"""gunicorn settings for `make run`: one web process with several request threads, the
scoring worker a thread of it (the default: SQLite, where processes only contend for its
one writer; README, Performance), or MODERATION_WEB_PROCESSES of them with the scoring
worker as a process of its own that the master starts and stops with itself (one
command; with PostgreSQL and Redis, one per core). MODERATION_WORKER_IN_PROCESS, when
set, is the operator's choice instead (true: a worker thread in each web process; false:
run `flask moderation worker` yourself)."""

import os
import signal
import subprocess
import sys

bind = f"127.0.0.1:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("MODERATION_WEB_PROCESSES") or 1)
threads = 8
accesslog = "-"
# gunicorn's default access line, built for a fraction of the CPU (moderation/access_log.py);
# gunicorn's own logger when asked for statsd, which gunicorn then puts in its place.
if "statsd" not in os.environ.get("GUNICORN_CMD_ARGS", ""):
    logger_class = "moderation.access_log.AccessLog"
graceful_timeout = 10
# `make run` does not use gunicorn's control socket; a shared default path would let two
# instances on one machine replace each other's.
control_socket_disable = True

# Decided here, in the master, before it forks: the web processes inherit the setting.
_SEPARATE_WORKER = workers > 1 and "MODERATION_WORKER_IN_PROCESS" not in os.environ
if _SEPARATE_WORKER:
    os.environ["MODERATION_WORKER_IN_PROCESS"] = "false"
_worker_process: subprocess.Popen[bytes] | None = None


def when_ready(server):  # noqa: ANN001 - gunicorn's hook signature
    """Start the scoring worker beside the web processes, with their environment."""
    global _worker_process
    if not _SEPARATE_WORKER:
        return
    _worker_process = subprocess.Popen(  # noqa: S603 - our own command, no user input
        [sys.executable, "-m", "flask", "--app", "app", "moderation", "worker"]
    )
    server.log.info("scoring worker started (pid %s)", _worker_process.pid)


def on_exit(server):  # noqa: ANN001 - gunicorn's hook signature
    """Stop the scoring worker with the server: it finishes its batch first."""
    if _worker_process is None or _worker_process.poll() is not None:
        return
    _worker_process.send_signal(signal.SIGTERM)
    try:
        _worker_process.wait(timeout=graceful_timeout)
    except subprocess.TimeoutExpired:
        _worker_process.kill()


def post_worker_init(worker):  # noqa: ANN001 - gunicorn's hook signature
    from moderation.wiring import load_scorer_now, start_in_process_worker

    # Load the model before taking requests: a misconfigured scorer stops start-up here.
    load_scorer_now(worker.wsgi)
    start_in_process_worker(worker.wsgi)


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
