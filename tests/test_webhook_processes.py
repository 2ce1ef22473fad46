"""A real `flask moderation worker` process killed (SIGKILL) while a webhook receiver is
still answering its POST: the delivery is not lost; another worker sends it again once
the dead one's lease ends, with the same delivery id."""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.models import Site, WebhookDelivery
from moderation.services import webhooks
from moderation.types import DeliveryStatus, utcnow
from tests import factories
from tests.receiver import http_receiver
from tests.test_worker_processes import (  # noqa: F401  (fixture)
    EXIT_SECONDS,
    StartWorker,
    pytestmark,
    rows,
    start_worker,
)


def test_a_worker_killed_mid_delivery_loses_nothing(
    session: Session,
    site: Site,
    start_worker: StartWorker,  # noqa: F811
) -> None:
    # The first POST hangs long after the worker's lease: it dies waiting for the answer.
    with http_receiver(first_delay_seconds=30) as receiver:
        webhooks.add_webhook(
            session, site.slug, receiver.url, ["comment.held"], utcnow(), allow_private=True
        )
        session.commit()
        factories.scored(
            session, factories.submit(session, site, "fuck you idiot"), {"toxicity": 0.9}
        )
        settings = {"WEBHOOK_ALLOW_PRIVATE": "true"}
        victim = start_worker("--lease", "2", "--poll", "0.1", **settings)
        deadline = time.monotonic() + 60
        while receiver.arrivals == 0:
            assert victim.proc.poll() is None, victim.describe()
            assert time.monotonic() < deadline, f"no delivery arrived:\n{victim.describe()}"
            time.sleep(0.05)
        victim.proc.kill()
        victim.proc.wait(timeout=EXIT_SECONDS)
        [(status, claimed_by)] = rows(select(WebhookDelivery.status, WebhookDelivery.claimed_by))
        assert status == DeliveryStatus.PENDING and claimed_by  # sent, never recorded

        heir = start_worker("--lease", "2", "--poll", "0.1", **settings)
        while True:
            [(status, attempts, key)] = rows(
                select(
                    WebhookDelivery.status,
                    WebhookDelivery.attempts,
                    WebhookDelivery.delivery_key,
                )
            )
            if status == DeliveryStatus.DELIVERED:
                break
            assert heir.proc.poll() is None, heir.describe()
            assert time.monotonic() < deadline, f"not redelivered:\n{heir.describe()}"
            time.sleep(0.1)
        assert receiver.arrivals == 2
        [answered] = receiver.received  # the dead worker's request is still hanging
    assert answered.headers["x-moderation-delivery"] == key
    assert attempts == 1  # the heir's; the dead worker recorded nothing
