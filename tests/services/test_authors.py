"""Banned and trusted authors: what happens to their next comments, until when, and the
record of who decided it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.models import ActionRule, AuthorStanding, Comment, Moderator, Site
from moderation.services import authors
from moderation.services.errors import Invalid, NotFound
from moderation.types import BanMode, CommentStatus, ModerationMode, Rule, StandingKind
from tests import factories
from tests.conftest import database_state, make_site

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
THRESHOLDS = {"toxicity": {"hold": 0.5, "hide": 0.9}}


@pytest.fixture
def blog(session: Session) -> Site:
    return make_site(session, "authors-blog", thresholds=THRESHOLDS, banned_words=["spamword"])


@pytest.fixture
def mod(session: Session) -> Moderator:
    return factories.moderator(session, "boss@example.org")


def post(
    session: Session,
    site: Site,
    body: str = "a comment",
    *,
    email: str | None = "Pat@Example.org",
    ip_hash: str | None = "iphash-1",
    now: datetime = T0,
) -> Comment:
    return factories.submit(
        session, site, body, author="Pat", author_email=email, ip_hash=ip_hash, now=now
    )


def scored(session: Session, comment: Comment, toxicity: float, now: datetime) -> Comment:
    return factories.scored(session, comment, {"toxicity": toxicity}, now=now)


def last_rule(comment: Comment) -> Rule:
    return comment.actions[-1].rule


def test_the_author_is_known_by_a_hash_of_the_address_never_the_address(
    session: Session, blog: Site
) -> None:
    first = post(session, blog, email="Pat@Example.org ")
    second = post(session, blog, email="pat@example.org")
    by_address = post(session, blog, email=None, ip_hash="iphash-9")
    assert first.author_key == second.author_key
    assert first.author_key is not None and first.author_key.startswith("email:")
    assert "pat" not in first.author_key.lower()
    assert by_address.author_key == "ip:iphash-9"


def test_a_banned_authors_next_comment_is_held_with_the_rule_that_says_so(
    session: Session, blog: Site, mod: Moderator
) -> None:
    first = scored(session, post(session, blog), 0.1, T0)
    authors.set_standing(session, first, StandingKind.BAN, "7d", "trolling", mod, T0)
    session.commit()

    later = scored(session, post(session, blog, "a harmless remark"), 0.1, T0 + timedelta(days=1))
    assert later.status == CommentStatus.HELD
    assert last_rule(later) == Rule.AUTHOR_BANNED
    assert "banned" in later.actions[-1].reason
    fired = session.scalars(
        select(ActionRule.rule).where(ActionRule.action_id == later.actions[-1].id)
    ).all()
    assert fired == [Rule.AUTHOR_BANNED]
    # Another author (another address) on the same site, and the same author on another
    # site, are not banned.
    other = scored(session, post(session, blog, email="kim@example.org", ip_hash="iphash-2"),
                   0.1, T0)  # fmt: skip
    assert other.status == CommentStatus.VISIBLE
    elsewhere = make_site(session, "elsewhere", thresholds=THRESHOLDS)
    assert scored(session, post(session, elsewhere), 0.1, T0).status == CommentStatus.VISIBLE


def test_a_ban_ends_at_its_expiry(session: Session, blog: Site, mod: Moderator) -> None:
    first = post(session, blog)
    authors.set_standing(session, first, StandingKind.BAN, "1d", "cool off", mod, T0)
    session.commit()
    held = scored(session, post(session, blog), 0.1, T0 + timedelta(hours=23))
    free = scored(session, post(session, blog), 0.1, T0 + timedelta(days=1, seconds=1))
    assert held.status == CommentStatus.HELD
    assert free.status == CommentStatus.VISIBLE


def test_a_forever_ban_lasts_until_lifted_and_lifting_is_recorded(
    session: Session, blog: Site, mod: Moderator
) -> None:
    first = post(session, blog)
    ban = authors.set_standing(session, first, StandingKind.BAN, "forever", "spam", mod, T0)
    session.commit()
    years = T0 + timedelta(days=3650)
    assert scored(session, post(session, blog), 0.1, years).status == CommentStatus.HELD

    other_mod = factories.moderator(session, "other@example.org")
    authors.lift(session, blog, ban.id, other_mod, years)
    session.commit()
    assert scored(session, post(session, blog), 0.1, years).status == CommentStatus.VISIBLE
    session.refresh(ban)
    assert (ban.moderator_id, ban.reason, ban.expires_at) == (mod.id, "spam", None)
    assert (ban.lifted_by_id, ban.lifted_at) == (other_mod.id, years)
    assert authors.site_standings(session, blog, years) == []
    assert authors.site_standing_history(session, blog) == [ban]


def test_a_site_that_refuses_banned_authors_stores_nothing_of_theirs(
    session: Session, blog: Site, mod: Moderator
) -> None:
    blog.ban_mode = BanMode.REFUSE
    first = post(session, blog)
    authors.set_standing(session, first, StandingKind.BAN, "30d", "abuse", mod, T0)
    session.commit()
    before = database_state(session)
    with pytest.raises(authors.AuthorBanned, match="banned you from commenting here"):
        post(session, blog, "new thread please", now=T0 + timedelta(days=29))
    session.rollback()
    assert database_state(session) == before
    # Thirty days on, the ban is over.
    assert post(session, blog, now=T0 + timedelta(days=31)).status == CommentStatus.PENDING


def test_ban_by_address_when_the_author_gave_no_email(
    session: Session, blog: Site, mod: Moderator
) -> None:
    first = post(session, blog, email=None, ip_hash="iphash-7")
    authors.set_standing(session, first, StandingKind.BAN, "7d", "flood", mod, T0)
    session.commit()
    same_address = scored(session, post(session, blog, email=None, ip_hash="iphash-7"), 0.1, T0)
    other_address = scored(session, post(session, blog, email=None, ip_hash="iphash-8"), 0.1, T0)
    assert same_address.status == CommentStatus.HELD
    assert other_address.status == CommentStatus.VISIBLE


def test_trust_skips_the_queue_but_not_a_hide_score_or_a_banned_word(
    session: Session, blog: Site, mod: Moderator
) -> None:
    blog.suspect_words = ["crypto"]
    first = post(session, blog)
    authors.set_standing(session, first, StandingKind.TRUST, "forever", "regular", mod, T0)
    session.commit()

    over_hold = scored(session, post(session, blog, "crypto is fine"), 0.6, T0)
    assert over_hold.status == CommentStatus.VISIBLE
    assert last_rule(over_hold) == Rule.AUTHOR_TRUSTED
    assert "trusted" in over_hold.actions[-1].reason
    assert "label_over_hold" in over_hold.actions[-1].reason

    over_hide = scored(session, post(session, blog), 0.95, T0)
    assert over_hide.status == CommentStatus.HIDDEN
    assert last_rule(over_hide) == Rule.LABEL_OVER_HIDE

    banned_word = scored(session, post(session, blog, "buy spamword now"), 0.1, T0)
    assert banned_word.status == CommentStatus.HIDDEN
    assert last_rule(banned_word) == Rule.BANNED_WORD

    # Without trust, the same comment waits for a moderator.
    stranger = scored(session, post(session, blog, email="x@example.org"), 0.6, T0)
    assert stranger.status == CommentStatus.HELD


def test_trust_also_skips_premoderation(session: Session, mod: Moderator) -> None:
    pre = make_site(session, "pre", thresholds=THRESHOLDS, moderation_mode=ModerationMode.PRE)
    first = post(session, pre)
    authors.set_standing(session, first, StandingKind.TRUST, "7d", "known", mod, T0)
    session.commit()
    assert scored(session, post(session, pre), 0.1, T0).status == CommentStatus.VISIBLE
    assert scored(session, post(session, pre, email="new@example.org"), 0.1, T0).status == (
        CommentStatus.HELD
    )


def test_a_new_ban_replaces_trust_and_the_old_one_stays_in_the_record(
    session: Session, blog: Site, mod: Moderator
) -> None:
    first = post(session, blog)
    trust = authors.set_standing(session, first, StandingKind.TRUST, "forever", "ok", mod, T0)
    ban = authors.set_standing(session, first, StandingKind.BAN, "7d", "changed", mod, T0)
    session.commit()
    session.refresh(trust)
    assert trust.lifted_at == T0 and trust.lifted_by_id == mod.id
    assert authors.site_standings(session, blog, T0) == [ban]
    assert session.scalar(select(AuthorStanding).where(AuthorStanding.id == ban.id)) is ban
    assert ban.expires_at == T0 + timedelta(days=7)


def test_bad_requests_change_nothing(session: Session, blog: Site, mod: Moderator) -> None:
    first = post(session, blog)
    anonymous = post(session, blog, email=None, ip_hash=None)
    other = make_site(session, "other-site")
    before = database_state(session)
    with pytest.raises(Invalid, match="expiry"):
        authors.set_standing(session, first, StandingKind.BAN, "2d", "why", mod, T0)
    with pytest.raises(Invalid, match="say why"):
        authors.set_standing(session, first, StandingKind.BAN, "1d", "  ", mod, T0)
    with pytest.raises(Invalid, match="neither an address"):
        authors.set_standing(session, anonymous, StandingKind.BAN, "1d", "why", mod, T0)
    ban = authors.set_standing(session, first, StandingKind.BAN, "1d", "why", mod, T0)
    with pytest.raises(NotFound):
        authors.lift(session, other, ban.id, mod, T0)
    session.rollback()
    assert database_state(session) == before


def test_the_panel_counts_the_authors_comments_on_the_site(
    session: Session, blog: Site, mod: Moderator
) -> None:
    one = scored(session, post(session, blog), 0.1, T0)
    scored(session, post(session, blog), 0.6, T0)
    scored(session, post(session, blog), 0.95, T0)
    scored(session, post(session, blog, email="someone@example.org"), 0.6, T0)
    scored(session, post(session, make_site(session, "b2")), 0.6, T0)
    panel = authors.panel(session, one, T0)
    assert panel.by == "email"
    assert (panel.counts[CommentStatus.VISIBLE], panel.counts[CommentStatus.HELD],
            panel.counts[CommentStatus.HIDDEN]) == (1, 1, 1)  # fmt: skip
    assert [c.status for c in panel.others] == [CommentStatus.HIDDEN, CommentStatus.HELD]
    assert panel.standing is None


def test_a_ban_is_not_evaded_by_typing_an_email_or_leaving_it_out(
    session: Session, blog: Site, mod: Moderator
) -> None:
    """The email a commenter types is not checked: a ban holds for the address its
    comment came from too, and a ban by address holds whatever email is typed."""
    by_email = post(session, blog, email="troll@example.org", ip_hash="iphash-5")
    authors.set_standing(session, by_email, StandingKind.BAN, "7d", "trolling", mod, T0)
    by_address = post(session, blog, email=None, ip_hash="iphash-6")
    authors.set_standing(session, by_address, StandingKind.BAN, "7d", "spam", mod, T0)
    session.commit()

    later = T0 + timedelta(hours=1)
    no_email = scored(session, post(session, blog, email=None, ip_hash="iphash-5"), 0.1, later)
    other_email = scored(session, post(session, blog, email="new@example.org",
                                       ip_hash="iphash-5"), 0.1, later)  # fmt: skip
    typed_email = scored(session, post(session, blog, email="x@example.org",
                                       ip_hash="iphash-6"), 0.1, later)  # fmt: skip
    assert [c.status for c in (no_email, other_email, typed_email)] == [CommentStatus.HELD] * 3
    assert {last_rule(c) for c in (no_email, other_email, typed_email)} == {Rule.AUTHOR_BANNED}


def test_trust_by_email_is_not_earned_by_typing_the_trusted_authors_email(
    session: Session, blog: Site, mod: Moderator
) -> None:
    regular = post(session, blog, email="regular@example.org", ip_hash="iphash-home")
    authors.set_standing(session, regular, StandingKind.TRUST, "forever", "regular", mod, T0)
    session.commit()
    later = T0 + timedelta(hours=1)

    from_home = post(session, blog, "a pointed remark", email="regular@example.org",
                     ip_hash="iphash-home")  # fmt: skip
    impostor = post(session, blog, "a pointed remark", email="regular@example.org",
                    ip_hash="iphash-elsewhere")  # fmt: skip
    assert scored(session, from_home, 0.6, later).status == CommentStatus.VISIBLE
    assert last_rule(from_home) == Rule.AUTHOR_TRUSTED
    assert scored(session, impostor, 0.6, later).status == CommentStatus.HELD
    assert last_rule(impostor) != Rule.AUTHOR_TRUSTED
