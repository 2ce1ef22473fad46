"""Moderators' accounts as an attacker and a careful owner meet them: a sign-out that
signs out (even a saved copy of the cookie), sessions ended by a password change or by
deactivation, sign-in limits that slow a guesser without locking the owner out, the same
cost for known and unknown emails, and secrets shown in the page, never in the cookie."""

from __future__ import annotations

import base64
import time
import zlib
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import create_app
from moderation.db import db
from moderation.models import Moderator, ModeratorSession
from tests.conftest import app_config
from tests.factories import PASSWORD
from tests.review.conftest import account, csrf_of, form_token, sign_in

ADMIN = "admin@example.org"


def session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def with_cookie(app: Flask, value: str) -> FlaskClient:
    """A new browser holding a copy of a saved session cookie."""
    other = app.test_client()
    other.set_cookie("session", value)
    return other


def opens_queue(client: FlaskClient) -> bool:
    response = client.get("/moderation/")
    return response.status_code == 200


def post_form(client: FlaskClient, path: str, data: dict[str, str], page: str) -> int:
    data = {**data, "csrf_token": form_token(client, page)}
    return client.post(path, data=data).status_code


def sign_out(client: FlaskClient) -> int:
    """The Sign out button in the page header."""
    return client.post("/moderation/logout", data={"csrf_token": csrf_of(client)}).status_code


def test_a_cookie_saved_before_sign_out_no_longer_opens_anything(
    app: Flask, session: Session
) -> None:
    account(session, ADMIN)
    browser = app.test_client()
    sign_in(browser, ADMIN)
    saved = session_cookie(browser)
    assert opens_queue(with_cookie(app, saved))

    assert sign_out(browser) == 302

    assert not opens_queue(browser)
    assert not opens_queue(with_cookie(app, saved))


def test_a_password_change_signs_out_every_other_browser(app: Flask, session: Session) -> None:
    account(session, ADMIN)
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop, ADMIN)
    sign_in(phone, ADMIN)
    page = laptop.get("/moderation/account").get_data(as_text=True)
    assert "1 other session besides this one" in page

    status = post_form(laptop, "/moderation/account",
                       {"current_password": PASSWORD, "new_password": "a much better passphrase"},
                       "/moderation/account")  # fmt: skip
    assert status == 303

    assert opens_queue(laptop)  # the browser that changed it stays signed in
    assert not opens_queue(phone)
    fresh = app.test_client()
    token = form_token(fresh, "/moderation/login")
    old = fresh.post("/moderation/login",
                     data={"email": ADMIN, "password": PASSWORD, "csrf_token": token})  # fmt: skip
    assert old.status_code == 200 and "wrong email or password" in old.get_data(as_text=True)
    sign_in(fresh, ADMIN, "a much better passphrase")


def test_a_wrong_current_password_changes_nothing_and_says_so(app: Flask, session: Session) -> None:
    account(session, ADMIN)
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop, ADMIN)
    sign_in(phone, ADMIN)
    token = form_token(laptop, "/moderation/account")
    response = laptop.post("/moderation/account", data={
        "current_password": "not it", "new_password": "a much better passphrase",
        "csrf_token": token})  # fmt: skip
    assert response.status_code == 200
    assert "that is not your current password" in response.get_data(as_text=True)
    assert opens_queue(phone)
    sign_in(app.test_client(), ADMIN)  # the old password still works


def test_sign_out_everywhere_else_ends_the_other_sessions(app: Flask, session: Session) -> None:
    account(session, ADMIN)
    laptop, phone, tablet = app.test_client(), app.test_client(), app.test_client()
    for browser in (laptop, phone, tablet):
        sign_in(browser, ADMIN)

    status = post_form(laptop, "/moderation/account/sign-out-everywhere", {}, "/moderation/account")
    assert status == 303
    assert "2 sessions elsewhere signed out" in laptop.get("/moderation/account").get_data(
        as_text=True
    )
    assert opens_queue(laptop)
    assert not opens_queue(phone) and not opens_queue(tablet)


def test_deactivation_ends_the_accounts_sessions_at_once(app: Flask, session: Session) -> None:
    account(session, ADMIN)
    account(session, "other@example.org")
    admin, other = app.test_client(), app.test_client()
    sign_in(admin, ADMIN)
    sign_in(other, "other@example.org")
    person = session.scalar(select(Moderator).where(Moderator.email == "other@example.org"))
    assert person is not None

    status = post_form(admin, f"/moderation/moderators/{person.id}/active", {},
                       "/moderation/moderators")  # fmt: skip
    assert status == 303
    assert not opens_queue(other)
    session.expire_all()
    ended = session.scalars(
        select(ModeratorSession.ended_at).where(ModeratorSession.moderator_id == person.id)
    ).all()
    assert ended and all(moment is not None for moment in ended)


@pytest.fixture
def limited(database_url: str, app: Flask) -> Iterator[Flask]:
    """The app with its rate limits on (the test config turns them off) and CSRF off, as
    a script posting to the sign-in form would meet it."""
    limited = create_app(app_config(database_url, RATELIMIT_ENABLED=True, WTF_CSRF_ENABLED=False))
    yield limited
    with limited.app_context():
        db.engine.dispose()


