"""How long the review queue's first page takes with 100,000 held comments.

    .venv/bin/python bench/queue_first_page.py [--comments 100000] [--postgres URL]

Builds the schema in a new SQLite file and, when PostgreSQL answers (default
postgresql://postgres@127.0.0.1:5432/postgres; a database `bench_queue_<pid>_<random>` of
this run's own is created and dropped), fills each with held comments (scores, a few reader
flags), then times the signed-in GET of /moderation/ (the Held tab, priority order, with its
tab counts) and the queue query alone: median of 7 runs after one warm-up."""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def fill(count: int) -> None:
    from sqlalchemy import insert, update

    from moderation.db import db
    from moderation.models import Comment, Flag, Score, Site, Thread
    from moderation.types import CommentStatus, FlagReason, utcnow

    rng = random.Random(1)
    session = db.session
    site = Site(
        slug="demo",
        name="Demo",
        allowed_origins=[],
        thresholds={},
        banned_words=[],
        suspect_words=[],
    )
    session.add(site)
    session.flush()
    threads = [Thread(site_id=site.id, key=f"post-{i}", title=f"Post {i}") for i in range(200)]
    session.add_all(threads)
    session.flush()
    now = utcnow()
    batch = 10_000
    for start in range(0, count, batch):
        rows = []
        for i in range(start, min(start + batch, count)):
            score = rng.random()
            rows.append(
                {
                    "thread_id": threads[i % len(threads)].id,
                    "depth": 0,
                    "author_name": f"reader{i}",
                    "body": f"comment number {i} with some words",
                    "body_html": f"<p>comment {i}</p>",
                    "status": CommentStatus.HELD,
                    "top_score": score,
                    "score_attempts": 1,
                    "version": 2,
                    "flag_count": 0,
                    "created_at": now,
                    "updated_at": now,
                    "acknowledged_warning": False,
                }
            )
        session.execute(insert(Comment), rows)
    session.flush()
    ids = [row[0] for row in session.execute(db.select(Comment.id, Comment.top_score))]
    scores = db.session.execute(db.select(Comment.id, Comment.top_score)).all()
    for start in range(0, len(scores), batch):
        session.execute(
            insert(Score),
            [
                {
                    "comment_id": cid,
                    "scorer": "lite",
                    "scorer_version": "bench",
                    "labels": {"toxicity": top},
                    "duration_ms": 1.0,
                    "created_at": now,
                }
                for cid, top in scores[start : start + batch]
            ],
        )
    flagged = rng.sample(ids, min(2000, len(ids)))
    session.execute(
        update(Comment).where(Comment.id.in_(flagged)).values(flag_count=Comment.flag_count + 1)
    )
    session.execute(
        insert(Flag),
        [{"comment_id": cid, "reason": FlagReason.SPAM, "created_at": now} for cid in flagged],
    )
    session.commit()


def measure(url: str, count: int) -> dict[str, float]:
    from app import create_app
    from moderation.db import db
    from moderation.services import moderators, review

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench",
            "SCORER": "lite",
            "WORKER_IN_PROCESS": False,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        db.drop_all()
        db.create_all()
        started = time.perf_counter()
        fill(count)
        filled = time.perf_counter() - started
        from moderation.types import Role

        moderators.create_moderator(
            db.session, "bench@example.org", Role.ADMIN, [], "benchmark-password"
        )
        db.session.commit()
        db.session.remove()
    client = app.test_client()
    client.post(
        "/moderation/login", data={"email": "bench@example.org", "password": "benchmark-password"}
    )

    def page() -> None:
        response = client.get("/moderation/?tab=held")
        assert response.status_code == 200 and b"<p>comment " in response.data

    def query() -> None:
        with app.app_context():
            review.queue(db.session(), review.Scope(None), review.Tab.HELD)
            db.session.remove()

    results = {"fill_s": filled}
    for name, run in (("page_ms", page), ("query_ms", query)):
        run()
        times = []
        for _ in range(7):
            started = time.perf_counter()
            run()
            times.append((time.perf_counter() - started) * 1000)
        results[name] = statistics.median(times)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--comments", type=int, default=100_000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    targets = [("SQLite", f"sqlite:///{tempfile.mkdtemp()}/queue.db")]
    admin_url = args.postgres
    # A name of this run's own: two benchmarks (or a benchmark and the tests) may share a server.
    pg_database = f"bench_queue_{os.getpid()}_{secrets.token_hex(4)}"
    try:
        import psycopg

        with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{pg_database}"')
        pg_url = admin_url.rsplit("/", 1)[0] + f"/{pg_database}"
        targets.append(("PostgreSQL", pg_url.replace("postgresql://", "postgresql+psycopg://")))
    except Exception as exc:  # noqa: BLE001 - report and go on with SQLite
        print(f"PostgreSQL not measured: {exc}")
    try:
        print(f"{args.comments:,} held comments, 200 threads, 2,000 flagged; median of 7 runs")
        print(f"{'database':12s} {'first page (HTTP)':>18s} {'queue query':>12s} {'fill':>8s}")
        for name, url in targets:
            r = measure(url, args.comments)
            print(
                f"{name:12s} {r['page_ms']:15.1f} ms {r['query_ms']:9.1f} ms {r['fill_s']:6.1f} s"
            )
    finally:
        if len(targets) > 1:
            import psycopg

            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{pg_database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
