"""Submitting comments and replies, reading single comments, and what an author may do
with their own: see it while it waits, edit it, delete it. At service level; every refusal
leaves the database as it was."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.current_scorer import get_scorer
from moderation.models import Comment, Site, Thread
from moderation.services import comments, flags, review, threads
from moderation.services.comments import NotAuthor
from moderation.services.errors import Conflict, DomainError, Invalid, NotFound
from moderation.types import CommentStatus, FlagReason, utcnow
from tests import factories
from tests.conftest import database_state, make_site

CLEAN = "What a thoughtful post, thanks"
TOXIC = "fuck you idiot"
TOKEN = comments.new_author_token()
OTHER_TOKEN = comments.new_author_token()
WINDOW = timedelta(minutes=15)


def submit(session: Session, site: Site, body: str = CLEAN, **kwargs: Any) -> Comment:
    """A comment as the API submits it, not committed (the caller commits or rolls back)."""
    options: dict[str, Any] = {"thread_key": "t", "author_name": "A"}
    options.update(kwargs)
    return comments.submit(
        session,
        site_slug=site.slug,
        body=body,
        now=utcnow(),
        **options,
    )


def visible(session: Session, site: Site, body: str = CLEAN, **kwargs: Any) -> Comment:
    comment = factories.submit(session, site, body, **kwargs)
    return factories.scored(session, comment, {"toxicity": 0.01})


def held(session: Session, site: Site, body: str = TOXIC, **kwargs: Any) -> Comment:
    comment = factories.submit(session, site, body, **kwargs)
    return factories.scored(session, comment, {"toxicity": 0.99})


def refused_and_unchanged(
    session: Session, error: type[DomainError], match: str, attempt: Callable[[], object]
) -> DomainError:
    """``attempt`` raises ``error``; once its transaction is rolled back, every row of
    every table is as it was before."""
    before = database_state(session)
    with pytest.raises(error, match=match) as raised:
        attempt()
    session.rollback()
    assert database_state(session) == before
    return raised.value


# ---------------------------------------------------------------- submitting


def test_the_first_comment_on_a_page_creates_its_thread_with_its_title_and_url(
    session: Session, site: Site
) -> None:
    comment = submit(
        session,
        site,
        thread_key="2024/hello",
        thread_url="https://blog.example/hello",
        thread_title="Hello",
    )
    session.commit()
    thread = session.scalars(select(Thread)).one()
    assert (thread.site_id, thread.key, thread.url, thread.title, thread.closed) == (
        site.id,
        "2024/hello",
        "https://blog.example/hello",
        "Hello",
        False,
    )
    assert (comment.thread_id, comment.status, comment.parent_id) == (
        thread.id,
        CommentStatus.PENDING,
        None,
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/phish",  # another host
        "http://blog.example/hello",  # another scheme
        "https://blog.example:8443/hello",  # another port
        "https://blog.example.evil.example/x",  # a look-alike host
        # Browsers end the host at a backslash: evil.example to them, blog.example to
        # urlsplit, which sees user info before the "@".
        "https://evil.example\\@blog.example/x",
        "https://someone@blog.example/x",  # user info: refused, whatever it says
    ],
)
def test_a_thread_url_outside_the_sites_origins_is_refused(
    session: Session, site: Site, url: str
) -> None:
    """The first poster names the thread's URL, and the queue links moderators there:
    only pages of the site's own origins."""
    error = refused_and_unchanged(
        session, Invalid, "must be a page of the site",
        lambda: submit(session, site, thread_key="p", thread_url=url),
    )  # fmt: skip
    assert error.field == "thread_url"


def test_a_thread_url_on_the_sites_origin_with_its_default_port_is_accepted(
    session: Session, site: Site
) -> None:
    comment = submit(session, site, thread_key="p", thread_url="https://BLOG.example:443/p")
    session.commit()
    assert comment.thread.url == "https://BLOG.example:443/p"


def test_later_comments_join_the_thread_and_keep_its_title_and_url(
    session: Session, site: Site
) -> None:
    first = submit(session, site, thread_key="p", thread_title="Original")
    second = submit(
        session, site, thread_key="p", thread_title="Renamed", thread_url="https://blog.example/p"
    )
    session.commit()
    [thread] = session.scalars(select(Thread)).all()
    assert first.thread_id == second.thread_id == thread.id
    # The title it was created with stays; the url, never set, is taken from the later one.
    assert (thread.title, thread.url) == ("Original", "https://blog.example/p")


