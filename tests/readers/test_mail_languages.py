"""Readers' mails speak the language the reader read the widget in: a comment posted
through the API with ``Accept-Language: de`` (what the widget sends from ``data-lang`` or
the browser) gets its confirmation in German, subject and body, with links that work,
and later reply mails in German too; without a language we have, English; a reader who
later opts in again in French gets French from then on. Moderators' mail stays English.
Sent by the real worker through a real SMTP server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.models import Comment, ReplySubscription, Site
from moderation.types import Role
from tests import factories
from tests.services.test_reader_mail import PUBLIC, Reader, html_of, link, text_of
from tests.smtp_server import smtp_server

COMMENTS = "/api/v1/sites/blog/comments"
ANN = "ann@example.org"
TITLE = "Tomatoes on a balcony"


@pytest.fixture
def reader(session: Session) -> Iterator[Reader]:
    with smtp_server() as server:
        yield Reader(session, server)


def post(
    client: FlaskClient,
    reader: Reader,
    body: str,
    *,
    language: str | None = None,
    email: str | None = ANN,
    author: str = "Ann",
    notify: bool = True,
    parent: int | None = None,
    thread: str = "post-1",
) -> Comment:
    """A comment posted through the API as the widget posts it, then the worker's pass."""
    payload: dict[str, Any] = {
        "thread": thread, "thread_title": TITLE, "thread_url": f"https://blog.example/{thread}",
        "author_name": author, "body": body,
    }  # fmt: skip
    if email is not None:
        payload.update(author_email=email, notify_replies=notify)
    if parent is not None:
        payload["parent_id"] = parent
    headers = {"Accept-Language": language} if language else {}
    response = client.post(COMMENTS, json=payload, headers=headers)
    assert response.status_code in (201, 202), response.json  # 202: held
    reader.run()
    comment = reader.session.get(Comment, response.json["id"])
    assert comment is not None
    return comment


