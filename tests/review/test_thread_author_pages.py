"""The comment page's thread and author panels over HTTP, and what readers' API then
says: closed threads, the pinned comment, banned authors; who may do it; CSRF."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.models import AuthorStanding, Comment, Moderator, Site, ThreadAction
from moderation.services.errors import Invalid
from moderation.types import BanMode, Role, StandingKind, ThreadChange
from tests.conftest import database_state, make_site
from tests.review.conftest import account, csrf_of, sign_in


def api_post(client: FlaskClient, body: str = "Lovely post.", **fields: Any) -> Any:
    payload = {"thread": "post-7", "author_name": "Ada", "body": body,
               "author_email": "ada@example.org", **fields}  # fmt: skip
    return client.post("/api/v1/sites/blog/comments", json=payload)


def thread_json(client: FlaskClient) -> Any:
    return client.get("/api/v1/sites/blog/comments?thread=post-7").json


def thread_action(client: FlaskClient, comment_id: int, action: str) -> Any:
    """A press of one of the thread panel's buttons on the comment's page."""
    return client.post(
        f"/moderation/comments/{comment_id}/thread",
        data={"action": action, "csrf_token": csrf_of(client)},
    )


@pytest.fixture
def posted(client: FlaskClient, site: Site, session: Session) -> Comment:
    response = api_post(client)
    assert response.status_code == 201, response.json
    comment = session.get(Comment, response.json["id"])
    assert comment is not None
    return comment


def test_closing_the_thread_from_the_comment_page_closes_it_for_readers(
    admin_client: FlaskClient, client: FlaskClient, posted: Comment, session: Session
) -> None:
    page = admin_client.get(f"/moderation/comments/{posted.id}").get_data(as_text=True)
    assert "Open to new comments." in page and "Close thread" in page
    assert thread_json(client)["thread"]["closed"] is False

    assert thread_action(admin_client, posted.id, "close").status_code == 303
    assert thread_json(client)["thread"]["closed"] is True
    refused = api_post(client, "one more thing")
    assert refused.status_code == 409 and "closed" in refused.json["detail"]
    page = admin_client.get(f"/moderation/comments/{posted.id}").get_data(as_text=True)
    assert "Closed: readers cannot post" in page and "Reopen thread" in page

    thread_action(admin_client, posted.id, "reopen")
    assert thread_json(client)["thread"]["closed"] is False
    assert api_post(client, "one more thing").status_code == 201
    changes = session.scalars(select(ThreadAction.change).order_by(ThreadAction.id)).all()
    assert changes == [ThreadChange.CLOSE, ThreadChange.REOPEN]


def test_the_pinned_comment_comes_first_in_the_api_with_pinned_true(
    admin_client: FlaskClient, client: FlaskClient, posted: Comment
) -> None:
    later = api_post(client, "Second thoughts.").json["id"]
    assert [c["id"] for c in thread_json(client)["comments"]] == [posted.id, later]
    thread_action(admin_client, later, "pin")
    listed = thread_json(client)["comments"]
    assert [(c["id"], c["pinned"]) for c in listed] == [(later, True), (posted.id, False)]
    first_page = client.get("/api/v1/sites/blog/comments?thread=post-7&limit=1").json
    assert [c["id"] for c in first_page["comments"]] == [later, posted.id]
    assert first_page["next_cursor"] is None

    thread_action(admin_client, later, "unpin")
    assert [c["id"] for c in thread_json(client)["comments"]] == [posted.id, later]


def test_the_author_panel_shows_their_comments_but_never_their_address(
    admin_client: FlaskClient, client: FlaskClient, posted: Comment
) -> None:
    other = api_post(client, "Another one.", thread="post-8").json["id"]
    page = admin_client.get(f"/moderation/comments/{posted.id}").get_data(as_text=True)
    assert "On this site: 2 visible · 0 held · 0 hidden" in page
    assert f'href="/moderation/comments/{other}"' in page
    assert "ada@example.org" not in page


def test_banning_from_the_page_refuses_the_authors_next_comment_when_the_site_says_so(
    admin_client: FlaskClient, client: FlaskClient, posted: Comment, session: Session, site: Site
) -> None:
    site.ban_mode = BanMode.REFUSE
    session.commit()
    response = admin_client.post(
        f"/moderation/comments/{posted.id}/author",
        data={"kind": "ban", "duration": "7d", "reason": "insults",
              "csrf_token": csrf_of(admin_client)},
    )  # fmt: skip
    assert response.status_code == 303
    refused = api_post(client, "I am back")
    assert refused.status_code == 403
    assert refused.json["type"].endswith("author-banned")
    assert "banned you" in refused.json["detail"]
    # Someone else, from their own address, is welcome; the banned author's address
    # stays banned whatever email it types.
    assert api_post(client, "Hi", author_email="bo@example.org").status_code == 403
    someone = client.post("/api/v1/sites/blog/comments", environ_base={"REMOTE_ADDR": "192.0.2.8"},
                          json={"thread": "post-7", "author_name": "Bo", "body": "Hello",
                                "author_email": "bo@example.org"})  # fmt: skip
    assert someone.status_code == 201

    listing = admin_client.get("/moderation/sites/blog/authors").get_data(as_text=True)
    assert "insults" in listing and "admin@example.org" in listing
    ban = session.scalars(select(AuthorStanding)).one()
    assert (ban.kind, ban.reason) == (StandingKind.BAN, "insults")
    admin_client.post(f"/moderation/sites/blog/authors/{ban.id}/lift",
                      data={"csrf_token": csrf_of(admin_client)})  # fmt: skip
    assert api_post(client, "I am back").status_code == 201
    listing = admin_client.get("/moderation/sites/blog/authors").get_data(as_text=True)
    assert "No author is banned or trusted" in listing and "lifted" in listing


def test_a_ban_without_a_reason_is_refused_with_a_message(
    admin_client: FlaskClient, posted: Comment, session: Session
) -> None:
    before = database_state(session)
    response = admin_client.post(
        f"/moderation/comments/{posted.id}/author",
        data={"kind": "ban", "duration": "7d", "reason": "", "csrf_token": csrf_of(admin_client)},
        follow_redirects=True,
    )
    assert "say why" in response.get_data(as_text=True)
    assert database_state(session) == before


def test_a_moderator_of_another_site_can_neither_see_nor_act(
    app: Flask, posted: Comment, session: Session
) -> None:
    other = make_site(session, "other")
    account(session, "elsewhere@example.org", Role.MODERATOR, [other])
    stranger = app.test_client()
    sign_in(stranger, "elsewhere@example.org")
    token = csrf_of(stranger)
    ban = AuthorStanding(site_id=posted.thread.site_id, author_key=posted.author_key or "",
                         kind=StandingKind.TRUST, reason="x", author_name="Ada")  # fmt: skip
    session.add(ban)
    session.commit()
    before = database_state(session)
    assert stranger.get(f"/moderation/comments/{posted.id}").status_code == 404
    assert stranger.get("/moderation/sites/blog/authors").status_code == 404
    for path, data in [
        (f"/moderation/comments/{posted.id}/thread", {"action": "close"}),
        (f"/moderation/comments/{posted.id}/author",
         {"kind": "ban", "duration": "1d", "reason": "x"}),
        (f"/moderation/sites/blog/authors/{ban.id}/lift", {}),
    ]:  # fmt: skip
        assert stranger.post(path, data={**data, "csrf_token": token}).status_code == 404
    assert database_state(session) == before
    # Their own site's list is theirs to see.
    assert stranger.get("/moderation/sites/other/authors").status_code == 200


def test_the_moderator_of_the_site_may_act(
    app: Flask, client: FlaskClient, posted: Comment, session: Session, site: Site
) -> None:
    account(session, "local@example.org", Role.MODERATOR, [site])
    local = app.test_client()
    sign_in(local, "local@example.org")
    response = local.post(f"/moderation/comments/{posted.id}/author",
                          data={"kind": "trust", "duration": "forever", "reason": "regular",
                                "csrf_token": csrf_of(local)})  # fmt: skip
    assert response.status_code == 303
    page = local.get(f"/moderation/comments/{posted.id}").get_data(as_text=True)
    assert "Trusted" in page and "until lifted" in page and "Lift trust" in page


@pytest.mark.parametrize(
    "path,data",
    [
        ("/moderation/comments/{id}/thread", {"action": "close"}),
        ("/moderation/comments/{id}/author", {"kind": "ban", "duration": "1d", "reason": "x"}),
    ],
)
def test_posts_without_the_csrf_token_change_nothing(
    admin_client: FlaskClient, posted: Comment, session: Session, path: str, data: Any
) -> None:
    before = database_state(session)
    assert admin_client.post(path.format(id=posted.id), data=data).status_code == 400
    assert database_state(session) == before


def test_the_site_setting_for_banned_authors_is_saved_and_audited(
    admin_client: FlaskClient, session: Session, site: Site
) -> None:
    from moderation.models import SettingsChange
    from moderation.services import sites
    from moderation.types import utcnow

    assert site.ban_mode == BanMode.HOLD  # the default: held for review
    admin = session.scalars(select(Moderator)).one()
    assert sites.update_settings(session, site, {"ban_mode": "refuse"}, admin, utcnow()) == [
        "ban_mode"
    ]
    session.commit()
    change = session.scalars(select(SettingsChange).where(SettingsChange.field == "ban_mode")).one()
    assert (change.old_value, change.new_value) == ("hold", "refuse")
    page = admin_client.get("/moderation/sites/blog").get_data(as_text=True)
    assert "Comments from banned authors" in page
    assert '<option selected value="refuse">' in page
    with pytest.raises(Invalid, match="'hold' or 'refuse'"):
        sites.update_settings(session, site, {"ban_mode": "shadow"}, admin, utcnow())


def test_the_admin_api_closes_and_pins_and_refuses_other_sites_moderators(
    client: FlaskClient, posted: Comment, session: Session
) -> None:
    from tests.review.test_admin_api import token_for

    auth = {"Authorization": f"Bearer {token_for(session)}"}
    path = f"/api/v1/moderation/comments/{posted.id}/thread"
    closed = client.post(path, json={"action": "close"}, headers=auth)
    assert closed.status_code == 200
    assert closed.json == {"site": "blog", "thread": "post-7", "closed": True, "pinned_id": None}
    pinned = client.post(path, json={"action": "pin"}, headers=auth).json
    assert pinned["pinned_id"] == posted.id
    assert thread_json(client)["thread"]["closed"] is True
    assert thread_json(client)["comments"][0]["pinned"] is True
    bad = client.post(path, json={"action": "lock"}, headers=auth)
    assert bad.status_code == 422

    other = make_site(session, "other-api")
    outsider = {"Authorization": "Bearer " + token_for(session, "o@example.org",
                                                       Role.MODERATOR, [other])}  # fmt: skip
    before = database_state(session)
    assert client.post(path, json={"action": "reopen"}, headers=outsider).status_code == 404
    assert database_state(session) == before
    changes = session.scalars(select(ThreadAction.change).order_by(ThreadAction.id)).all()
    assert changes == [ThreadChange.CLOSE, ThreadChange.PIN]