def test_the_same_key_on_another_site_is_another_thread(session: Session, site: Site) -> None:
    news = make_site(session, "news")
    ours = submit(session, site, thread_key="p")
    theirs = submit(session, news, thread_key="p")
    session.commit()
    assert ours.thread_id != theirs.thread_id
    assert (ours.thread.site_id, theirs.thread.site_id) == (site.id, news.id)


def test_a_comment_stores_the_author_token_hash_and_the_rendered_text(
    session: Session, site: Site
) -> None:
    comment = submit(session, site, "Some *emphasis*", author_token=TOKEN, ip_hash="abc")
    session.commit()
    assert comment.author_token_hash == comments.hash_author_token(TOKEN) != TOKEN
    assert "<em>emphasis</em>" in comment.body_html
    assert (comment.ip_hash, comment.version, comment.flag_count) == ("abc", 1, 0)


def test_replies_carry_their_branch_root_and_depth(session: Session, site: Site) -> None:
    top = submit(session, site, "top")
    reply = submit(session, site, "reply", parent_id=top.id)
    nested = submit(session, site, "nested", parent_id=reply.id)
    session.commit()
    assert [(c.parent_id, c.root_id, c.depth) for c in (top, reply, nested)] == [
        (None, None, 0),
        (top.id, top.id, 1),
        (reply.id, top.id, 2),
    ]


def test_a_closed_thread_takes_no_new_comments(session: Session, site: Site) -> None:
    factories.submit(session, site, thread="closed")
    thread = session.scalars(select(Thread)).one()
    thread.closed = True
    session.commit()
    error = refused_and_unchanged(
        session, Conflict, "closed", lambda: submit(session, site, thread_key="closed")
    )
    assert error.field == "thread"


def test_a_closed_thread_keeps_its_url_when_a_comment_is_refused(
    session: Session, site: Site
) -> None:
    factories.submit(session, site, thread="closed")
    thread = session.scalars(select(Thread)).one()
    thread.closed = True
    session.commit()
    refused_and_unchanged(
        session,
        Conflict,
        "closed",
        lambda: submit(session, site, thread_key="closed", thread_url="https://blog.example/x"),
    )
    assert thread.url is None


def test_no_reply_to_a_comment_hidden_by_moderation(session: Session, site: Site) -> None:
    hidden = factories.with_status(session, site, "gone", status=CommentStatus.HIDDEN)
    error = refused_and_unchanged(
        session,
        Conflict,
        f"cannot reply to comment {hidden.id}: the comment was hidden by moderation",
        lambda: submit(session, site, parent_id=hidden.id),
    )
    assert error.field == "parent_id"


def test_no_reply_anywhere_under_a_hidden_ancestor(session: Session, site: Site) -> None:
    hidden = visible(session, site, "hidden after its replies")
    reply = visible(session, site, "reply", parent=hidden)
    nested = visible(session, site, "nested", parent=reply)
    factories.decided(session, hidden, review.Action.HIDE)
    refused_and_unchanged(
        session,
        Conflict,
        f"cannot reply to comment {nested.id}: its ancestor {hidden.id} was hidden",
        lambda: submit(session, site, parent_id=nested.id),
    )


def test_replies_to_pending_and_held_comments_are_taken(session: Session, site: Site) -> None:
    pending = factories.submit(session, site)
    on_hold = held(session, site)
    for parent in (pending, on_hold):
        reply = submit(session, site, parent_id=parent.id)
        assert reply.parent_id == parent.id
    session.commit()


def test_a_parent_from_another_thread_is_invalid(session: Session, site: Site) -> None:
    factories.submit(session, site, thread="t")
    elsewhere = factories.submit(session, site, thread="other")
    error = refused_and_unchanged(
        session,
        Invalid,
        f"comment {elsewhere.id} is not in thread 't'",
        lambda: submit(session, site, thread_key="t", parent_id=elsewhere.id),
    )
    assert error.field == "parent_id"


def test_a_parent_that_does_not_exist_is_invalid(session: Session, site: Site) -> None:
    factories.submit(session, site)
    refused_and_unchanged(
        session,
        Invalid,
        "comment 999 is not in thread",
        lambda: submit(session, site, parent_id=999),
    )


def test_a_parent_on_another_sites_thread_of_the_same_key_is_invalid(
    session: Session, site: Site
) -> None:
    news = make_site(session, "news")
    factories.submit(session, site, thread="t")
    theirs = factories.submit(session, news, thread="t")
    refused_and_unchanged(
        session, Invalid, "is not in thread", lambda: submit(session, site, parent_id=theirs.id)
    )


