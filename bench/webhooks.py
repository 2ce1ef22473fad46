"""How many webhook deliveries per second one worker makes to a receiver on 127.0.0.1.

    .venv/bin/python bench/webhooks.py [--events 2000] [--webhooks 1] [--delay-ms 0]

Builds the schema in a new SQLite file, adds ``--webhooks`` webhooks that want
``comment.created`` and writes ``--events`` held comments through the lifecycle (so each has
its `comment.created` event), then times one worker (the same ``Worker.deliver_events`` loop the
in-process and `flask moderation worker` workers run) fanning the events out and
delivering every one to a local ``http.server`` receiver that answers 200 after
``--delay-ms``. Prints fan-out and delivery rates. Not a test: it prints figures."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--webhooks", type=int, default=1)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--batch", type=int, default=32, help="the worker's batch size")
    args = parser.parse_args()

    from sqlalchemy import func, select

    from app import create_app
    from moderation.current_scorer import get_scorer
    from moderation.db import db
    from moderation.models import Comment, Site, Thread, WebhookDelivery
    from moderation.services import lifecycle, outbox, webhooks
    from moderation.services.worker import Worker
    from moderation.types import CommentStatus, DeliveryStatus, ModerationMode, Rule, utcnow
    from tests.receiver import http_receiver

    folder = tempfile.mkdtemp(prefix="bench-webhooks-")
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.db",
            "SECRET_KEY": "bench",
            "WORKER_IN_PROCESS": False,
            "SCORER": "lite",
            "RATELIMIT_ENABLED": False,  # as a peer's benchmark would; no HTTP here anyway
        }
    )
    with app.app_context(), http_receiver(delay_seconds=args.delay_ms / 1000) as receiver:
        db.create_all()
        session = db.session
        site = Site(
            slug="bench",
            name="Bench",
            allowed_origins=[],
            thresholds={},
            banned_words=[],
            suspect_words=[],
            moderation_mode=ModerationMode.POST,
        )
        session.add(site)
        thread = Thread(site=site, key="post-1", title="Post")
        session.add(thread)
        session.flush()
        for _ in range(args.webhooks):
            webhooks.add_webhook(
                session, "bench", receiver.url, ["comment.created"], utcnow(), allow_private=True
            )
        now = utcnow()
        for i in range(args.events):
            comment = Comment(thread=thread, depth=0, author_name=f"r{i}", body=f"held {i}",
                              body_html=f"<p>held {i}</p>", score_attempts=0, flag_count=0,
                              created_at=now, updated_at=now)  # fmt: skip
            lifecycle.create(
                session, comment, now, CommentStatus.HELD, rule=Rule.POSTED_DESPITE_WARNING
            )
        session.commit()
        worker = Worker(session, get_scorer(), batch_size=args.batch, lease_seconds=60,
                        poll_seconds=0, max_attempts=3, webhook_allow_private=True)  # fmt: skip

        started = time.perf_counter()
        while outbox.dispatch(session, utcnow(), batch_size=args.batch * 4):
            session.commit()
        session.commit()
        fanned = time.perf_counter() - started

        started = time.perf_counter()
        while worker.deliver_events():
            pass
        delivering = time.perf_counter() - started

        delivered = session.scalar(
            select(func.count()).where(WebhookDelivery.status == DeliveryStatus.DELIVERED)
        )
        expected = args.events * args.webhooks
        print(f"events {args.events}, webhooks {args.webhooks}, receiver delay {args.delay_ms} ms, "
              f"worker batch {args.batch} (8 sends at once), SQLite")  # fmt: skip
        print(f"fan-out:   {expected} deliveries written in {fanned:.2f} s "
              f"({expected / fanned:,.0f}/s)")  # fmt: skip
        print(f"delivery:  {delivered} of {expected} delivered in {delivering:.2f} s "
              f"({(delivered or 0) / delivering:,.0f} deliveries/s); "
              f"receiver got {len(receiver.received)} requests")  # fmt: skip


if __name__ == "__main__":
    main()
