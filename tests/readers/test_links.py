"""The confirm and unsubscribe links of readers' mail, followed in a browser-less client:
a GET shows a button and changes nothing (mail scanners fetch links); the POST acts. The
one-click unsubscribe works without a session or a CSRF token (RFC 8058)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import create_app
from moderation.db import db
from moderation.models import ReplySubscription, Site
from moderation.services import reader_links, reader_mail
from moderation.types import utcnow
from tests.conftest import app_config, database_state, make_site, reset_database

SECRET = "test-secret"  # the app's SECRET_KEY in tests


def subscription(
    session: Session, site: Site, *, asked_at: timedelta = timedelta()
) -> ReplySubscription:
    """Ann's address as the worker leaves it after mailing her confirmation."""
    row = ReplySubscription(
        site_id=site.id, email="Ann@example.org", email_key="ann@example.org",
        confirm_round=1, confirm_sent_at=utcnow() - asked_at, created_at=utcnow(),
    )  # fmt: skip
    session.add(row)
    session.commit()
    return row


def confirm_path(row: ReplySubscription) -> str:
    assert row.confirm_sent_at is not None
    link = reader_links.ConfirmLink(row.id, row.confirm_round)
    return "/replies/confirm/" + reader_links.sign_confirm(SECRET, link, row.confirm_sent_at)


def unsubscribe_path(row: ReplySubscription) -> str:
    return "/replies/unsubscribe/" + reader_links.sign_unsubscribe(SECRET, row.id)


def test_the_confirm_link_shows_a_button_and_only_the_post_confirms(
    client: FlaskClient, session: Session, site: Site
) -> None:
    row = subscription(session, site)
    path = confirm_path(row)
    before = database_state(session)
    page = client.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<form method="post"' in html and f'action="{path}"' in html and "Yes, email me" in html
    assert "Ann@example.org" not in html and "ann@example.org" not in html  # never shown
    assert "Set-Cookie" not in page.headers
    assert database_state(session) == before  # the GET changed nothing
    done = client.post(path)  # no CSRF token: the signed token is the proof
    assert done.status_code == 200 and "Confirmed" in done.get_data(as_text=True)
    session.refresh(row)
    assert row.confirmed_at is not None
    again = client.get(path)
    assert "Already confirmed" in again.get_data(as_text=True)
    assert "<form" not in again.get_data(as_text=True)


def test_an_expired_altered_or_replaced_confirm_link_does_nothing(
    client: FlaskClient, session: Session, site: Site
) -> None:
    old = subscription(session, site, asked_at=timedelta(days=7, minutes=1))
    expired = client.post(confirm_path(old))
    assert expired.status_code == 410 and "expired" in expired.get_data(as_text=True)
    old.confirm_sent_at = utcnow() - timedelta(hours=25)
    path = confirm_path(old)  # round 1, still valid, until ...
    old.confirm_round, old.confirm_sent_at = 2, utcnow()  # ... a newer mail went out
    session.commit()
    replaced = client.post(path)
    assert replaced.status_code == 409 and "newer" in replaced.get_data(as_text=True)
    fresh = confirm_path(old)
    altered = client.post(fresh[:-3] + ("AAA" if not fresh.endswith("AAA") else "BBB"))
    assert altered.status_code == 400
    session.refresh(old)
    assert old.confirmed_at is None
    assert client.post(fresh).status_code == 200


def test_one_click_unsubscribe_works_without_a_session_or_csrf_token(
    client: FlaskClient, session: Session, site: Site
) -> None:
    row = subscription(session, site)
    row.confirmed_at = utcnow()
    session.commit()
    path = unsubscribe_path(row)
    before = database_state(session)
    page = client.get(path)
    assert page.status_code == 200 and 'id="unsubscribe"' in page.get_data(as_text=True)
    assert database_state(session) == before
    # As a mail client sends it (RFC 8058): a form POST, no cookie, no CSRF token.
    response = client.post(
        path,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert "unsubscribed" in response.get_data(as_text=True)
    session.refresh(row)
    assert row.unsubscribed_at is not None
    assert client.post(path).status_code == 200  # twice is the same as once
    refused = client.post(confirm_path(row))
    assert refused.status_code == 409 and "unsubscribed" in refused.get_data(as_text=True)
    assert client.post("/replies/unsubscribe/not-a-token").status_code == 400


def test_other_forms_still_need_their_csrf_token(client: FlaskClient, site: Site) -> None:
    """The exemption is the reader links' alone: sign-in without a token is refused."""
    response = client.post("/moderation/login", data={"email": "a@b.c", "password": "x"})
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)


@pytest.fixture
def limited(database_url: str, backend: str) -> Iterator[Flask]:
    app = create_app(
        app_config(database_url, RATELIMIT_ENABLED=True, RATELIMIT_MAIL_LINKS="3/minute")
    )
    with app.app_context():
        reset_database(backend)
        yield app
        db.session.remove()
        db.engine.dispose()


def test_the_links_are_rate_limited_per_address(limited: Flask) -> None:
    site = make_site(db.session, "blog")  # type: ignore[arg-type]
    row = subscription(db.session, site)  # type: ignore[arg-type]
    client = limited.test_client()
    path = unsubscribe_path(row)
    answers = [client.get(path, environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code
               for _ in range(4)]  # fmt: skip
    assert answers == [200, 200, 200, 429]
    other = client.post(path, environ_base={"REMOTE_ADDR": "198.51.100.8"})
    assert other.status_code == 200
    assert db.session.scalars(select(ReplySubscription)).one().unsubscribed_at is not None
    assert reader_mail.unsubscribe_state(db.session, SECRET, path.rsplit("/", 1)[1]).done  # type: ignore[arg-type]


def test_one_click_unsubscribes_from_a_mail_providers_shared_address_all_go_through(
    limited: Flask,
) -> None:
    """RFC 8058 POSTs come from the provider's servers: five readers' unsubscribes from
    one address, past the per-address limit of three, all work (limited per link)."""
    site = make_site(db.session, "blog")  # type: ignore[arg-type]
    paths = []
    for n in range(5):
        row = ReplySubscription(
            site_id=site.id, email=f"reader{n}@example.org", email_key=f"reader{n}@example.org",
            confirm_round=1, confirm_sent_at=utcnow(), created_at=utcnow(),
        )  # fmt: skip
        db.session.add(row)
        db.session.commit()
        paths.append(unsubscribe_path(row))
    client = limited.test_client()
    provider = {"REMOTE_ADDR": "209.85.220.41"}
    answers = [client.post(path, environ_base=provider).status_code for path in paths]
    assert answers == [200] * 5
    rows = db.session.scalars(select(ReplySubscription)).all()
    assert all(row.unsubscribed_at is not None for row in rows)