def test_a_refused_first_comment_on_a_page_leaves_no_thread_behind(
    session: Session, site: Site
) -> None:
    # On SQLite too: the new thread's savepoint is inside the request's transaction.
    elsewhere = factories.submit(session, site, thread="other")
    refused_and_unchanged(
        session,
        Invalid,
        "is not in thread 'new-page'",
        lambda: submit(session, site, thread_key="new-page", parent_id=elsewhere.id),
    )


def test_replies_nest_no_deeper_than_max_depth(session: Session, site: Site) -> None:
    top = factories.submit(session, site, "top")
    reply = submit(session, site, parent_id=top.id, max_depth=1)
    session.commit()
    assert reply.depth == 1
    error = refused_and_unchanged(
        session,
        Invalid,
        "replies nest at most 1 levels deep",
        lambda: submit(session, site, parent_id=reply.id, max_depth=1),
    )
    assert error.field == "parent_id"


def test_an_unknown_site_is_not_found(session: Session, site: Site) -> None:
    refused_and_unchanged(
        session,
        NotFound,
        "no site 'nowhere'",
        lambda: comments.submit(
            session,
            site_slug="nowhere",
            thread_key="t",
            author_name="A",
            body=CLEAN,
            now=utcnow(),
        ),
    )


# ---------------------------------------------------------------- reading one comment


def test_readers_get_a_visible_comment_and_nothing_else(session: Session, site: Site) -> None:
    shown = visible(session, site)
    assert comments.get_visible_comment(session, shown.id) is shown
    for status in (CommentStatus.PENDING, CommentStatus.HELD, CommentStatus.HIDDEN):
        unseen = factories.with_status(session, site, status=status)
        with pytest.raises(NotFound, match=f"no comment {unseen.id}"):
            comments.get_visible_comment(session, unseen.id)
    with pytest.raises(NotFound):
        comments.get_visible_comment(session, 999)


def test_authors_see_their_own_comment_while_it_waits_and_others_do_not(
    session: Session, site: Site
) -> None:
    mine = comments.hash_author_token(TOKEN)
    theirs = comments.hash_author_token(OTHER_TOKEN)
    waiting = factories.submit(session, site, author_token=TOKEN)
    on_hold = held(session, site, author_token=TOKEN)
    for comment in (waiting, on_hold):
        assert comments.get_comment_for_reader(session, comment.id, [mine]) is comment
        assert comments.get_comment_for_reader(session, comment.id, [theirs, mine]) is comment
        for tokens in ([], [theirs]):
            with pytest.raises(NotFound):
                comments.get_comment_for_reader(session, comment.id, tokens)
    shown = visible(session, site, author_token=TOKEN)
    assert comments.get_comment_for_reader(session, shown.id) is shown
    with pytest.raises(NotFound):
        comments.get_comment_for_reader(session, 999, [mine])


def test_authors_see_that_moderation_removed_their_comment(session: Session, site: Site) -> None:
    comment = visible(session, site, author_token=TOKEN)
    factories.decided(session, comment, review.Action.HIDE)
    mine = comments.hash_author_token(TOKEN)
    assert comments.get_comment_for_reader(session, comment.id, [mine]).status == "hidden"


def test_a_comment_its_author_deleted_is_gone_for_them_too(session: Session, site: Site) -> None:
    comment = visible(session, site, author_token=TOKEN)
    factories.deleted_by_author(session, comment, TOKEN)
    with pytest.raises(NotFound):
        comments.get_comment_for_reader(session, comment.id, [comments.hash_author_token(TOKEN)])


def test_author_token_hashes_ignore_implausible_tokens(session: Session) -> None:
    assert comments.author_token_hashes(["short", " " + TOKEN + " ", "x" * 101, "é" * 30]) == [
        comments.hash_author_token(TOKEN)
    ]
    assert len(comments.author_token_hashes([TOKEN] * 5, limit=2)) == 2


# ---------------------------------------------------------------- an author's own comments


def shape(nodes: list[threads.Node]) -> list[object]:
    """Bodies as nested lists; a tombstone is "†"."""
    return [
        (
            ("†" if node.tombstone else node.comment.body),
            shape(node.replies),
        )
        if node.replies
        else ("†" if node.tombstone else node.comment.body)
        for node in nodes
    ]


