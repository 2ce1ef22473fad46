"""Admins manage a site's webhooks in the review UI: add (the secret shown once), see how
deliveries stand and each webhook's delivery log, send a test, remove."""

from __future__ import annotations

import json

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from moderation.current_scorer import get_scorer
from moderation.models import Site
from moderation.services import webhooks
from moderation.services.worker import Worker
from moderation.types import Role
from tests import factories
from tests.conftest import database_state
from tests.receiver import http_receiver
from tests.review.conftest import account, form_token, sign_in


def add(client: FlaskClient, slug: str, url: str, *events: str, secret: str = "") -> str:
    path = f"/moderation/sites/{slug}/webhooks"
    response = client.post(
        path,
        data={"url": url, "events": list(events), "secret": secret,
              "csrf_token": form_token(client, path)},
    )  # fmt: skip
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_an_admin_adds_a_webhook_sees_its_deliveries_tests_and_removes_it(
    app: Flask, admin_client: FlaskClient, session: Session, site: Site
) -> None:
    app.config["WEBHOOK_ALLOW_PRIVATE"] = True  # the receiver is on loopback
    with http_receiver() as receiver:
        page = add(admin_client, site.slug, receiver.url, "comment.held")
        assert "Signing secret of the new webhook, shown this once: <code>whsec_" in page
        [hook] = webhooks.list_webhooks(session)
        assert hook.secret in page
        again = admin_client.get(f"/moderation/sites/{site.slug}/webhooks").get_data(as_text=True)
        assert hook.secret not in again  # once
        assert receiver.url in again and "comment.held" in again

        # A held comment, delivered by a worker: the log says so.
        factories.submit(session, site, "fuck you idiot")
        Worker(session, get_scorer(), batch_size=8, lease_seconds=60, poll_seconds=0,
               max_attempts=3, webhook_allow_private=True).run(once=True)  # fmt: skip
        assert len(receiver.received) == 1
        log = admin_client.get(f"/moderation/webhooks/{hook.id}").get_data(as_text=True)
        assert "comment.held" in log and "delivered" in log and "200" in log

        path = f"/moderation/sites/{site.slug}/webhooks"
        tested = admin_client.post(
            f"/moderation/webhooks/{hook.id}/test",
            data={"csrf_token": form_token(admin_client, path)},
            follow_redirects=True,
        )
        assert f"webhook {hook.id} answered 200" in tested.get_data(as_text=True)
        assert json.loads(receiver.received[-1].body)["type"] == "ping"

    removed = admin_client.post(
        f"/moderation/webhooks/{hook.id}/remove",
        data={"csrf_token": form_token(admin_client, path)},
        follow_redirects=True,
    )
    assert f"removed webhook {hook.id}" in removed.get_data(as_text=True)
    assert webhooks.list_webhooks(session) == []


def test_a_refused_webhook_says_why_next_to_the_field_and_adds_nothing(
    admin_client: FlaskClient, session: Session, site: Site
) -> None:
    before = database_state(session)
    page = add(admin_client, site.slug, "http://127.0.0.1:9/hook", "comment.held")
    assert 'role="alert">its host' in page and "MODERATION_WEBHOOK_ALLOW_PRIVATE" in page
    page = add(admin_client, site.slug, "https://hooks.example.org/x")
    assert "choose at least one event" in page
    assert database_state(session) == before


def test_moderators_who_are_not_admins_cannot_manage_webhooks(
    app: Flask, session: Session, site: Site
) -> None:
    account(session, "mod@example.org", Role.MODERATOR, [site])
    client = app.test_client()
    sign_in(client, "mod@example.org")
    assert client.get(f"/moderation/sites/{site.slug}/webhooks").status_code == 403
