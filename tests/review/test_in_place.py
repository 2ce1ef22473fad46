"""Decisions over htmx: one comment decided is answered in place (what replaces its item,
the message with Undo and the tab counts out of band); what cannot be answered in place
(a conflict, several comments) sends the browser to the page a plain form would reach."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from moderation.models import Comment
from moderation.types import CommentStatus
from tests.review.conftest import Poster, csrf_of

HTMX = {"HX-Request": "true"}


def decide(
    client: FlaskClient, comment: Comment, action: str, next_url: str, version: int | None = None
) -> TestResponse:
    return client.post(
        "/moderation/decide",
        headers=HTMX,
        data={
            "action": action,
            "target": f"{comment.id}:{comment.version if version is None else version}",
            "next": next_url,
            "csrf_token": csrf_of(client),
        },
    )


def status(session: Session, comment: Comment) -> CommentStatus:
    session.expire_all()
    found = session.get(Comment, comment.id)
    assert found is not None
    return found.status


def test_a_decision_in_the_queue_is_answered_in_place_and_undone_in_place(
    admin_client: FlaskClient, session: Session, held_comment: Poster
) -> None:
    comment, other = held_comment(), held_comment("you utter fool")
    response = decide(admin_client, comment, "hide", "/moderation/?tab=held")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'id="decided-{comment.id}"' in html and f'id="item-{comment.id}"' not in html
    assert '<div id="messages" hx-swap-oob="innerHTML">' in html
    assert re.search(r'id="tabs"[^>]*hx-swap-oob="true"', html)
    assert re.search(r'data-count="held">1<', html) and re.search(r'data-count="hidden">1<', html)
    assert status(session, comment) == CommentStatus.HIDDEN
    undo_id = re.search(r'name="decision" value="([0-9a-f]+)"', html)
    assert undo_id and f'hx-target="#decided-{comment.id}"' in html
    # Not left for the next page load: the answer carried it.
    assert "1 comment hidden" not in admin_client.get("/moderation/").get_data(as_text=True)

    undone = admin_client.post(
        "/moderation/undo",
        headers=HTMX,
        data={"decision": undo_id.group(1), "next": "/moderation/?tab=held",
              "csrf_token": csrf_of(admin_client)},
    )  # fmt: skip
    html = undone.get_data(as_text=True)
    assert f'id="item-{comment.id}"' in html and "undone: 1 comment back as it was" in html
    assert re.search(r'data-count="held">2<', html)
    assert status(session, comment) == CommentStatus.HELD
    assert status(session, other) == CommentStatus.HELD


def test_on_the_comment_page_the_item_comes_back_as_it_is_now(
    admin_client: FlaskClient, session: Session, held_comment: Poster
) -> None:
    comment = held_comment()
    html = decide(admin_client, comment, "approve", f"/moderation/comments/{comment.id}")
    page = html.get_data(as_text=True)
    assert f'id="item-{comment.id}"' in page and "status-visible" in page
    assert 'id="tabs"' not in page  # no tabs on that page to update
    assert f'value="/moderation/comments/{comment.id}"' in page  # its forms come back there


def test_a_conflict_over_htmx_loads_the_page_that_says_so(
    admin_client: FlaskClient, session: Session, held_comment: Poster
) -> None:
    comment = held_comment()
    seen = comment.version
    decide(admin_client, comment, "approve", "/moderation/?tab=held")
    late = decide(admin_client, comment, "hide", "/moderation/?tab=held", version=seen)
    assert late.status_code == 204
    assert late.headers["HX-Redirect"] == "/moderation/?tab=held"
    page = admin_client.get("/moderation/?tab=held").get_data(as_text=True)
    assert "was already decided by admin@example.org: it is now visible" in page
    assert status(session, comment) == CommentStatus.VISIBLE