def page(
    session: Session,
    site: Site,
    tokens: list[str],
    limit: int = 50,
    after: int | None = None,
) -> threads.ThreadPage:
    thread = threads.get_thread(session, site, "t")
    hashes = [comments.hash_author_token(t) for t in tokens]
    return comments.include_own_comments(
        session, threads.tree(session, thread, limit, after), after, hashes
    )


def test_own_replies_appear_in_place_with_tombstones_for_what_readers_cannot_see(
    session: Session, site: Site
) -> None:
    top = visible(session, site, "top")
    later = visible(session, site, "later reply", parent=top)
    my_pending = factories.submit(session, site, "my pending reply", parent=top, author_token=TOKEN)
    someone_held = held(session, site, "someone held", parent=top)
    my_held = held(session, site, "my held reply", parent=someone_held, author_token=TOKEN)
    assert shape(page(session, site, []).roots) == [("top", ["later reply"])]
    mine = page(session, site, [TOKEN])
    assert shape(mine.roots) == [
        ("top", ["later reply", "my pending reply", ("†", ["my held reply"])]),
    ]
    [top_node] = mine.roots
    tombstone = top_node.replies[2]
    assert (tombstone.comment.id, tombstone.tombstone) == (someone_held.id, True)
    assert (later.id, my_pending.id, my_held.id) == tuple(
        n.comment.id for n in (top_node.replies[0], top_node.replies[1], tombstone.replies[0])
    )
    # Another author's token shows nothing more than readers see.
    assert shape(page(session, site, [OTHER_TOKEN]).roots) == [("top", ["later reply"])]


def test_an_own_comment_that_stood_as_a_tombstone_is_shown_to_its_author(
    session: Session, site: Site
) -> None:
    mine = held(session, site, "my held comment", author_token=TOKEN)
    visible(session, site, "a visible reply", parent=mine)
    assert shape(page(session, site, []).roots) == [("†", ["a visible reply"])]
    assert shape(page(session, site, [TOKEN]).roots) == [("my held comment", ["a visible reply"])]


def test_own_top_level_comments_appear_on_exactly_one_page(session: Session, site: Site) -> None:
    first = visible(session, site, "first")
    mine = held(session, site, "mine", author_token=TOKEN)
    second = visible(session, site, "second")
    third = visible(session, site, "third")
    seen: list[int] = []
    after = None
    for _ in range(5):
        result = page(session, site, [TOKEN], limit=1, after=after)
        seen += [node.comment.id for node in result.roots]
        after = result.next_cursor
        if after is None:
            break
    assert seen == [first.id, mine.id, second.id, third.id]


def test_an_author_without_hidden_comments_gets_the_readers_page(
    session: Session, site: Site
) -> None:
    visible(session, site, "top", author_token=TOKEN)
    assert shape(page(session, site, [TOKEN]).roots) == ["top"]


# ---------------------------------------------------------------- editing and deleting


def edit(session: Session, comment: Comment, token: str | None = TOKEN, **kwargs: Any) -> object:
    options: dict[str, Any] = {"body": "new text", "now": utcnow(), "window": WINDOW}
    options.update(kwargs)
    return comments.edit_by_author(
        session,
        comment.id,
        author_token=token,
        **options,
    )


def delete(session: Session, comment: Comment, token: str | None = TOKEN, **kwargs: Any) -> object:
    options: dict[str, Any] = {"now": utcnow(), "window": WINDOW}
    options.update(kwargs)
    return comments.delete_by_author(
        session,
        comment.id,
        author_token=token,
        **options,
    )


@pytest.mark.parametrize(
    "token", [None, "", OTHER_TOKEN], ids=["no_token", "empty_token", "another_authors_token"]
)
def test_only_the_authors_token_may_edit_or_delete(
    session: Session, site: Site, token: str | None
) -> None:
    comment = visible(session, site, author_token=TOKEN)
    for change in (edit, delete):
        error = refused_and_unchanged(
            session,
            NotAuthor,
            f"only the author of comment {comment.id} may",
            partial(change, session, comment, token),
        )
        assert error.field == "X-Author-Token"


def test_a_comment_posted_without_a_token_belongs_to_nobody(session: Session, site: Site) -> None:
    comment = visible(session, site)
    for change in (edit, delete):
        refused_and_unchanged(
            session,
            NotAuthor,
            "only the author",
            partial(change, session, comment, TOKEN),
        )


def test_a_comment_that_does_not_exist_is_not_found(session: Session, site: Site) -> None:
    with pytest.raises(NotFound):
        comments.edit_by_author(
            session, 999, author_token=TOKEN, body="x", now=utcnow(), window=WINDOW
        )
    with pytest.raises(NotFound):
        comments.delete_by_author(session, 999, author_token=TOKEN, now=utcnow(), window=WINDOW)


