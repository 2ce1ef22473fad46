"""`flask moderation learn --site SLUG`: the figures before and after, whether it went
live or why not, and the admin's switch."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.models import SettingsChange, SiteCalibration
from moderation.types import LearnOutcome
from tests import simulated_site as sim
from tests.conftest import make_site


def learn(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["moderation", "learn", *args])
    return result.exit_code, result.output


def test_learn_prints_the_figures_and_goes_live(app: Flask, session: Session) -> None:
    sim.decided(session, sim.NEWS)  # toxicity hold 0.5: heated complaints approved
    code, output = learn(app, "--site", "news")
    assert code == 0, output
    [run] = session.scalars(select(SiteCalibration))
    assert run.outcome == LearnOutcome.LIVE
    before, after = run.figures["before"], run.figures["after"]  # type: ignore[index]
    assert f"site 'news': {run.approved} approved and {run.hidden} hidden comments" in output
    assert "cross-validated on its own decisions (5 folds)" in output
    assert f"{before['false_alarms']} of {before['approved']}" in output
    assert f"{after['false_alarms']} of {after['approved']}" in output
    # Both counts, before and after: the go-live rule weighs the two.
    assert f"{before['caught']} of {before['hidden']} (" in output
    assert f"{after['caught']} of {after['hidden']} (" in output
    assert f"holds at: this site's moderators would hide it ≥ {run.threshold:.2f}" in output
    assert "suggested without it: toxicity hold 0.50 → " in output
    assert output.rstrip().splitlines()[-1].startswith("live: held-then-approved ")

    code, output = learn(app, "--site", "news", "--off")
    assert (code, output) == (0, "site 'news': learned calibration off; the thresholds decide\n")
    code, output = learn(app, "--site", "news", "--off")
    assert "learned calibration off already" in output
    [change] = session.scalars(
        select(SettingsChange).where(SettingsChange.field == "learned_policy")
    )
    assert (change.old_value, change.new_value, change.moderator_id) == (True, False, None)
    code, output = learn(app, "--site", "news", "--on")
    assert output == "site 'news': learned calibration on\n"


def test_too_few_decisions_say_so_and_an_unknown_site_is_refused(
    app: Flask, session: Session
) -> None:
    make_site(session, "news")
    code, output = learn(app, "--site", "news")
    assert code == 0
    assert "too few decisions to learn from: 0 approved and 0 hidden" in output
    assert "Nothing fitted: the thresholds decide." in output
    assert "cross-validated" not in output
    code, output = learn(app, "--site", "nope")
    assert code == 1 and "nope" in output and "sites: news" in output
