"""Scoring keys as an admin makes them (shown once, kept hashed, revocable), and the
feedback summary the moderators' dashboard shows."""

from __future__ import annotations

import hashlib
import re

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.models import ScoreFeedback, ScoringKey, Site
from moderation.scoring import load_scorer
from moderation.services import perspective
from moderation.services.errors import Invalid, NotFound
from moderation.types import utcnow
from tests.conftest import database_state, make_site
from tests.perspective.conftest import new_key


def test_a_new_key_is_shown_once_and_only_its_hash_is_kept(session: Session, site: Site) -> None:
    key, plaintext = perspective.create_key(session, "blog", "coral", now=utcnow())
    session.commit()
    assert plaintext.startswith("msk_") and len(plaintext) > 40
    assert key.key_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    assert key.rate_per_second == 10.0 and key.request_count == 0
    assert plaintext not in repr(database_state(session))
    assert perspective.verify_key(session, plaintext).id == key.id
    assert perspective.verify_key(session, f"  {plaintext}\n").id == key.id  # pasted
    other = new_key(session)
    assert other != plaintext


def test_a_revoked_key_is_refused_from_then_on(session: Session, site: Site) -> None:
    plaintext = new_key(session)
    key = perspective.verify_key(session, plaintext)
    perspective.revoke_key(session, key.id, now=utcnow())
    session.commit()
    with pytest.raises(perspective.KeyNotValid):
        perspective.verify_key(session, plaintext)
    assert perspective.list_keys(session)[0].revoked_at is not None


def test_keys_need_a_known_site_a_name_and_a_positive_rate(session: Session, site: Site) -> None:
    with pytest.raises(NotFound):
        perspective.create_key(session, "nope", "x", now=utcnow())
    with pytest.raises(Invalid, match="name"):
        perspective.create_key(session, "blog", "  ", now=utcnow())
    with pytest.raises(Invalid, match="rate"):
        perspective.create_key(session, "blog", "x", 0, now=utcnow())
    with pytest.raises(NotFound):
        perspective.revoke_key(session, 999, now=utcnow())


def test_keys_are_listed_per_site(session: Session, site: Site) -> None:
    make_site(session, "other")
    new_key(session, "blog", name="a")
    new_key(session, "other", name="b")
    assert [k.name for k in perspective.list_keys(session)] == ["a", "b"]
    assert [k.name for k in perspective.list_keys(session, "other")] == ["b"]


def test_the_cli_creates_lists_and_revokes_keys(app: Flask, session: Session, site: Site) -> None:
    runner = app.test_cli_runner()
    created = runner.invoke(
        args=["moderation", "perspective-key", "create", "--site", "blog", "--name", "coral",
              "--rate", "2.5"]
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    plaintext = re.search(r"key: (msk_\S+)", created.output)
    assert plaintext is not None and "shown once" in created.output
    key = perspective.verify_key(session, plaintext.group(1))
    assert (key.name, key.rate_per_second) == ("coral", 2.5)

    listed = runner.invoke(args=["moderation", "perspective-key", "list"])
    assert listed.exit_code == 0
    assert "coral" in listed.output and "active" in listed.output
    assert plaintext.group(1) not in listed.output

    revoked = runner.invoke(args=["moderation", "perspective-key", "revoke", str(key.id)])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    session.expire_all()
    assert "revoked" in runner.invoke(args=["moderation", "perspective-key", "list"]).output
    with pytest.raises(perspective.KeyNotValid):
        perspective.verify_key(session, plaintext.group(1))

    unknown = runner.invoke(args=["moderation", "perspective-key", "create", "--site", "nope"])
    assert unknown.exit_code != 0 and "no site 'nope'" in unknown.output


def _suggest(session: Session, key: ScoringKey, text: str, value: float, attr: str) -> None:
    perspective.suggest_scores(session, key, load_scorer("lite"), text=text,
                               suggestions={attr: value}, now=utcnow())  # fmt: skip


def test_the_summary_counts_suggestions_and_the_models_agreement(
    session: Session, site: Site
) -> None:
    key = perspective.verify_key(session, new_key(session))
    assert perspective.feedback_summary(session, site.id).total.rate is None
    _suggest(session, key, "you are a stupid idiot", 1, "TOXICITY")  # model agrees
    _suggest(session, key, "thanks for the great post", 0, "TOXICITY")  # agrees
    _suggest(session, key, "thanks for the great post", 1, "TOXICITY")  # disagrees
    # The lite model has no threat label: counted, not compared.
    _suggest(session, key, "i will find you", 1, "THREAT")
    session.commit()
    summary = perspective.feedback_summary(session, site.id)
    assert (summary.total.count, summary.total.compared, summary.total.agreed) == (4, 3, 2)
    assert summary.total.rate == pytest.approx(2 / 3)
    assert summary.by_attribute["THREAT"].rate is None
    assert summary.by_attribute["TOXICITY"].count == 3
    other = make_site(session, "other")
    assert perspective.feedback_summary(session, other.id).total.count == 0


def test_bad_suggestions_store_nothing(session: Session, site: Site) -> None:
    key = perspective.verify_key(session, new_key(session))
    for suggestions, says in (
        ({"TOXICITY": 1.5}, "from 0 to 1"),
        ({"TOXICITY": None}, "is required"),
        ({"FLIRTATION": 1}, "unknown attribute"),
        ({}, "at least one"),
    ):
        with pytest.raises(Invalid, match=says):
            perspective.suggest_scores(session, key, load_scorer("lite"), text="t",
                                       suggestions=suggestions, now=utcnow())  # fmt: skip
    with pytest.raises(Invalid, match="255"):
        perspective.suggest_scores(session, key, load_scorer("lite"), text="t",
                                   suggestions={"TOXICITY": 1}, client_token="x" * 256,
                                   now=utcnow())  # fmt: skip
    session.rollback()
    assert session.scalars(select(ScoreFeedback)).all() == []
