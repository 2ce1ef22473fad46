"""Real `flask moderation worker` processes sharing one PostgreSQL queue: a worker killed
in the middle of a batch strands nothing (its claims expire and the others score them,
each comment exactly once), and SIGTERM lets a busy worker finish its batch and exit 0.
(tests/services/test_worker.py covers the same pipeline inside one process.)"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.sql import Select

from moderation.db import db
from moderation.models import Comment, ModerationAction, Score, Site
from moderation.services import comments
from moderation.types import Actor, CommentStatus, utcnow
from tests.conftest import POSTGRES, POSTGRES_PROBLEM, REPO

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not POSTGRES,
        reason=f"worker processes share a queue only on PostgreSQL: {POSTGRES_PROBLEM} "
        "(set TEST_DATABASE_URL)",
    ),
    # The conftest's `app` fixture empties this run's PostgreSQL database for this backend.
    pytest.mark.parametrize("backend", ["postgresql"]),
]

FLASK = REPO / ".venv" / "bin" / "flask"
STARTUP_SECONDS = 60
EXIT_SECONDS = 30


@dataclass
class WorkerProcess:
    proc: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def claim_prefix(self) -> str:
        # Worker ids are "<hostname>:<pid>:<random>" and claim tokens "<worker id>/<random>".
        return f"{socket.gethostname()}:{self.pid}:"

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def describe(self) -> str:
        return (
            f"worker pid {self.pid} (returncode {self.proc.poll()})\n"
            f"--- stdout ---\n{self.stdout()}\n--- stderr ---\n{self.stderr()[-4000:]}"
        )


StartWorker = Callable[..., WorkerProcess]


@pytest.fixture
def start_worker(tmp_path: Path, database_url: str) -> Iterator[StartWorker]:
    """Start `flask moderation worker` processes against this run's test database; whatever
    is still running at the end of the test is killed."""
    started: list[WorkerProcess] = []
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODERATION_")}
    env.update(
        FLASK_APP="app",
        MODERATION_DATABASE_URL=database_url,
        MODERATION_SECRET_KEY="x",
        MODERATION_SCORER="lite",
        PYTHONUNBUFFERED="1",
    )

    def start(*options: str, **settings: str) -> WorkerProcess:
        """A worker with these command-line ``options`` and MODERATION_ ``settings``."""
        n = len(started)
        stdout_path, stderr_path = tmp_path / f"worker{n}.out", tmp_path / f"worker{n}.err"
        with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
            proc = subprocess.Popen(
                [str(FLASK), "moderation", "worker", *options],
                cwd=REPO,
                env={**env, **{f"MODERATION_{k}": v for k, v in settings.items()}},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )
        worker = WorkerProcess(proc, stdout_path, stderr_path)
        started.append(worker)
        return worker

    yield start

    for worker in started:
        if worker.proc.poll() is None:
            worker.proc.kill()  # SIGKILL also ends a stopped process
        worker.proc.wait(timeout=EXIT_SECONDS)


def wait_until_started(workers: Sequence[WorkerProcess]) -> None:
    """Until each worker has printed its start line (its SIGTERM handler is then set)."""
    deadline = time.monotonic() + STARTUP_SECONDS
    for worker in workers:
        while "scoring with" not in worker.stdout():
            assert worker.proc.poll() is None, f"worker died at start:\n{worker.describe()}"
            assert time.monotonic() < deadline, f"worker did not start:\n{worker.describe()}"
            time.sleep(0.05)


def rows(statement: Select) -> list:  # type: ignore[type-arg]
    # A fresh connection per query, so each poll sees what the workers committed since.
    with db.engine.connect() as conn:
        return list(conn.execute(statement).all())


def held_claims(worker: WorkerProcess) -> list[int]:
    """Pending comments under a claim of ``worker``, as committed now."""
    return [
        comment_id
        for (comment_id,) in rows(
            select(Comment.id)
            .where(
                Comment.status == CommentStatus.PENDING,
                Comment.claimed_by.startswith(worker.claim_prefix, autoescape=True),
            )
            .order_by(Comment.id)
        )
    ]


def assert_alive(workers: Sequence[WorkerProcess]) -> None:
    """Fail at once, with its output, when a worker has exited that should be running."""
    for worker in workers:
        assert worker.proc.poll() is None, f"worker exited unexpectedly:\n{worker.describe()}"


def wait_stopped(worker: WorkerProcess) -> None:
    """Until the kernel reports ``worker`` stopped (state T) after SIGSTOP."""
    deadline = time.monotonic() + 10
    stat = Path(f"/proc/{worker.pid}/stat")
    while stat.read_text().rpartition(")")[2].split()[0] not in ("T", "t"):
        assert_alive([worker])
        assert time.monotonic() < deadline, f"SIGSTOP did not stop {worker.describe()}"
        time.sleep(0.01)


def stop_while_holding_claims(
    workers: Sequence[WorkerProcess], deadline: float
) -> tuple[WorkerProcess, list[int]]:
    """SIGSTOP the first of ``workers`` seen holding claims, at a moment when it still
    holds them (checked after it stopped). Returns it, stopped, and the held comment ids."""
    while time.monotonic() < deadline:
        assert_alive(workers)
        for worker in workers:
            if not held_claims(worker):
                continue
            os.kill(worker.pid, signal.SIGSTOP)
            wait_stopped(worker)
            held = held_claims(worker)
            if held:
                return worker, held
            # It committed its results between the two looks: let it go on, try again.
            os.kill(worker.pid, signal.SIGCONT)
        time.sleep(0.005)
    details = "\n".join(w.describe() for w in workers)
    pytest.fail(f"no worker was caught holding claims before the deadline:\n{details}")


def submit_pending(site: Site, count: int) -> list[int]:
    """``count`` comments, committed as pending (scored by nobody yet), some of them rude."""
    session = db.session
    made = [
        comments.submit(
            session,
            site_slug=site.slug,
            thread_key=f"post-{i % 7}",
            author_name=f"reader {i}",
            body="you are a fucking idiot" if i % 10 == 0 else f"Thoughtful point number {i}.",
            now=utcnow(),
        )
        for i in range(count)
    ]
    session.commit()
    return [c.id for c in made]


def wait_until_nothing_pending(workers: Sequence[WorkerProcess], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        [(left,)] = rows(
            select(func.count()).select_from(Comment).where(Comment.status == CommentStatus.PENDING)
        )
        if left == 0:
            return
        assert_alive(workers)
        if time.monotonic() > deadline:
            details = "\n".join(w.describe() for w in workers)
            pytest.fail(f"{left} comments still pending after {seconds} s:\n{details}")
        time.sleep(0.2)


def terminate(worker: WorkerProcess) -> int:
    worker.proc.send_signal(signal.SIGTERM)
    try:
        return worker.proc.wait(timeout=EXIT_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"worker ignored SIGTERM for {EXIT_SECONDS} s:\n{worker.describe()}")


EXIT_LINE = re.compile(r"^worker \S+: scored (\d+) comments, exiting$", re.MULTILINE)


def scored_count(worker: WorkerProcess) -> int:
    """How many comments ``worker`` says it scored, from its last line."""
    match = EXIT_LINE.search(worker.stdout())
    assert match, f"no exit line:\n{worker.describe()}"
    return int(match[1])


def test_a_worker_killed_mid_batch_strands_nothing(site: Site, start_worker: StartWorker) -> None:
    workers = [start_worker("--batch", "10", "--lease", "3", "--poll", "0.2") for _ in range(3)]
    wait_until_started(workers)
    ids = submit_pending(site, 500)

    victim, held = stop_while_holding_claims(workers, time.monotonic() + 60)
    victim.proc.kill()
    assert victim.proc.wait(timeout=EXIT_SECONDS) == -signal.SIGKILL
    assert 0 < len(held) <= 10, "a claim takes at most --batch comments"
    survivors = [w for w in workers if w is not victim]

    wait_until_nothing_pending(survivors, 90)

    scores_per_comment = dict(
        rows(select(Score.comment_id, func.count()).group_by(Score.comment_id))
    )
    assert scores_per_comment == dict.fromkeys(ids, 1), "each comment is scored exactly once"
    decisions_per_comment = dict(
        rows(
            select(ModerationAction.comment_id, func.count())
            .where(
                ModerationAction.actor == Actor.SYSTEM,
                ModerationAction.from_status == CommentStatus.PENDING,
            )
            .group_by(ModerationAction.comment_id)
        )
    )
    assert decisions_per_comment == dict.fromkeys(ids, 1), "each comment is decided once"
    [(actions,)] = rows(select(func.count()).select_from(ModerationAction))
    assert actions == len(ids)

    # What the killed worker held was taken over once its lease ran out: claimed again
    # (a second attempt), scored, and released.
    taken_over = rows(
        select(Comment.id, Comment.status, Comment.claimed_by, Comment.score_attempts).where(
            Comment.id.in_(held)
        )
    )
    assert len(taken_over) == len(held)
    for comment_id, status, claimed_by, attempts in taken_over:
        assert status != CommentStatus.PENDING, comment_id
        assert claimed_by is None, comment_id
        assert attempts >= 2, comment_id
    [(still_claimed,)] = rows(
        select(func.count()).select_from(Comment).where(Comment.claimed_by.is_not(None))
    )
    assert still_claimed == 0

    for worker in survivors:
        assert terminate(worker) == 0, worker.describe()
        assert "batch failed" not in worker.stderr(), worker.describe()
    scored_by_survivors = sum(scored_count(w) for w in survivors)
    assert len(held) <= scored_by_survivors <= len(ids)


def test_sigterm_lets_a_busy_worker_finish_its_batch(site: Site, start_worker: StartWorker) -> None:
    worker = start_worker("--batch", "50", "--lease", "60", "--poll", "0.2")
    wait_until_started([worker])
    ids = submit_pending(site, 200)

    # Stopped while it holds a claim, the worker gets SIGTERM and resumes with the signal
    # pending: it is told to stop in the middle of that batch, deterministically.
    _, held = stop_while_holding_claims([worker], time.monotonic() + 60)
    worker.proc.send_signal(signal.SIGTERM)
    os.kill(worker.pid, signal.SIGCONT)
    try:
        returncode = worker.proc.wait(timeout=EXIT_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"worker ignored SIGTERM for {EXIT_SECONDS} s:\n{worker.describe()}")
    assert returncode == 0, worker.describe()
    assert "finishing the batch, then exiting" in worker.stderr(), worker.describe()
    scored = scored_count(worker)

    state = {
        comment_id: (status, claimed_by)
        for comment_id, status, claimed_by in rows(
            select(Comment.id, Comment.status, Comment.claimed_by)
        )
    }
    assert sorted(state) == ids
    # The batch it held was finished, not stranded under a claim...
    for comment_id in held:
        assert state[comment_id][0] != CommentStatus.PENDING, comment_id
    assert all(claimed_by is None for _, claimed_by in state.values())
    # ...and it took no batch after the signal: claims go oldest first, so nothing newer
    # than that batch was scored, and everything up to it was.
    done = [i for i in ids if state[i][0] != CommentStatus.PENDING]
    assert done == [i for i in ids if i <= max(held)]
    assert scored == len(done)
    [(score_rows,)] = rows(select(func.count()).select_from(Score))
    assert score_rows == len(done)


def test_one_command_runs_several_workers_that_share_the_queue(
    site: Site, start_worker: StartWorker
) -> None:
    ids = submit_pending(site, 120)
    supervisor = start_worker("--concurrency", "3", "--batch", "5", "--poll", "0.1", "--once")
    try:
        returncode = supervisor.proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail(f"workers did not drain the queue:\n{supervisor.describe()}")
    assert returncode == 0, supervisor.describe()
    output = supervisor.stdout()
    assert "supervising 3 workers" in output
    per_worker = [int(n) for n in re.findall(r"scored (\d+) comments, exiting", output)]
    assert len(per_worker) == 3 and sum(per_worker) == len(ids)
    [(pending,)] = rows(
        select(func.count()).select_from(Comment).where(Comment.status == CommentStatus.PENDING)
    )
    assert pending == 0
    [(score_rows,)] = rows(select(func.count()).select_from(Score))
    assert score_rows == len(ids)