def follow(client: FlaskClient, url: str) -> None:
    """Press the button of the page a mail's link opens."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == PUBLIC
    assert client.get(parts.path).status_code == 200
    assert client.post(parts.path).status_code == 200


def test_a_reader_posting_in_german_gets_german_mail(
    client: FlaskClient, reader: Reader, session: Session, site: Site
) -> None:
    ann = post(client, reader, "Meine wachsen auf dem Westbalkon.", language="de-DE,de;q=0.9")
    assert ann.reader_language == "de"
    [confirmation] = reader.server.to(ANN)
    assert confirmation["Subject"] == (
        f"[{site.name}] Bestätigen: mich per E-Mail benachrichtigen, wenn jemand antwortet"
    )
    text, html = text_of(confirmation), html_of(confirmation)
    assert (
        f"Sie haben {site.name} gebeten, Sie per E-Mail zu benachrichtigen, wenn jemand auf "
        f"Ihren Kommentar zu „{TITLE}“ antwortet." in text
    )
    assert "Der Link öffnet eine Seite mit einer Schaltfläche; er ist 7 Tage lang gültig." in text
    assert '<html lang="de">' in html
    assert f'„<a href="https://blog.example/post-1">{TITLE}</a>“' in html
    assert "You asked" not in text + html and "Confirm" not in text + html
    confirm_url = link(confirmation, "Bestätigen, dass diese Adresse")
    assert f'<a href="{confirm_url}">Bestätigen, dass diese Adresse' in html
    unsubscribe_url = link(confirmation, f"Keine E-Mails mehr von {site.name} an diese Adresse")
    assert unsubscribe_url == str(confirmation["List-Unsubscribe"])[1:-1]
    follow(client, confirm_url)
    subscription = session.scalars(select(ReplySubscription)).one()
    session.refresh(subscription)
    assert subscription.confirmed_at is not None

    # Bob replies, his browser in English and without opting in: Ann's mail is German.
    reply = post(client, reader, "Which varieties?", email="bob@example.org", author="Bob",
                 notify=False, parent=ann.id)  # fmt: skip
    assert reply.reader_language is None  # not opted in: nothing kept
    [told] = reader.server.to(ANN)[1:]
    assert told["Subject"] == f"[{site.name}] Bob hat Ihnen zu „{TITLE}“ geantwortet"
    text, html = text_of(told), html_of(told)
    assert f"Bob hat auf Ihren Kommentar zu „{TITLE}“ geantwortet ({site.name}):" in text
    assert "Which varieties?" in text and "Ihr Kommentar:" in text and "Westbalkon" in text
    assert link(told, "Lesen und antworten") == f"https://blog.example/post-1#comment-{reply.id}"
    assert '<html lang="de">' in html and "<strong>Bob</strong> hat auf Ihren Kommentar" in html
    assert "Sie erhalten diese E-Mail, weil Sie über Antworten" in text
    follow(client, link(told, re.escape(f"Abmelden (keine E-Mails mehr von {site.name})")))
    session.refresh(subscription)
    assert subscription.unsubscribed_at is not None


def test_without_a_language_we_have_the_mail_is_english(
    client: FlaskClient, reader: Reader, session: Session, site: Site
) -> None:
    post(client, reader, "No language sent.")
    post(client, reader, "Italian browser.", language="it, pt;q=0.8", email="cy@example.org",
         author="Cy", thread="post-2")  # fmt: skip
    for address in (ANN, "cy@example.org"):
        [confirmation] = reader.server.to(address)
        assert confirmation["Subject"] == (f"[{site.name}] Confirm: email me when someone replies")
        assert "You asked" in text_of(confirmation) and "Confirm that" in text_of(confirmation)
        assert '<html lang="en">' in html_of(confirmation)
    stored = session.scalars(select(Comment.reader_language).order_by(Comment.id)).all()
    assert stored == ["en", "en"]


def test_a_reader_who_later_posts_in_french_gets_french_from_then_on(
    client: FlaskClient, reader: Reader, session: Session, site: Site
) -> None:
    first = post(client, reader, "Auf Deutsch.", language="de")
    [confirmation] = reader.server.to(ANN)
    follow(client, link(confirmation, "Bestätigen"))
    post(
        client, reader, "Bob", email="bob@example.org", author="Bob", notify=False, parent=first.id
    )
    assert "geantwortet" in reader.server.to(ANN)[-1]["Subject"]

    # Ann opts in again, now reading the widget in French, on another thread: replies to
    # her first (German) comment come in French too.
    post(client, reader, "En français.", language="fr-FR, fr;q=0.9", thread="post-2")
    reply = post(client, reader, "Encore", email="bob@example.org", author="Bob",
                 notify=False, parent=first.id)  # fmt: skip
    told = reader.server.to(ANN)[-1]
    assert told["Subject"] == f"[{site.name}] Bob vous a répondu sur « {TITLE} »"
    assert "Votre commentaire :" in text_of(told) and '<html lang="fr">' in html_of(told)
    url = link(told, "La lire et y répondre")
    assert url == f"https://blog.example/post-1#comment-{reply.id}"
    assert len(reader.server.to(ANN)) == 3  # one confirmation, two replies: no new one


def test_moderators_mail_stays_english(
    client: FlaskClient, reader: Reader, session: Session, site: Site
) -> None:
    moderator = factories.moderator(session, "mod@example.org", Role.MODERATOR, (site,))
    session.commit()
    held = post(client, reader, "fuck you idiot", language="ru")
    assert held.reader_language == "ru"
    [to_moderator] = reader.server.to(moderator.email)
    assert "Held for review" in to_moderator["Subject"]
    assert "A comment is held for review." in text_of(to_moderator)
    assert '<html lang="en">' in html_of(to_moderator)
    # The reader's confirmation of that held comment is Russian.
    [confirmation] = reader.server.to(ANN)
    assert confirmation["Subject"] == (
        f"[{site.name}] Подтвердите: сообщать мне по почте об ответах"
    )
    assert "Ссылка открывает страницу с кнопкой" in text_of(confirmation)
