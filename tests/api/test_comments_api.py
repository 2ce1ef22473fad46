"""The public API as a blog front-end uses it."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.models import Comment, Site
from moderation.types import CommentStatus


def submit(client: FlaskClient, site: str = "blog", **fields: Any) -> Any:
    payload = {"thread": "post-42", "author_name": "Ada", "body": "Lovely post."}
    payload.update(fields)
    return client.post(f"/api/v1/sites/{site}/comments", json=payload)


def test_health_check_answers_when_the_database_does(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_a_clean_comment_is_visible_at_once_with_201(client: FlaskClient, site: Site) -> None:
    response = submit(
        client,
        thread_url="https://blog.example/p/42",
        thread_title="Post 42",
        author_email="ada@example.org",
    )
    assert response.status_code == 201
    body = response.json
    assert set(body) == {
        "id",
        "site",
        "thread",
        "parent_id",
        "author_name",
        "body_html",
        "status",
        "created_at",
        "edited_at",
        "author_token",
        "editable_until",
    }
    assert body["status"] == "visible"
    assert body["edited_at"] is None
    assert body["site"] == "blog" and body["thread"] == "post-42"
    assert body["body_html"] == "<p>Lovely post.</p>"
    assert body["created_at"].endswith("Z")
    assert response.headers["Location"] == f"/api/v1/comments/{body['id']}"
    fetched = client.get(f"/api/v1/comments/{body['id']}")
    # The author token is given once, in the answer to the post, never again.
    assert fetched.json == {
        k: v for k, v in body.items() if k not in ("author_token", "editable_until")
    }
    assert "ada@example.org" not in fetched.get_data(as_text=True)


def test_a_toxic_comment_is_held_with_202_and_not_shown(
    client: FlaskClient, site: Site, session: Session
) -> None:
    response = submit(client, body="shut up you fucking moron")
    assert response.status_code == 202
    assert response.json["status"] == "held"
    assert client.get(f"/api/v1/comments/{response.json['id']}").status_code == 404
    listing = client.get("/api/v1/sites/blog/comments?thread=post-42").json
    assert listing["comments"] == [] and listing["thread"]["comment_count"] == 0
    comment = session.get(Comment, response.json["id"])
    assert comment is not None and comment.status == CommentStatus.HELD


def test_when_the_budget_is_zero_the_comment_waits_for_the_worker(
    client: FlaskClient, site: Site, app: Any
) -> None:
    app.config["SCORE_BUDGET_MS"] = 0
    response = submit(client)
    assert response.status_code == 202
    assert response.json["status"] == "pending"


def test_a_thread_is_a_tree_with_replies_and_tombstones(
    client: FlaskClient, site: Site, session: Session
) -> None:
    top = submit(client, body="top").json
    reply = submit(client, body="reply", parent_id=top["id"]).json
    deeper = submit(client, body="deeper", parent_id=reply["id"]).json
    assert deeper["parent_id"] == reply["id"]
    other = submit(client, body="second top").json
    hidden = session.get(Comment, top["id"])
    assert hidden is not None
    hidden.status = CommentStatus.HIDDEN
    session.commit()

    listing = client.get("/api/v1/sites/blog/comments?thread=post-42").json
    assert listing["thread"] == {
        "key": "post-42",
        "url": None,
        "title": None,
        "comment_count": 3,
        "closed": False,
    }
    [tombstone, second] = listing["comments"]
    assert tombstone["id"] == top["id"]
    assert (tombstone["status"], tombstone["author_name"], tombstone["body_html"]) == (None,) * 3
    [reply_node] = tombstone["replies"]
    assert reply_node["body_html"] == "<p>reply</p>" and reply_node["parent_id"] == top["id"]
    assert reply_node["replies"][0]["body_html"] == "<p>deeper</p>"
    assert second["id"] == other["id"] and second["replies"] == []
    assert listing["next_cursor"] is None


def test_top_level_comments_page_by_cursor(client: FlaskClient, site: Site) -> None:
    ids = [submit(client, body=f"c{i}").json["id"] for i in range(7)]
    seen: list[int] = []
    url = "/api/v1/sites/blog/comments?thread=post-42&limit=3"
    cursor = None
    for _ in range(5):
        response = client.get(url + (f"&cursor={cursor}" if cursor else ""))
        seen += [c["id"] for c in response.json["comments"]]
        cursor = response.json["next_cursor"]
        if cursor is None:
            break
    assert seen == ids


def test_markdown_is_rendered_and_nothing_unsafe_survives(client: FlaskClient, site: Site) -> None:
    body = (
        "**bold** and a [link](https://example.org) and [bad](javascript:alert(1))\n\n"
        "<script>alert(1)</script> <img src=x onerror=alert(1)> <svg onload=alert(1)>"
    )
    html = submit(client, body=body).json["body_html"]
    assert "<strong>bold</strong>" in html
    assert '<a href="https://example.org" rel="nofollow ugc noopener">link</a>' in html
    assert "<script" not in html and "<img" not in html and "<svg" not in html
    assert 'href="javascript' not in html
    assert "&lt;script&gt;" in html


def test_counts_for_several_threads(client: FlaskClient, site: Site) -> None:
    submit(client, thread="a")
    submit(client, thread="a")
    submit(client, thread="b")
    response = client.get("/api/v1/sites/blog/counts?thread=a&thread=b&thread=c")
    assert response.json == {"counts": {"a": 2, "b": 1, "c": 0}}


def test_three_readers_flagging_a_comment_take_it_out_of_the_thread(
    client: FlaskClient, site: Site, session: Session
) -> None:
    comment_id = submit(client).json["id"]
    # The same reader reporting again does not count twice...
    for _ in range(2):
        assert (
            client.post(f"/api/v1/comments/{comment_id}/flags", json={"reason": "spam"}).status_code
            == 201
        )
    assert client.get(f"/api/v1/comments/{comment_id}").status_code == 200
    # ...three different readers do.
    for n, reason in enumerate(("abusive", "other"), start=2):
        response = client.post(
            f"/api/v1/comments/{comment_id}/flags",
            json={"reason": reason, "note": "see rule 3"},
            environ_base={"REMOTE_ADDR": f"203.0.113.{n}"},
        )
        assert response.status_code == 201
        assert response.json["reason"] == reason
    assert client.get(f"/api/v1/comments/{comment_id}").status_code == 404
    comment = session.scalar(select(Comment).where(Comment.id == comment_id))
    assert comment is not None and comment.status == CommentStatus.HELD


def test_client_ips_are_stored_only_as_a_keyed_hash(
    client: FlaskClient, site: Site, session: Session
) -> None:
    response = client.post(
        "/api/v1/sites/blog/comments",
        json={"thread": "t", "author_name": "A", "body": "hi"},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    comment = session.get(Comment, response.json["id"])
    assert comment is not None and comment.ip_hash is not None
    assert "203.0.113.9" not in comment.ip_hash and len(comment.ip_hash) == 64


def test_a_thread_nobody_commented_on_is_empty_not_missing(client: FlaskClient, site: Site) -> None:
    response = client.get("/api/v1/sites/blog/comments?thread=brand-new-post")
    assert response.status_code == 200
    assert response.json == {
        "thread": {
            "key": "brand-new-post",
            "url": None,
            "title": None,
            "comment_count": 0,
            "closed": False,
        },
        "comments": [],
        "next_cursor": None,
    }


def test_first_comments_posted_at_once_on_a_new_page_all_land(
    app: Any, site: Site, session: Session
) -> None:
    import threading

    statuses: list[int] = []
    start = threading.Barrier(6)

    def post(n: int) -> None:
        client = app.test_client()
        start.wait()
        response = client.post(
            "/api/v1/sites/blog/comments",
            json={"thread": "launch-day", "author_name": f"R{n}", "body": f"first! ({n})"},
        )
        statuses.append(response.status_code)

    workers = [threading.Thread(target=post, args=(n,)) for n in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert sorted(statuses) == [201] * 6
    listing = app.test_client().get("/api/v1/sites/blog/comments?thread=launch-day").json
    assert listing["thread"]["comment_count"] == 6


def test_reports_sent_at_the_same_moment_are_all_counted(
    app: Any, site: Site, session: Session
) -> None:
    """Ten readers report one comment at once: ten reports, and the count says ten (it
    once said 2, losing the others' increments, and the "most reports" order with it)."""
    import threading

    from moderation.models import Flag

    site.flags_to_hold = 1000  # the count, not the hold, is what this looks at
    session.commit()
    posted = submit(app.test_client())
    assert posted.status_code == 201
    comment_id = posted.json["id"]
    statuses: list[int] = []
    start = threading.Barrier(10)

    def report(n: int) -> None:
        client = app.test_client()
        start.wait()
        response = client.post(f"/api/v1/comments/{comment_id}/flags", json={"reason": "spam"},
                               environ_base={"REMOTE_ADDR": f"198.51.100.{n}"})  # fmt: skip
        statuses.append(response.status_code)

    readers = [threading.Thread(target=report, args=(n,)) for n in range(10)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join(timeout=60)
    assert len(statuses) == 10 and all(s in (201, 202) for s in statuses), statuses
    session.expire_all()
    comment = session.get(Comment, comment_id)
    assert comment is not None
    flags = session.scalars(select(Flag).where(Flag.comment_id == comment_id)).all()
    assert (len(flags), comment.flag_count) == (10, 10)