def test_after_the_window_a_comment_can_no_longer_be_edited_or_deleted(
    session: Session, site: Site
) -> None:
    comment = visible(
        session, site, author_token=TOKEN, now=utcnow() - WINDOW - timedelta(seconds=1)
    )
    refused_and_unchanged(
        session,
        Conflict,
        "can be edited only within 15 minutes of posting",
        lambda: edit(session, comment),
    )
    refused_and_unchanged(
        session,
        Conflict,
        "can be deleted only within 15 minutes of posting",
        lambda: delete(session, comment),
    )


def test_a_comment_still_being_checked_cannot_be_edited(session: Session, site: Site) -> None:
    comment = factories.submit(session, site, author_token=TOKEN)
    refused_and_unchanged(session, Conflict, "still being checked", lambda: edit(session, comment))


def test_a_comment_a_moderator_reviewed_cannot_be_edited(session: Session, site: Site) -> None:
    comment = held(session, site, author_token=TOKEN)
    factories.decided(session, comment, review.Action.APPROVE)
    refused_and_unchanged(
        session, Conflict, "a moderator has reviewed this comment", lambda: edit(session, comment)
    )


def test_a_comment_readers_reports_put_on_hold_cannot_be_edited(
    session: Session, site: Site
) -> None:
    comment = visible(session, site, author_token=TOKEN)
    for reader in ("r1", "r2", "r3"):
        flags.flag_comment(session, comment.id, FlagReason.SPAM, None, reader, utcnow())
        session.commit()
    assert comment.status == CommentStatus.HELD
    refused_and_unchanged(
        session, Conflict, "readers reported this comment", lambda: edit(session, comment)
    )


def test_a_comment_moderation_hid_can_be_neither_edited_nor_deleted_again(
    session: Session, site: Site
) -> None:
    comment = visible(session, site, author_token=TOKEN)
    factories.decided(session, comment, review.Action.HIDE)
    # A moderator decided, and it is removed: either refusal says so.
    refused_and_unchanged(session, Conflict, "removed", lambda: edit(session, comment))
    refused_and_unchanged(
        session, Conflict, "this comment was already removed", lambda: delete(session, comment)
    )


def test_once_deleted_the_authors_token_no_longer_works_for_the_comment(
    session: Session, site: Site
) -> None:
    comment = visible(session, site, author_token=TOKEN)
    factories.deleted_by_author(session, comment, TOKEN)
    for change in (edit, delete):
        refused_and_unchanged(
            session,
            NotAuthor,
            "only the author",
            partial(change, session, comment),
        )


def test_a_comment_held_by_the_policy_may_still_be_edited_and_goes_back_to_pending(
    session: Session, site: Site
) -> None:
    comment = held(session, site, author_token=TOKEN)
    edited = edit(session, comment, body="Sorry, that was rude of me")
    session.commit()
    assert edited is comment
    assert (comment.status, comment.body, comment.version) == (
        CommentStatus.PENDING,
        "Sorry, that was rude of me",
        3,
    )


def test_an_edit_that_changes_nothing_writes_nothing(session: Session, site: Site) -> None:
    comment = visible(session, site, author_token=TOKEN)
    before = database_state(session)
    assert edit(session, comment, body=comment.body) is comment
    session.commit()
    assert database_state(session) == before


def test_an_author_may_delete_a_comment_still_being_checked(session: Session, site: Site) -> None:
    comment = factories.submit(session, site, author_token=TOKEN)
    assert delete(session, comment) is comment
    session.commit()
    assert (comment.status, comment.author_token_hash) == (CommentStatus.HIDDEN, None)


# ---------------------------------------------------------------- scoring a held comment


def test_only_a_held_comment_gets_a_score_for_the_moderator(session: Session, site: Site) -> None:
    for comment in (factories.submit(session, site), visible(session, site)):
        before = database_state(session)
        assert not comments.score_held_comment(session, comment, get_scorer(), 5000, utcnow())
        session.commit()
        assert database_state(session) == before
    warned = factories.submit(session, site, TOXIC, acknowledged_warning=True)
    assert comments.score_held_comment(session, warned, get_scorer(), 5000, utcnow())
    session.commit()
    assert (warned.status, warned.version, len(warned.scores)) == (CommentStatus.HELD, 1, 1)
    assert warned.top_score is not None and warned.top_score > 0.9
