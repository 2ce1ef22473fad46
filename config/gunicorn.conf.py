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
