"""The dashboard's "Learned from your moderators" card and the site page's switch."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.current_scorer import get_scorer
from moderation.models import SettingsChange, Site
from moderation.services import learning, policy
from moderation.types import Role, utcnow
from tests import simulated_site as sim
from tests.review.conftest import (  # noqa: F401 (admin_client: a fixture)
    account,
    admin_client,
    csrf_of,
    form_token,
    sign_in,
)


def learned_site(session: Session) -> Site:
    site = sim.decided(session, sim.NEWS)  # toxicity hold 0.5: heated complaints approved
    scorer = get_scorer()
    learning.learn(session, site, scorer.name, scorer.default_thresholds, minimum=50,
                   recall_tolerance=0.02, now=utcnow(),
                   rescore=policy.rescorer(scorer))  # fmt: skip
    session.commit()
    return site


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_dashboard_shows_before_and_after_and_the_suggested_thresholds(
    admin_client: FlaskClient,  # noqa: F811
    session: Session,
) -> None:
    empty = text(admin_client.get("/moderation/dashboard").get_data(as_text=True))
    assert "Nothing learned yet: flask moderation learn --site SLUG" in empty
    site = learned_site(session)
    run = learning.latest(session, [site.id])[site.id]
    before, after = run.figures["before"], run.figures["after"]  # type: ignore[index]
    page = text(admin_client.get("/moderation/dashboard").get_data(as_text=True))
    assert "Learned from your moderators" in page
    assert "In use : the policy holds what this site's moderators would hide" in page
    assert f"probability ≥ {run.threshold:.2f}" in page
    assert f"Cross-validated on news's own decisions ({run.figures['folds']} folds)" in page  # type: ignore[index]
    assert (
        f"the thresholds {before['false_alarms']} of {before['approved']} "
        f"{before['caught']} of {before['hidden']}" in page
    )
    assert (
        f"learned calibration {after['false_alarms']} of {after['approved']} "
        f"{after['caught']} of {after['hidden']}" in page
    )
    suggested = run.suggested_thresholds["toxicity"]["hold"]  # type: ignore[index]
    assert f"Suggested thresholds without it: toxicity hold 0.50 → {suggested:.2f}" in page


def test_an_admin_switches_it_off_on_the_site_page_and_the_change_is_audited(
    admin_client: FlaskClient,  # noqa: F811
    session: Session,
) -> None:
    site = learned_site(session)
    path = "/moderation/sites/news"
    page = text(admin_client.get(path).get_data(as_text=True))
    assert "Learning from its moderators" in page and "In use" in page
    assert "The learned calibration is on" in page
    token = form_token(admin_client, path)
    refused = admin_client.post(f"{path}/learning", data={"learned_policy": "maybe",
                                                          "csrf_token": token},
                                follow_redirects=True)  # fmt: skip
    assert "learned calibration: choose on or off (nothing changed)" in refused.get_data(
        as_text=True
    )
    admin_client.post(f"{path}/learning", data={"learned_policy": "off"})  # no CSRF token
    session.refresh(site)
    assert site.learned_policy
    switched = admin_client.post(f"{path}/learning", data={"learned_policy": "off",
                                                           "csrf_token": token},
                                 follow_redirects=True)  # fmt: skip
    page = text(switched.get_data(as_text=True))
    assert "learned calibration switched off" in page
    assert "Switched off : it went live, but an admin switched it off" in page
    assert "learned_policy: true → false" in page  # the page's history of changes
    session.refresh(site)
    assert not site.learned_policy
    [change] = session.scalars(
        select(SettingsChange).where(SettingsChange.field == "learned_policy")
    )
    assert change.new_value is False and change.moderator_id is not None


def test_a_moderator_cannot_switch_it(app: Flask, session: Session) -> None:
    site = learned_site(session)
    account(session, "mod@example.org", Role.MODERATOR, [site])
    client = app.test_client()
    sign_in(client, "mod@example.org")
    token = csrf_of(client)
    response = client.post("/moderation/sites/news/learning",
                           data={"learned_policy": "off", "csrf_token": token})  # fmt: skip
    assert response.status_code == 403
    session.refresh(site)
    assert site.learned_policy
