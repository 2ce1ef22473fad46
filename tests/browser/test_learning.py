"""Learned from your moderators, in Chromium: the dashboard's card with the figures
before and after, and the site page's switch."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from moderation.current_scorer import get_scorer
from moderation.models import Moderator, Site
from moderation.services import learning, policy
from moderation.types import utcnow
from tests import simulated_site as sim
from tests.browser.conftest import LiveServer, PageWatch
from tests.browser.test_review_queue import admin, sign_in  # noqa: F401 (admin: a fixture)


@pytest.fixture(autouse=True)
def no_errors(page: Page, watch: PageWatch) -> Iterator[None]:
    page.on("pageerror", lambda error: watch.errors.append(f"uncaught: {error}"))
    yield
    assert watch.errors == []
    assert watch.dialogs == []


@pytest.fixture
def learned_site(session: Session) -> Site:
    site = sim.decided(session, sim.NEWS)  # toxicity hold 0.5: heated complaints approved
    scorer = get_scorer()
    learning.learn(session, site, scorer.name, scorer.default_thresholds, minimum=50,
                   recall_tolerance=0.02, now=utcnow(),
                   rescore=policy.rescorer(scorer))  # fmt: skip
    session.commit()
    return site


def test_the_dashboard_shows_it_and_an_admin_switches_it_off(
    page: Page,
    live_server: LiveServer,
    session: Session,
    admin: Moderator,  # noqa: F811
    learned_site: Site,
) -> None:
    run = learning.latest(session, [learned_site.id])[learned_site.id]
    before, after = run.figures["before"], run.figures["after"]  # type: ignore[index]
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/moderation/dashboard")
    card = page.locator("#learned-news")
    expect(card).to_contain_text("In use")
    table = card.get_by_role("table", name="news: thresholds against the learned calibration")
    expect(table.locator("tr.before .false-alarms")).to_have_text(
        f"{before['false_alarms']} of {before['approved']}"
    )
    expect(table.locator("tr.after .false-alarms")).to_have_text(
        f"{after['false_alarms']} of {after['approved']}"
    )
    expect(card.locator(".suggested")).to_contain_text("toxicity hold 0.50 →")

    page.goto(f"{live_server.url}/moderation/sites/news")
    page.get_by_role("button", name="Switch the learned calibration off").click()
    expect(page.locator(".flash")).to_contain_text("learned calibration switched off")
    expect(page.locator(".learned-state")).to_contain_text("Switched off")
    expect(page.get_by_role("button", name="Switch the learned calibration on")).to_be_visible()
    page.goto(f"{live_server.url}/moderation/dashboard")
    expect(page.locator("#learned-news .learned-state")).to_contain_text("Switched off")
    session.refresh(learned_site)
    assert not learned_site.learned_policy
