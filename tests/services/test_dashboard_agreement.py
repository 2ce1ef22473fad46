"""The site's own decisions as labels: what the policy would do with each decided
comment's stored score, against what its moderators did. Decisions are made through the
real review service (undo and hide-with-replies included)."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from moderation.current_scorer import get_scorer
from moderation.models import Comment, Site
from moderation.services import flags, review
from moderation.services.dashboard import agreement_by_site
from moderation.services.review import Action, Scope
from moderation.types import CommentStatus, FlagReason, utcnow
from tests import factories
from tests.conftest import make_site
from tests.review.conftest import admin_client  # noqa: F401 (a fixture)

ALL = Scope(None)


def scored(session: Session, site: Site, body: str, toxicity: float, **kwargs: object) -> Comment:
    return factories.scored(
        session, factories.submit(session, site, body, **kwargs), {"toxicity": toxicity}
    )


def decisions_on_news(session: Session) -> Site:
    """A site with every kind of decision: 3 hidden that the policy holds, 2 approved
    that it holds, 1 hidden that it lets through, 1 approved that it lets through, and
    decisions that must not count (undone; a reply hidden with its thread)."""
    news = make_site(session, "news", suspect_words=["kill"])
    person = factories.moderator(session, "boss@example.org")
    rude = scored(session, news, "you utter idiot", 0.9)
    factories.decided(session, rude, Action.HIDE, by=person)
    strict = scored(session, news, "a blunt but fair remark", 0.9)
    factories.decided(session, strict, Action.APPROVE, by=person)
    battery = scored(session, news, "this update will kill the battery", 0.01)
    assert battery.status == CommentStatus.HELD  # the suspect word
    factories.decided(session, battery, Action.APPROVE, by=person)
    # hostile, and no rule knows it (a veiled threat used to be the example: rules hold those now)
    veiled = scored(session, news, "nobody here would miss you", 0.01)
    assert veiled.status == CommentStatus.VISIBLE
    factories.decided(session, veiled, Action.HIDE, by=person)
    reported = scored(session, news, "an unpopular opinion", 0.01)
    for _ in range(3):
        flags.flag_comment(session, reported.id, FlagReason.ABUSIVE, None, None, utcnow())
    session.commit()
    assert reported.status == CommentStatus.HELD  # readers' reports
    factories.decided(session, reported, Action.APPROVE, by=person)
    # Approved, then hidden after all: the later decision stands.
    second_thoughts = scored(session, news, "you people are vermin", 0.9)
    factories.decided(session, second_thoughts, Action.APPROVE, by=person)
    factories.decided(session, second_thoughts, Action.HIDE, by=person)
    # An approval undone: no decision stands on it.
    undone = scored(session, news, "a nasty remark", 0.9)
    result = factories.decided(session, undone, Action.APPROVE, by=person)
    review.undo(session, person, ALL, result.decision_id, utcnow())
    session.commit()
    assert undone.status == CommentStatus.HELD
    # A thread hidden with its replies: the reply was not judged on its own.
    parent = scored(session, news, "go to hell, moron", 0.9, thread="t2")
    reply = scored(session, news, "I agree with the article", 0.01, thread="t2", parent=parent)
    factories.decided(session, parent, Action.HIDE_THREAD, by=person)
    assert reply.status == CommentStatus.HIDDEN
    return news


def test_the_policy_is_measured_against_the_decisions_that_stand(
    session: Session, site: Site
) -> None:
    decisions_on_news(session)
    other = scored(session, site, "you fool", 0.9)
    factories.decided(session, other, Action.HIDE)
    blog, news = agreement_by_site(session, ALL, get_scorer().default_thresholds)
    assert (blog.site, news.site) == ("blog", "news")  # by name
    assert (news.flagged_hid, news.flagged_approved, news.passed_hid, news.passed_approved) == (
        3,
        2,
        1,
        1,
    )
    assert (news.decided, news.agree, news.unscored) == (7, 4, 0)
    assert (news.precision, news.recall) == (3 / 5, 3 / 4)
    assert (blog.decided, blog.flagged_hid, blog.precision, blog.recall) == (1, 1, 1.0, 1.0)


def test_a_moderator_sees_only_their_sites_and_a_site_without_decisions_is_left_out(
    session: Session, site: Site
) -> None:
    news = decisions_on_news(session)
    scored(session, site, "a comment nobody decided", 0.9)
    only_news = Scope(frozenset({news.id}))
    assert [a.site for a in agreement_by_site(session, only_news, {})] == ["news"]
    assert [a.site for a in agreement_by_site(session, ALL, {})] == ["news"]


def test_the_dashboard_shows_the_table(
    admin_client: FlaskClient,  # noqa: F811
    session: Session,
) -> None:
    decisions_on_news(session)
    page = admin_client.get("/moderation/dashboard").get_data(as_text=True)
    assert "What the model would do, against what your moderators did" in page
    assert "<strong>news</strong>: 7 decided comments" in page and "agreed on 4" in page
    assert '<td class="flagged-hid">3</td><td class="flagged-approved">2</td>' in page
    assert '<td class="passed-hid">1</td><td class="passed-approved">1</td>' in page
    assert "precision 60%" in page and "recall 75%" in page
