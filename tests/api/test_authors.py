"""What the author of a comment can do with the token they get when posting: see their
own comment while it waits for moderation, edit it (it is scored again) and delete it,
for 15 minutes."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from moderation.current_scorer import get_scorer
from moderation.models import Comment, ModerationAction, Score, Site
from moderation.services import worker
from moderation.services.review import Action
from moderation.types import Actor, CommentStatus
from tests import factories
from tests.conftest import database_state

COMMENTS = "/api/v1/sites/blog/comments"
TOXIC = "you are a fucking idiot"
FRIENDLY = "What a lovely, thoughtful post. Thank you!"


def submit(client: FlaskClient, **fields: Any) -> Any:
    payload = {"thread": "post-42", "author_name": "Ada", "body": FRIENDLY}
    payload.update(fields)
    response = client.post(COMMENTS, json=payload)
    assert response.status_code in (201, 202), response.get_data(as_text=True)
    return response.json


def listing(client: FlaskClient, *tokens: str, query: str = "") -> Any:
    headers = {"X-Author-Token": ", ".join(tokens)} if tokens else {}
    response = client.get(f"{COMMENTS}?thread=post-42{query}", headers=headers)
    assert response.status_code == 200
    return response.json


def ids(nodes: list[dict[str, Any]]) -> list[int]:
    return [node["id"] for node in nodes]


def test_a_post_returns_an_author_token_once_and_only_its_hash_is_stored(
    client: FlaskClient, site: Site, session: Session
) -> None:
    created = submit(client)
    token = created["author_token"]
    assert len(token) >= 40
    assert created["editable_until"].endswith("Z")
    comment = session.get(Comment, created["id"])
    assert comment is not None
    assert comment.author_token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(database_state(session))
    assert "author_token" not in client.get(f"/api/v1/comments/{created['id']}").json
    assert submit(client)["author_token"] != token


def test_the_author_sees_their_held_comment_marked_and_other_readers_do_not(
    client: FlaskClient, site: Site
) -> None:
    held = submit(client, body=TOXIC)
    assert held["status"] == "held"
    assert listing(client)["comments"] == []
    mine = listing(client, held["author_token"])
    [node] = mine["comments"]
    assert (node["id"], node["status"], node["author_name"]) == (held["id"], "held", "Ada")
    assert mine["thread"]["comment_count"] == 0  # the count is what readers see

    one = f"/api/v1/comments/{held['id']}"
    assert client.get(one).status_code == 404
    assert client.get(one, headers={"X-Author-Token": "x" * 43}).status_code == 404
    shown = client.get(one, headers={"X-Author-Token": held["author_token"]})
    assert shown.status_code == 200 and shown.json["status"] == "held"


def test_several_tokens_comma_separated_or_repeated(client: FlaskClient, site: Site) -> None:
    first = submit(client, body=TOXIC)
    second = submit(client, body=TOXIC + " and a moron")
    both = listing(client, first["author_token"], second["author_token"])
    assert ids(both["comments"]) == [first["id"], second["id"]]
    repeated = client.get(
        f"{COMMENTS}?thread=post-42",
        headers=[
            ("X-Author-Token", first["author_token"]),
            ("X-Author-Token", second["author_token"]),
        ],
    ).json
    assert ids(repeated["comments"]) == [first["id"], second["id"]]


def test_own_replies_appear_in_place_with_tombstones_for_what_readers_cannot_see(
    client: FlaskClient, site: Site
) -> None:
    top = submit(client, author_name="Bob")
    someone_held = submit(client, author_name="Eve", body=TOXIC, parent_id=top["id"])
    mine = submit(client, body=TOXIC + " too", parent_id=someone_held["id"])
    my_reply_to_me = submit(client, body="you idiot, fuck", parent_id=mine["id"])
    later = submit(client, author_name="Cy", parent_id=top["id"])

    [node] = listing(client)["comments"]
    assert ids(node["replies"]) == [later["id"]]

    tree = listing(client, mine["author_token"], my_reply_to_me["author_token"])
    [node] = tree["comments"]
    tombstone, cy = node["replies"]
    assert cy["id"] == later["id"]
    assert tombstone["id"] == someone_held["id"]
    assert (tombstone["status"], tombstone["author_name"], tombstone["body_html"]) == (None,) * 3
    [own] = tombstone["replies"]
    assert (own["id"], own["status"]) == (mine["id"], "held")
    assert [(r["id"], r["status"]) for r in own["replies"]] == [(my_reply_to_me["id"], "held")]


def test_own_comments_appear_on_exactly_one_page(client: FlaskClient, site: Site) -> None:
    first = submit(client, body="first")
    held = submit(client, body=TOXIC)
    second = submit(client, body="second")
    third = submit(client, body="third")
    seen: list[int] = []
    cursor = None
    for _ in range(5):
        page = listing(client, held["author_token"],
                       query="&limit=1" + (f"&cursor={cursor}" if cursor else ""))  # fmt: skip
        seen += ids(page["comments"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [first["id"], held["id"], second["id"], third["id"]]


def current_scores(session: Session, comment_id: int) -> list[Score]:
    return list(
        session.scalars(
            select(Score).where(Score.comment_id == comment_id, Score.superseded_at.is_(None))
        )
    )


def patch(client: FlaskClient, comment_id: int, token: str | None, **fields: Any) -> Any:
    headers = {"X-Author-Token": token} if token else {}
    return client.patch(f"/api/v1/comments/{comment_id}", json=fields, headers=headers)


def test_an_edit_is_scored_again_and_the_old_score_is_kept_superseded(
    client: FlaskClient, site: Site, session: Session
) -> None:
    created = submit(client)
    response = patch(client, created["id"], created["author_token"], body=TOXIC)
    assert response.status_code == 200, response.json
    assert response.json["status"] == "held"
    assert response.json["edited_at"] is not None
    assert "idiot" in response.json["body_html"]
    assert listing(client)["comments"] == []

    session.expire_all()
    comment = session.get(Comment, created["id"])
    assert comment is not None
    old, new = comment.scores
    assert old.superseded_at is not None and new.superseded_at is None
    assert old.labels["toxicity"] < 0.35 <= new.labels["toxicity"]
    assert [(a.actor, a.from_status, a.to_status) for a in comment.actions] == [
        (Actor.SYSTEM, CommentStatus.PENDING, CommentStatus.VISIBLE),
        (Actor.AUTHOR, CommentStatus.VISIBLE, CommentStatus.PENDING),
        (Actor.SYSTEM, CommentStatus.PENDING, CommentStatus.HELD),
    ]

    again = patch(client, created["id"], created["author_token"], body="Sorry. Lovely post!")
    assert again.json["status"] == "visible"
    assert [c["body_html"] for c in listing(client)["comments"]] == ["<p>Sorry. Lovely post!</p>"]
    assert len(current_scores(session, created["id"])) == 1


def test_an_edit_the_worker_scores_is_scored_exactly_once(
    app: Flask, client: FlaskClient, site: Site, session: Session
) -> None:
    created = submit(client)
    app.config["SCORE_BUDGET_MS"] = 0
    edited = patch(client, created["id"], created["author_token"], body=TOXIC)
    assert edited.json["status"] == "pending"
    # While the new text waits for the scorer, a second edit would race its result.
    second = patch(client, created["id"], created["author_token"], body="hello")
    assert second.status_code == 409

    for _ in range(2):
        worker.process_batch(session, get_scorer(), "w1", batch_size=10, lease_seconds=60,
                             max_attempts=3)  # fmt: skip
    session.expire_all()
    comment = session.get(Comment, created["id"])
    assert comment is not None and comment.status == CommentStatus.HELD
    [current] = current_scores(session, comment.id)
    assert current.labels["toxicity"] > 0.9
    assert len(comment.scores) == 2


@pytest.fixture
def mine(client: FlaskClient, site: Site) -> dict[str, Any]:
    return submit(client)  # type: ignore[no-any-return]


def _age(session: Session, comment_id: int, minutes: int) -> None:
    comment = session.get(Comment, comment_id)
    assert comment is not None
    comment.created_at -= timedelta(minutes=minutes)
    session.commit()


def _moderated(session: Session, comment_id: int) -> None:
    comment = session.get(Comment, comment_id)
    assert comment is not None
    factories.decided(session, comment, Action.HIDE)
    factories.decided(session, comment, Action.RESTORE)


def _hidden(session: Session, comment_id: int) -> None:
    session.execute(
        update(Comment).where(Comment.id == comment_id).values(status=CommentStatus.HIDDEN)
    )
    session.commit()


@pytest.mark.parametrize(
    ("token", "prepare", "status", "says"),
    [
        (None, None, 403, "author token"),
        ("wrong" * 9, None, 403, "author token"),
        ("own", lambda s, i: _age(s, i, 16), 409, "within 15 minutes"),
        ("own", _moderated, 409, "moderator"),
        ("own", _hidden, 409, "removed"),
    ],
    ids=["no token", "another token", "after 15 minutes", "moderator decided", "hidden"],
)
def test_a_refused_edit_says_why_and_changes_nothing(
    client: FlaskClient,
    session: Session,
    mine: dict[str, Any],
    token: str | None,
    prepare: Any,
    status: int,
    says: str,
) -> None:
    if prepare is not None:
        prepare(session, mine["id"])
    before = database_state(session)
    response = patch(client, mine["id"], mine["author_token"] if token == "own" else token,
                     body="changed")  # fmt: skip
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert says in response.json["detail"]
    if status == 403:
        assert response.json["title"] == "Not the author"
    assert database_state(session) == before


def test_an_edit_with_bad_fields_names_them(
    client: FlaskClient, session: Session, mine: dict[str, Any]
) -> None:
    before = database_state(session)
    response = patch(client, mine["id"], mine["author_token"], body=" ", author_name="x")
    assert response.status_code == 422
    assert {e["field"] for e in response.json["errors"]} == {"body", "author_name"}
    assert patch(client, 999999, mine["author_token"], body="x").status_code == 404
    assert database_state(session) == before


def delete(client: FlaskClient, comment_id: int, token: str | None) -> Any:
    headers = {"X-Author-Token": token} if token else {}
    return client.delete(f"/api/v1/comments/{comment_id}", headers=headers)


def test_a_deleted_comment_with_replies_stays_as_a_tombstone(
    client: FlaskClient, session: Session, mine: dict[str, Any]
) -> None:
    reply = submit(client, author_name="Bob", parent_id=mine["id"])
    lonely = submit(client, body="nobody answers me")
    assert delete(client, mine["id"], mine["author_token"]).status_code == 204
    assert delete(client, lonely["id"], lonely["author_token"]).status_code == 204

    tree = listing(client, mine["author_token"], lonely["author_token"])
    [tombstone] = tree["comments"]
    assert (tombstone["id"], tombstone["status"], tombstone["body_html"]) == (
        mine["id"],
        None,
        None,
    )
    assert ids(tombstone["replies"]) == [reply["id"]]
    assert tree["thread"]["comment_count"] == 1
    action = session.scalars(
        select(ModerationAction).where(ModerationAction.comment_id == mine["id"])
    ).all()[-1]
    assert (action.actor, action.to_status) == (Actor.AUTHOR, CommentStatus.HIDDEN)
    assert action.reason == "deleted by the author"
    # The token no longer opens it, so it cannot be undeleted or shown to anyone.
    again = client.get(
        f"/api/v1/comments/{mine['id']}", headers={"X-Author-Token": mine["author_token"]}
    )
    assert again.status_code == 404


def test_a_refused_delete_changes_nothing(
    client: FlaskClient, session: Session, mine: dict[str, Any]
) -> None:
    before = database_state(session)
    assert delete(client, mine["id"], None).status_code == 403
    assert delete(client, mine["id"], "nope" * 11).status_code == 403
    assert delete(client, 999999, mine["author_token"]).status_code == 404
    assert database_state(session) == before
    _age(session, mine["id"], 16)
    before = database_state(session)
    late = delete(client, mine["id"], mine["author_token"])
    assert late.status_code == 409 and "within 15 minutes" in late.json["detail"]
    assert database_state(session) == before


def test_posting_anyway_after_a_warning_holds_the_comment_for_a_moderator(
    client: FlaskClient, site: Site, session: Session
) -> None:
    created = submit(client, body=FRIENDLY, acknowledged_warning=True)
    assert created["status"] == "held"
    comment = session.get(Comment, created["id"])
    assert comment is not None and comment.acknowledged_warning
    [action] = comment.actions
    assert action.to_status == CommentStatus.HELD and "despite the pre-posting warning" in (
        action.reason
    )
    [score] = current_scores(session, comment.id)  # the moderator sees what the model says
    assert score.labels["toxicity"] < 0.35
    # Nothing else decides it: the worker has nothing to claim.
    result = worker.process_batch(session, get_scorer(), "w1", batch_size=10, lease_seconds=60,
                                  max_attempts=3)  # fmt: skip
    assert result.claimed == 0
    assert listing(client)["comments"] == []


def test_a_filled_honeypot_is_dropped(client: FlaskClient, site: Site, session: Session) -> None:
    before = database_state(session)
    response = client.post(
        COMMENTS,
        json={"thread": "t", "author_name": "Bot", "body": "cheap pills", "website": "http://x"},
    )
    assert response.status_code == 204
    assert response.get_data() == b""
    assert database_state(session) == before
    empty_trap = client.post(
        COMMENTS, json={"thread": "t", "author_name": "Ada", "body": "hi", "website": ""}
    )
    assert empty_trap.status_code == 201


def test_an_edit_posted_despite_a_warning_is_held_for_a_moderator(
    client: FlaskClient, session: Session, mine: dict[str, Any]
) -> None:
    response = patch(client, mine["id"], mine["author_token"], body=TOXIC,
                     acknowledged_warning=True)  # fmt: skip
    assert response.status_code == 200 and response.json["status"] == "held"
    session.expire_all()
    comment = session.get(Comment, mine["id"])
    assert comment is not None and comment.acknowledged_warning
    last = comment.actions[-1]
    assert (last.actor, last.to_status) == (Actor.AUTHOR, CommentStatus.HELD)
    assert "despite the pre-posting warning" in last.reason
    [score] = current_scores(session, comment.id)
    assert score.labels["toxicity"] > 0.9


def test_the_author_sees_that_moderation_removed_their_comment(
    client: FlaskClient, session: Session, mine: dict[str, Any]
) -> None:
    _hidden(session, mine["id"])
    assert listing(client)["comments"] == []
    [node] = listing(client, mine["author_token"])["comments"]
    assert (node["id"], node["status"], node["author_name"]) == (mine["id"], "hidden", "Ada")
