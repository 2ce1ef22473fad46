"""The moderator pages over HTTP: who may see and do what, CSRF, sign-in limits, decisions,
conflicts between moderators, settings audit, and the security headers."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from moderation.models import ModerationAction, SettingsChange, Site
from moderation.types import CommentStatus, ModerationMode, Role
from tests.conftest import database_state, make_site
from tests.review.conftest import Poster, account, csrf_of, form_token, sign_in

PAGES = [
    "/moderation/",
    "/moderation/counts",
    "/moderation/audit",
    "/moderation/dashboard",
    "/moderation/comments/{id}",
    "/moderation/comments/{id}/branch",
]
ADMIN_PAGES = ["/moderation/moderators", "/moderation/sites/blog/settings"]
POSTS = [
    "/moderation/decide",
    "/moderation/undo",
    "/moderation/tokens",
    "/moderation/moderators/1/active",
    "/moderation/sites/blog/settings",
]


@pytest.mark.parametrize("path", PAGES + ADMIN_PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(
    client: FlaskClient, held_comment: Poster, path: str
) -> None:
    comment = held_comment()
    response = client.get(path.format(id=comment.id))
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/moderation/login")


@pytest.mark.parametrize("path", POSTS)
def test_anonymous_posts_change_nothing(
    client: FlaskClient, session: Session, held_comment: Poster, path: str
) -> None:
    comment = held_comment()
    before = database_state(session)
    response = client.post(path, data={"action": "approve", "target": f"{comment.id}:1"})
    assert response.status_code in (302, 400)
    assert database_state(session) == before


def test_a_moderator_of_another_site_cannot_see_or_decide(
    app: Flask, session: Session, held_comment: Poster
) -> None:
    other = make_site(session, "news")
    account(session, "news@example.org", Role.MODERATOR, [other])
    comment = held_comment()
    client = app.test_client()
    sign_in(client, "news@example.org")
    assert client.get(f"/moderation/comments/{comment.id}").status_code == 404
    assert "you are an idiot" not in client.get("/moderation/").get_data(as_text=True)
    for path in ADMIN_PAGES:
        assert client.get(path).status_code == 403
    before = database_state(session)
    response = client.post(
        "/moderation/decide",
        data={
            "action": "approve",
            "target": f"{comment.id}:{comment.version}",
            "csrf_token": csrf_of(client),
        },
        follow_redirects=True,
    )
    assert f"no comment {comment.id}" in response.get_data(as_text=True)
    assert database_state(session) == before


def test_posts_without_the_csrf_token_are_refused(
    admin_client: FlaskClient, session: Session, held_comment: Poster
) -> None:
    comment = held_comment()
    before = database_state(session)
    response = admin_client.post(
        "/moderation/decide", data={"action": "approve", "target": f"{comment.id}:1"}
    )
    assert response.status_code == 400
    assert database_state(session) == before


def test_wrong_password_says_so_next_to_the_field(app: Flask, session: Session) -> None:
    account(session, "admin@example.org")
    client = app.test_client()
    token = form_token(client, "/moderation/login")
    response = client.post(
        "/moderation/login",
        data={"email": "admin@example.org", "password": "nope", "csrf_token": token},
    )
    assert response.status_code == 200
    assert 'role="alert">wrong email or password' in response.get_data(as_text=True)


def test_approve_over_http_records_the_moderator_and_offers_undo(
    admin_client: FlaskClient, session: Session, held_comment: Poster
) -> None:
    comment = held_comment()
    response = admin_client.post(
        "/moderation/decide",
        data={
            "action": "approve",
            "target": f"{comment.id}:{comment.version}",
            "csrf_token": csrf_of(admin_client),
        },
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "1 comment approved" in page and 'id="undo-button"' in page
    session.expire_all()
    assert comment.status == CommentStatus.VISIBLE
    assert comment.actions[-1].moderator is not None
    assert comment.actions[-1].moderator.email == "admin@example.org"


def test_the_second_moderator_sees_who_decided_first(
    app: Flask, session: Session, held_comment: Poster
) -> None:
    account(session, "first@example.org")
    account(session, "second@example.org")
    comment = held_comment()
    seen = f"{comment.id}:{comment.version}"
    first, second = app.test_client(), app.test_client()
    sign_in(first, "first@example.org")
    sign_in(second, "second@example.org")
    second_token = csrf_of(second)
    first.post(
        "/moderation/decide", data={"action": "hide", "target": seen, "csrf_token": csrf_of(first)}
    )
    response = second.post(
        "/moderation/decide",
        data={"action": "approve", "target": seen, "csrf_token": second_token},
        follow_redirects=True,
    )
    assert "already decided by first@example.org: it is now hidden" in response.get_data(
        as_text=True
    )
    session.expire_all()
    assert comment.status == CommentStatus.HIDDEN


def test_settings_changes_are_saved_and_audited(
    admin_client: FlaskClient, session: Session, site: Site
) -> None:
    token = form_token(admin_client, "/moderation/sites/blog/settings")
    response = admin_client.post(
        "/moderation/sites/blog/settings",
        data={
            "csrf_token": token,
            "moderation_mode": "pre",
            "flags_to_hold": "5",
            "banned_words": "spamco\nbuy now",
            "suspect_words": "",
            "allowed_origins": "https://blog.example",
            "toxicity__hold": "0.6",
            "toxicity__hide": "0.99",
            "toxicity__warn": "0.5",
        },
        follow_redirects=True,
    )
    assert "saved: moderation_mode, thresholds, banned_words, flags_to_hold" in response.get_data(
        as_text=True
    )
    session.expire_all()
    assert site.moderation_mode == ModerationMode.PRE
    assert site.thresholds == {"toxicity": {"hold": 0.6, "hide": 0.99, "warn": 0.5}}
    assert site.banned_words == ["spamco", "buy now"]
    fields = session.scalars(select(SettingsChange.field)).all()
    assert "moderation_mode" in fields and "flags_to_hold" in fields


def test_bad_settings_are_refused_next_to_the_field(
    admin_client: FlaskClient, session: Session, site: Site
) -> None:
    token = form_token(admin_client, "/moderation/sites/blog/settings")
    before = database_state(session)
    response = admin_client.post(
        "/moderation/sites/blog/settings",
        data={
            "csrf_token": token,
            "moderation_mode": "post",
            "flags_to_hold": "3",
            "toxicity__hold": "1.7",
        },
    )
    assert response.status_code == 200
    assert 'role="alert">Number must be between 0 and 1' in response.get_data(as_text=True)
    assert database_state(session) == before


def test_pages_carry_security_headers_and_the_cookie_is_locked_down(
    app: Flask, session: Session
) -> None:
    account(session, "admin@example.org")
    client = app.test_client()
    response = client.get("/moderation/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    https = app.test_client().get("/moderation/login", base_url="https://mod.example")
    assert "Secure" in https.headers["Set-Cookie"]


def test_the_queue_tabs_count_and_filter(admin_client: FlaskClient, held_comment: Poster) -> None:
    held_comment("first rude one", score=0.95)
    held_comment("second rude one", score=0.85)
    held_comment("all good", status=CommentStatus.VISIBLE, score=0.01)
    page = admin_client.get("/moderation/?tab=held").get_data(as_text=True)
    assert page.index("first rude one") < page.index("second rude one")
    assert 'data-count="held">2<' in page and 'data-count="all">3<' in page
    searched = admin_client.get("/moderation/?tab=held&q=second").get_data(as_text=True)
    assert "second rude one" in searched and "first rude one" not in searched
    for reason in ("threat", "veiled threat", "attack on a group", "insult aimed at someone",
                   "profanity aimed at no one"):  # fmt: skip
        assert f"<option >{reason}</option>" in page


def test_hide_with_replies_over_http(
    admin_client: FlaskClient, session: Session, held_comment: Poster
) -> None:
    top = held_comment("top", status=CommentStatus.VISIBLE)
    reply = held_comment("reply", status=CommentStatus.VISIBLE, parent=top)
    admin_client.post(
        "/moderation/decide",
        data={
            "action": "hide_thread",
            "target": f"{top.id}:{top.version}",
            "csrf_token": csrf_of(admin_client),
        },
    )
    session.expire_all()
    assert (top.status, reply.status) == (CommentStatus.HIDDEN, CommentStatus.HIDDEN)
    assert (
        session.scalar(
            select(func.count(ModerationAction.id)).where(
                ModerationAction.moderator_id.is_not(None)
            )
        )
        == 2
    )


def test_the_lite_fallback_warning_shows_on_moderator_pages(
    admin_client: FlaskClient, app: Flask
) -> None:
    from moderation.scoring import ScorerSlot

    slot = ScorerSlot({"SCORER": "auto"})
    slot.get()  # as gunicorn's start-up hook does: the model is loaded before requests
    app.extensions["moderation.scorer"] = slot
    page = admin_client.get("/moderation/").get_data(as_text=True)
    assert "scoring with the lite model: Detoxify weights unavailable" in page


def test_dashboard_renders_charts_from_decisions(
    admin_client: FlaskClient, held_comment: Poster
) -> None:
    comment = held_comment()
    admin_client.post(
        "/moderation/decide",
        data={
            "action": "approve",
            "target": f"{comment.id}:{comment.version}",
            "csrf_token": csrf_of(admin_client),
        },
    )
    page = admin_client.get("/moderation/dashboard").get_data(as_text=True)
    assert page.count("<svg") == 3
    assert "approve: 1</title>" in page  # the day's bar in the decisions chart


def test_comment_page_shows_the_branch(admin_client: FlaskClient, held_comment: Poster) -> None:
    top = held_comment("the original post comment", status=CommentStatus.VISIBLE)
    middle = held_comment("a reply in between", status=CommentStatus.VISIBLE, parent=top)
    leaf = held_comment("the held reply", parent=middle)
    page = admin_client.get(f"/moderation/comments/{leaf.id}").get_data(as_text=True)
    assert (
        page.index("the original post comment")
        < page.index("a reply in between")
        < page.index("the held reply")
    )


def test_dashboard_shows_how_often_the_model_agreed_with_api_feedback(
    admin_client: FlaskClient, session: Session, site: Site
) -> None:
    from moderation.current_scorer import get_scorer
    from moderation.services import perspective
    from moderation.types import utcnow

    key, _ = perspective.create_key(session, site.slug, "coral", now=utcnow())
    for text, verdict in (
        ("you stupid fucking idiot", 1.0),
        ("thanks, lovely post", 0.0),
        ("what a thoughtful reply", 1.0),
    ):
        perspective.suggest_scores(
            session, key, get_scorer(), text=text, suggestions={"TOXICITY": verdict}, now=utcnow()
        )
    session.commit()
    page = admin_client.get("/moderation/dashboard").get_data(as_text=True)
    assert "3 suggestions" in page
    assert "the model agreed with 67%" in page and "of 3 (toxic at ≥ 0.90)" in page


def test_the_audit_page_lists_only_colleagues_of_a_moderator(
    app: Flask, session: Session, site: Site
) -> None:
    news = make_site(session, "news")
    account(session, "news@example.org", Role.MODERATOR, [news])
    account(session, "colleague@example.org", Role.MODERATOR, [news])
    account(session, "blogonly@example.org", Role.MODERATOR, [site])
    client = app.test_client()
    sign_in(client, "news@example.org")
    page = client.get("/moderation/audit").get_data(as_text=True)
    assert "colleague@example.org" in page
    assert "blogonly@example.org" not in page


def test_a_decision_on_another_comment_leaves_the_reported_tab_alone(
    admin_client: FlaskClient, session: Session, held_comment: Poster
) -> None:
    from moderation.services import flags
    from moderation.types import FlagReason, utcnow

    reported = held_comment("reported by a reader", status=CommentStatus.VISIBLE, score=0.1)
    flags.flag_comment(session, reported.id, FlagReason.SPAM, None, None, utcnow())
    # Reported by three readers (held), then approved: its reports were seen.
    seen = held_comment("reported, then approved", status=CommentStatus.VISIBLE, score=0.1)
    for reader in ("a", "b", "c"):
        flags.flag_comment(session, seen.id, FlagReason.SPAM, None, reader, utcnow())
    session.commit()
    assert seen.status == CommentStatus.HELD
    unrelated = held_comment("held, about something else")

    def approve(comment_id: int, version: int) -> None:
        admin_client.post(
            "/moderation/decide",
            data={
                "action": "approve",
                "target": f"{comment_id}:{version}",
                "csrf_token": csrf_of(admin_client),
            },
        )

    approve(seen.id, seen.version)
    counts = admin_client.get("/moderation/counts?tab=reported").get_data(as_text=True)
    assert 'data-count="reported">1<' in counts
    approve(unrelated.id, unrelated.version)
    counts = admin_client.get("/moderation/counts?tab=reported").get_data(as_text=True)
    assert 'data-count="reported">1<' in counts
    page = admin_client.get("/moderation/?tab=reported").get_data(as_text=True)
    assert "reported by a reader" in page and "reported, then approved" not in page


def test_a_hidden_comment_offers_restore_and_not_approve(
    admin_client: FlaskClient, held_comment: Poster
) -> None:
    def offered(comment_id: int) -> list[str]:
        page = admin_client.get(f"/moderation/comments/{comment_id}").get_data(as_text=True)
        actions = page.split('<form class="actions"')[1].split("</form>")[0]
        return [part.split('"')[0] for part in actions.split('name="action" value="')[1:]]

    assert offered(held_comment("hidden one", status=CommentStatus.HIDDEN).id) == ["restore"]
    assert offered(held_comment("held one").id) == ["approve", "hide", "hide_thread"]
    assert offered(held_comment("visible one", status=CommentStatus.VISIBLE).id) == [
        "hide",
        "hide_thread",
    ]


def meter_colours(page: str) -> dict[str, str]:
    """Each item's first score bar, as a browser paints a ``<meter optimum="0">`` (HTML's
    regions): below ``low`` good, up to ``high`` middling, above it bad."""
    import re

    colours = {}
    for body, low, high, value in re.findall(
        r'<div class="body"><p>([^<]*)</p></div>.*?<meter [^>]*low="([^"]+)" '
        r'high="([^"]+)" optimum="0" value="([^"]+)"',
        page,
        flags=re.S,
    ):
        v = float(value)
        colours[body] = "good" if v < float(low) else "middling" if v <= float(high) else "bad"
    return colours


def test_score_bars_are_coloured_against_the_sites_thresholds(
    admin_client: FlaskClient, session: Session, site: Site
) -> None:
    from tests import factories

    strict = make_site(session, "news", thresholds={"toxicity": {"hold": 0.6, "hide": 0.9}})
    for where, body, score, status in (
        (site, "held on the blog", 0.93, CommentStatus.HELD),  # lite holds at 0.9
        (site, "fine on the blog", 0.2, CommentStatus.VISIBLE),
        (strict, "fine on the news", 0.5, CommentStatus.VISIBLE),
        (strict, "held on the news", 0.85, CommentStatus.HELD),
        (strict, "hidden on the news", 0.9, CommentStatus.HIDDEN),  # at the hide threshold
    ):
        comment = factories.scored(
            session, factories.submit(session, where, body), {"toxicity": score}
        )
        assert comment.status == status
    page = admin_client.get("/moderation/?tab=all").get_data(as_text=True)
    assert meter_colours(page) == {
        "held on the blog": "middling",
        "fine on the blog": "good",
        "fine on the news": "good",
        "held on the news": "middling",
        "hidden on the news": "bad",
    }


def test_undo_says_how_many_comments_in_plain_english(
    admin_client: FlaskClient, held_comment: Poster
) -> None:
    def decide_then_undo(*targets: str) -> str:
        page = admin_client.post(
            "/moderation/decide",
            data={"action": "hide", "target": list(targets), "csrf_token": csrf_of(admin_client)},
            follow_redirects=True,
        ).get_data(as_text=True)
        decision = page.split('name="decision" value="')[1].split('"')[0]
        undone = admin_client.post(
            "/moderation/undo",
            data={"decision": decision, "csrf_token": csrf_of(admin_client)},
            follow_redirects=True,
        )
        return undone.get_data(as_text=True)

    one = held_comment("one")
    assert "undone: 1 comment back as it was" in decide_then_undo(f"{one.id}:{one.version}")
    two, three = held_comment("two"), held_comment("three")
    both = decide_then_undo(f"{two.id}:{two.version}", f"{three.id}:{three.version}")
    assert "undone: 2 comments back as they were" in both
    assert "comment(s)" not in both


def test_an_admin_is_not_offered_deactivating_their_own_account_nor_allowed_it(
    admin_client: FlaskClient, session: Session
) -> None:
    from moderation.models import Moderator

    other = account(session, "other@example.org", Role.MODERATOR)
    me = session.scalar(select(Moderator).where(Moderator.email == "admin@example.org"))
    assert me is not None
    page = admin_client.get("/moderation/moderators").get_data(as_text=True)
    rows = {row.split("</td>")[0]: row for row in page.split("<tr><td>")[1:]}
    assert "Deactivate" in rows["other@example.org"]
    assert "Deactivate" not in rows["admin@example.org"]

    token = form_token(admin_client, "/moderation/moderators")
    response = admin_client.post(
        f"/moderation/moderators/{me.id}/active",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "you cannot deactivate your own account" in response.get_data(as_text=True)
    session.expire_all()
    assert me.active and other.active


def test_keep_clears_a_reported_comment_from_the_reported_tab_and_keeps_it_visible(
    admin_client: FlaskClient, session: Session, held_comment: Poster
) -> None:
    from moderation.models import OutboxEvent
    from moderation.services import flags
    from moderation.types import EventType, FlagReason, utcnow

    reported = held_comment("sharp but fair", status=CommentStatus.VISIBLE, score=0.1)
    for reader in ("a", "b"):
        flags.flag_comment(session, reported.id, FlagReason.OFFENSIVE, None, reader, utcnow())
    session.commit()
    page = admin_client.get("/moderation/?tab=reported").get_data(as_text=True)
    assert 'name="action" value="keep" data-key="d"' in page  # the button, and its key
    assert "<kbd>d</kbd>" in page  # in the keyboard map
    response = admin_client.post(
        "/moderation/decide",
        data={"action": "keep", "target": f"{reported.id}:{reported.version}",
              "csrf_token": csrf_of(admin_client)},
        follow_redirects=True,
    )  # fmt: skip
    text = response.get_data(as_text=True)
    assert "1 comment kept, its reports dismissed" in text
    assert "Undo" not in text  # a Keep is final
    counts = admin_client.get("/moderation/counts?tab=reported").get_data(as_text=True)
    assert 'data-count="reported">0<' in counts
    session.expire_all()
    assert reported.status == CommentStatus.VISIBLE
    last = reported.actions[-1]
    assert (last.to_status, last.reason) == (
        CommentStatus.VISIBLE,
        "kept: readers' reports dismissed",
    )
    assert session.scalars(select(OutboxEvent.type).order_by(OutboxEvent.id.desc())).first() == (
        EventType.KEPT
    )
    # Only reports after the Keep count: two more readers do not reach the three to hold.
    for reader in ("c", "d"):
        flags.flag_comment(session, reported.id, FlagReason.OFFENSIVE, None, reader, utcnow())
    session.commit()
    assert reported.status == CommentStatus.VISIBLE


def test_only_a_visible_comment_can_be_kept(
    admin_client: FlaskClient, session: Session, held_comment: Poster
) -> None:
    held = held_comment("waiting for a moderator")
    before = database_state(session)
    response = admin_client.post(
        "/moderation/decide",
        data={"action": "keep", "target": f"{held.id}:{held.version}",
              "csrf_token": csrf_of(admin_client)},
        follow_redirects=True,
    )  # fmt: skip
    assert "only a visible comment is kept" in response.get_data(as_text=True)
    assert database_state(session) == before
