"""gunicorn settings for `make run`: one process (SQLite, and the scoring worker runs as a
thread of it), several request threads."""

import os

bind = f"127.0.0.1:{os.environ.get('PORT', '5000')}"
workers = 1
threads = 8
accesslog = "-"
graceful_timeout = 10
# `make run` does not use gunicorn's control socket; a shared default path would let two
# instances on one machine replace each other's.
control_socket_disable = True


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
