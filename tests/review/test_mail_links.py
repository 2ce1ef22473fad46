"""The links in moderators' mails, followed in the review UI, and the My notifications page.

A link only shows the comment with the decision prefilled (a GET changes nothing); the
moderator confirms with a POST. A link is single-use (the comment's version moves on any
decision), expires after 7 days, and a signed-out moderator is sent to sign in and back."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.models import Comment, MailMessage, Moderator, Site
from moderation.services import mail, notifications, outbox, review
from moderation.types import CommentStatus, NotifyPreference, Role, utcnow
from tests import factories
from tests.conftest import database_state
from tests.review.conftest import account, csrf_of, form_token, sign_in

PUBLIC = "http://localhost"


def held(session: Session, site: Site) -> Comment:
    comment = factories.submit(session, site, "you are all idiots", thread="post-1")
    return factories.scored(session, comment, {"toxicity": 0.99})


def mailed_links(session: Session, comment: Comment, now: datetime | None = None) -> dict[str, str]:
    """The approve and hide links of the mail the worker would send now (paths only)."""
    outbox.dispatch(session, utcnow())
    session.commit()
    message = session.scalars(select(MailMessage).order_by(MailMessage.id.desc()).limit(1)).one()
    assert message.comment_ids == [comment.id]
    notifier = notifications.Notifier(mail.Mailer(None), "test-secret", PUBLIC)
    sent = notifications.render(session, message, notifier, now or utcnow())
    assert sent is not None
    text = sent.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    found = dict(re.findall(r"^(Approve|Hide):[ ]+(\S+)", text, re.MULTILINE))
    return {k.lower(): urlsplit(v).path + "?" + urlsplit(v).query for k, v in found.items()}


def moderator_client(app_client: FlaskClient, session: Session, site: Site) -> FlaskClient:
    account(session, "mod@example.org", Role.MODERATOR, [site])
    sign_in(app_client, "mod@example.org")
    return app_client


def test_the_approve_link_prefills_the_decision_and_only_the_post_approves(
    client: FlaskClient, session: Session, site: Site
) -> None:
    moderator_client(client, session, site)
    comment = held(session, site)
    link = mailed_links(session, comment)["approve"]
    before = database_state(session)
    page = client.get(link)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="confirm-decision"' in html
    assert f'name="target" value="{comment.id}:{comment.version}"' in html
    assert 'name="action" value="approve"' in html
    assert database_state(session) == before  # the GET changed nothing
    response = client.post(
        "/moderation/decide",
        data={
            "csrf_token": csrf_of(client),
            "target": f"{comment.id}:{comment.version}",
            "action": "approve",
            "next": f"/moderation/comments/{comment.id}",
        },
    )
    assert response.status_code == 303
    session.refresh(comment)
    assert comment.status == CommentStatus.VISIBLE


def test_a_link_after_another_decision_says_already_decided(
    client: FlaskClient, session: Session, site: Site
) -> None:
    moderator_client(client, session, site)
    comment = held(session, site)
    link = mailed_links(session, comment)["approve"]
    factories.decided(session, comment, review.Action.HIDE)
    before = database_state(session)
    page = client.get(link)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Already decided" in html and "it is hidden now" in html
    assert 'id="confirm-decision"' not in html
    assert database_state(session) == before


def test_an_expired_or_altered_link_is_refused(
    client: FlaskClient, session: Session, site: Site
) -> None:
    moderator_client(client, session, site)
    comment = held(session, site)
    old = mailed_links(session, comment, now=utcnow() - timedelta(days=7, minutes=1))
    page = client.get(old["hide"])
    assert page.status_code == 410
    assert "expired" in page.get_data(as_text=True)
    assert 'id="confirm-decision"' not in page.get_data(as_text=True)
    fresh = mailed_links(session, comment)["hide"]
    altered = client.get(fresh[:-3] + ("AAA" if not fresh.endswith("AAA") else "BBB"))
    assert altered.status_code == 400
    assert 'id="confirm-decision"' not in altered.get_data(as_text=True)
    session.refresh(comment)
    assert comment.status == CommentStatus.HELD


def test_a_signed_out_moderator_signs_in_and_comes_back_to_the_link(
    client: FlaskClient, session: Session, site: Site
) -> None:
    account(session, "mod@example.org", Role.MODERATOR, [site])
    comment = held(session, site)
    link = mailed_links(session, comment)["approve"]
    response = client.get(link)
    assert response.status_code == 302 and "/moderation/login" in response.headers["Location"]
    login = response.headers["Location"]
    token = form_token(client, login)
    back = client.post(
        login,
        data={"email": "mod@example.org", "password": factories.PASSWORD, "csrf_token": token},
    )
    assert back.status_code == 302 and back.headers["Location"] == link
    assert 'id="confirm-decision"' in client.get(link).get_data(as_text=True)


def test_my_notifications_page_sets_the_preference(
    client: FlaskClient, session: Session, site: Site
) -> None:
    moderator_client(client, session, site)
    page = client.get("/moderation/notifications")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'href="/moderation/notifications">My notifications</a>' in html
    assert '<option selected value="immediate">' in html
    token = form_token(client, "/moderation/notifications")
    saved = client.post("/moderation/notifications", data={"notify": "daily", "csrf_token": token})
    assert saved.status_code == 303
    person = session.scalars(select(Moderator).where(Moderator.email == "mod@example.org")).one()
    session.refresh(person)
    assert person.notify == NotifyPreference.DAILY
    bad = client.post("/moderation/notifications", data={"notify": "weekly", "csrf_token": token})
    assert bad.status_code == 200
    assert 'class="error" role="alert">Not a valid choice' in bad.get_data(as_text=True)
    no_csrf = client.post("/moderation/notifications", data={"notify": "off"})
    assert no_csrf.status_code == 400  # CSRFProtect refuses it
    session.refresh(person)
    assert person.notify == NotifyPreference.DAILY