def attempt(app: Flask, address: str, password: str) -> int:
    client = app.test_client()  # a fresh session each time, as a script would
    client.environ_base["REMOTE_ADDR"] = address
    return client.post("/moderation/login", data={"email": ADMIN, "password": password}).status_code


def test_a_guesser_is_slowed_but_cannot_lock_the_owner_out(
    limited: Flask, session: Session
) -> None:
    account(session, ADMIN)
    guesses = [attempt(limited, "198.51.100.7", "guess") for _ in range(12)]
    assert guesses == [200] * 10 + [429, 429]  # the guesser's address is stopped
    assert attempt(limited, "198.51.100.7", PASSWORD) == 429  # even with the password

    owner = limited.test_client()
    owner.environ_base["REMOTE_ADDR"] = "203.0.113.5"
    response = owner.post("/moderation/login", data={"email": ADMIN, "password": PASSWORD})
    assert response.status_code == 302  # the owner, from their own address, gets in
    # ... and hears about the guessing.
    queue = owner.get(response.headers["Location"]).get_data(as_text=True)
    assert "10 wrong passwords were given for your account since you last signed in" in queue


def test_many_addresses_on_one_account_are_limited_per_address(
    limited: Flask, session: Session
) -> None:
    account(session, ADMIN)
    statuses = [attempt(limited, f"198.51.100.{n}", "guess") for n in range(12)]
    assert statuses == [200] * 12  # each address has its own ten
    assert attempt(limited, "203.0.113.5", PASSWORD) == 302


def test_signing_in_as_nobody_costs_what_signing_in_as_somebody_does(
    app: Flask, session: Session
) -> None:
    """Without the dummy hash an unknown email answered ~25x faster than a known one,
    telling an attacker which emails have accounts."""
    account(session, ADMIN)
    client = app.test_client()
    token = form_token(client, "/moderation/login")

    def timed(email: str) -> float:
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            data = {"email": email, "password": "guess", "csrf_token": token}
            client.post("/moderation/login", data=data)
            best = min(best, time.perf_counter() - started)
        return best

    known, unknown = timed(ADMIN), timed("nobody@example.org")
    assert unknown > known / 3, (known, unknown)


def _cookie_payload(value: str) -> str:
    """What a Flask session cookie holds: signed, not encrypted, readable by anyone."""
    data = value.split(".")[0] if not value.startswith(".") else value.split(".")[1]
    raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    return (zlib.decompress(raw) if value.startswith(".") else raw).decode()


def test_a_new_api_token_is_in_the_page_and_not_in_the_cookie(app: Flask, session: Session) -> None:
    account(session, ADMIN)
    admin = app.test_client()
    sign_in(admin, ADMIN)
    token = form_token(admin, "/moderation/moderators")
    response = admin.post("/moderation/tokens", data={"name": "ci", "csrf_token": token})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    secret = page.split('id="shown-once"')[1].split("<code>")[1].split("</code>")[0]
    assert len(secret) > 20
    assert secret not in _cookie_payload(session_cookie(admin))
    assert secret not in admin.get("/moderation/moderators").get_data(as_text=True)


def test_a_generated_password_is_in_the_page_and_not_in_the_cookie(
    app: Flask, session: Session
) -> None:
    account(session, ADMIN)
    admin = app.test_client()
    sign_in(admin, ADMIN)
    token = form_token(admin, "/moderation/moderators")
    data = {"email": "new@example.org", "role": "admin", "password": "", "csrf_token": token}
    response = admin.post("/moderation/moderators", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "created new@example.org" in page
    password = page.split('id="shown-once"')[1].split("<code>")[1].split("</code>")[0]
    assert password not in _cookie_payload(session_cookie(admin))
    sign_in(app.test_client(), "new@example.org", password)


def test_guessers_on_many_addresses_cannot_lock_out_a_browser_that_signed_in_before(
    limited: Flask, session: Session
) -> None:
    """Eleven addresses, ten wrong passwords each, exhaust the account's loose limit
    (100 a minute): a new browser meets it, the owner's browser, which has signed in to
    the account before, does not."""
    account(session, ADMIN)
    owner = limited.test_client()
    owner.environ_base["REMOTE_ADDR"] = "203.0.113.5"
    first = owner.post("/moderation/login", data={"email": ADMIN, "password": PASSWORD})
    assert first.status_code == 302
    assert sign_out_without_csrf(owner) in (302, 400)

    statuses = [attempt(limited, f"198.51.100.{n}", "guess") for n in range(11) for _ in range(10)]
    assert statuses.count(429) > 0  # the account's limit was reached

    stranger = limited.test_client()
    stranger.environ_base["REMOTE_ADDR"] = "192.0.2.44"
    refused = stranger.post("/moderation/login", data={"email": ADMIN, "password": PASSWORD})
    assert refused.status_code == 429
    again = owner.post("/moderation/login", data={"email": ADMIN, "password": PASSWORD})
    assert again.status_code == 302


def sign_out_without_csrf(client: FlaskClient) -> int:
    # The limited app runs without CSRF, as a script would meet the form.
    return client.post("/moderation/logout").status_code
