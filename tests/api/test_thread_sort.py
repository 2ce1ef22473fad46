"""Readers sort a thread: oldest first (the default), newest first, or most replies first.
The server sorts, so that every page of a long thread is cut in the reader's order; the
pinned comment stays first; each order is its own cached page with its own ETag."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from moderation.models import Comment, Site
from moderation.services import threads
from moderation.services.moderators import create_moderator
from moderation.types import Role, utcnow

LIST = "/api/v1/sites/blog/comments?thread=post-42"


def post(client: FlaskClient, body: str, **fields: Any) -> Any:
    response = client.post(
        "/api/v1/sites/blog/comments",
        json={"thread": "post-42", "author_name": "Ada", "body": body, **fields},
    )
    assert response.status_code in (201, 202), response.json
    return response.json


def top_level(client: FlaskClient, query: str, **headers: str) -> list[str]:
    """The top-level comments' texts of every page, in order, following next_cursor."""
    texts: list[str] = []
    url = LIST + query
    while True:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.json
        texts += [node["body_html"].strip().removeprefix("<p>").removesuffix("</p>")
                  for node in response.json["comments"]]  # fmt: skip
        cursor = response.json["next_cursor"]
        if cursor is None:
            return texts
        url = f"{LIST}{query}&cursor={cursor}"


def thread_of_five(client: FlaskClient) -> dict[str, Any]:
    """a..e posted in that order; c gets three replies, a one, e two."""
    posted = {name: post(client, name) for name in "abcde"}
    for parent, count in (("c", 3), ("a", 1), ("e", 2)):
        for n in range(count):
            post(client, f"reply {n} to {parent}", parent_id=posted[parent]["id"])
    return posted


def test_each_order_pages_through_every_comment_once(client: FlaskClient, site: Site) -> None:
    thread_of_five(client)
    assert top_level(client, "&limit=2") == ["a", "b", "c", "d", "e"]
    assert top_level(client, "&limit=2&sort=oldest") == ["a", "b", "c", "d", "e"]
    assert top_level(client, "&limit=2&sort=newest") == ["e", "d", "c", "b", "a"]
    # Most replies first; equal counts oldest first (b and d have none).
    assert top_level(client, "&limit=2&sort=replies") == ["c", "e", "a", "b", "d"]
    # Replies stay oldest first under their parent whatever the order.
    newest = client.get(LIST + "&sort=newest").json["comments"]
    assert [r["body_html"].strip() for r in newest[2]["replies"]] == [
        f"<p>reply {n} to c</p>" for n in range(3)
    ]


def test_the_pinned_comment_stays_first_in_every_order(
    client: FlaskClient, site: Site, session: Session
) -> None:
    posted = thread_of_five(client)
    moderator, _ = create_moderator(session, "mod@example.org", Role.ADMIN, [], "a long password")
    pinned = session.get(Comment, posted["b"]["id"])
    assert pinned is not None
    threads.pin(session, pinned, moderator, utcnow())
    session.commit()
    assert top_level(client, "&limit=2&sort=oldest") == ["b", "a", "c", "d", "e"]
    assert top_level(client, "&limit=2&sort=newest") == ["b", "e", "d", "c", "a"]
    assert top_level(client, "&limit=2&sort=replies") == ["b", "c", "e", "a", "d"]


def test_each_order_is_its_own_cached_page(client: FlaskClient, site: Site) -> None:
    thread_of_five(client)
    oldest = client.get(LIST + "&sort=oldest")
    newest = client.get(LIST + "&sort=newest")
    assert oldest.headers["ETag"] != newest.headers["ETag"]
    # Read again (from the cache): each order keeps its own page.
    assert client.get(LIST + "&sort=newest").get_data() == newest.get_data()
    assert client.get(LIST + "&sort=oldest").get_data() == oldest.get_data()
    assert client.get(LIST).headers["ETag"] == oldest.headers["ETag"]  # oldest: the default
    revalidated = client.get(
        LIST + "&sort=oldest", headers={"If-None-Match": newest.headers["ETag"]}
    )
    assert revalidated.status_code == 200  # another order's ETag is not this page's


def test_an_authors_held_comment_appears_in_its_place_in_their_order(
    client: FlaskClient, site: Site
) -> None:
    thread_of_five(client)
    held = post(client, "mine", acknowledged_warning=True)  # posted despite a warning: held
    assert held["status"] == "held"
    mine = {"X-Author-Token": held["author_token"]}
    assert top_level(client, "&limit=2&sort=newest", **mine) == ["mine", "e", "d", "c", "b", "a"]
    assert top_level(client, "&limit=2&sort=oldest", **mine) == ["a", "b", "c", "d", "e", "mine"]
    # No visible replies: with the others that have none, in id order.
    assert top_level(client, "&limit=2&sort=replies", **mine) == [
        "c", "e", "a", "b", "d", "mine"
    ]  # fmt: skip
    assert top_level(client, "&limit=2&sort=newest") == ["e", "d", "c", "b", "a"]  # others


def test_a_bad_sort_or_a_cursor_of_another_order_is_a_clear_422(
    client: FlaskClient, site: Site
) -> None:
    thread_of_five(client)
    bad = client.get(LIST + "&sort=popular")
    assert bad.status_code == 422
    assert bad.mimetype == "application/problem+json"
    assert bad.json["errors"] == [
        {"field": "sort", "message": "must be one of: oldest, newest, replies"}
    ]
    cursor = client.get(LIST + "&limit=2&sort=newest").json["next_cursor"]
    mixed = client.get(f"{LIST}&limit=2&sort=replies&cursor={cursor}")
    assert mixed.status_code == 422
    assert mixed.json["errors"][0]["field"] == "cursor"
    # A cursor of the oldest order from before sorting existed ("after:ID") still works.
    again = client.get(f"{LIST}&limit=2&cursor={client.get(LIST + '&limit=2').json['next_cursor']}")
    assert again.status_code == 200 and len(again.json["comments"]) == 2


def test_the_openapi_document_describes_sort(client: FlaskClient) -> None:
    operation = client.get("/api/v1/openapi.json").json["paths"]["/api/v1/sites/{site}/comments"]
    [sort] = [p for p in operation["get"]["parameters"] if p.get("name") == "sort"]
    assert sort["schema"]["enum"] == ["oldest", "newest", "replies"]
    assert sort["schema"]["default"] == "oldest"


def test_only_replies_readers_see_count_for_most_replies(client: FlaskClient, site: Site) -> None:
    posted = thread_of_five(client)
    for n in range(4):  # held for a moderator: nobody else sees them
        post(client, f"held {n}", parent_id=posted["d"]["id"], acknowledged_warning=True)
    assert top_level(client, "&limit=2&sort=replies") == ["c", "e", "a", "b", "d"]
