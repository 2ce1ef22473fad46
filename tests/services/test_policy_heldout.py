"""The default policy (the lite model, its default thresholds, the default word lists and
the targeting rules) against the goal of issue 15, on the held-out set: at most 2 % of
acceptable comments held, at least 85 % of abusive ones held or hidden, threats included.
tests/data/policy_heldout.csv was written before the rules and measured once they were
done (README, "How well it moderates"); this keeps the figure from sliding back."""

from __future__ import annotations

import csv
from pathlib import Path

from flask import Flask
from sqlalchemy.orm import Session

from config.default import DEFAULT_SUSPECT_WORDS
from moderation.models import Site
from moderation.scoring.lite import LiteScorer
from moderation.services import comments, policy, worker
from moderation.services.policy import decide
from moderation.services.sites import ensure_site
from moderation.types import CommentStatus, ModerationMode, utcnow

DATA = Path(__file__).resolve().parents[1] / "data"


def default_site() -> Site:
    """The policy a new site starts with, as `flask moderation bootstrap` makes it."""
    return Site(slug="demo", moderation_mode=ModerationMode.POST, thresholds={},
                banned_words=[], suspect_words=list(DEFAULT_SUSPECT_WORDS))  # fmt: skip


def held_share(path: Path) -> dict[str, tuple[int, int]]:
    """Per kind of comment (and per label): how many were held or hidden, of how many."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    scorer = LiteScorer()
    scores = scorer.score([row["text"] for row in rows])
    site = default_site()
    rescore = policy.rescorer(scorer)  # as the worker and the POST decide
    counts: dict[str, tuple[int, int]] = {}
    for row, score in zip(rows, scores, strict=True):
        decision = decide(site, row["text"], score, scorer.default_thresholds, rescore=rescore)
        flagged = decision.status != CommentStatus.VISIBLE
        kind = "threat" if row["kind"].startswith("threat") else row["kind"]
        for key in (row["label"], kind):
            held, total = counts.get(key, (0, 0))
            counts[key] = (held + flagged, total + 1)
    return counts


def test_the_default_policy_meets_the_goal_on_the_held_out_set() -> None:
    counts = held_share(DATA / "policy_heldout.csv")
    held_ok, acceptable = counts["acceptable"]
    held_bad, abusive = counts["abusive"]
    held_threats, threats = counts["threat"]
    assert acceptable >= 90 and abusive >= 60 and threats >= 30
    assert held_ok / acceptable <= 0.02
    assert held_bad / abusive >= 0.85
    assert held_threats / threats >= 0.85


def test_what_the_old_policy_held_passes_on_the_development_set() -> None:
    # Swearing at things, insults discussed, violent verbs about software, history and the
    # news, pointed politics: none held (the rules were written on this set). One film
    # synopsis the model itself scores 0.92 is the set's one false alarm (README).
    counts = held_share(DATA / "policy_dev.csv")
    kinds = {"profanity-at-things", "insult-discussed", "political-pointed",
             "violent-verb-about-software", "violent-verb-about-history",
             "violent-verb-about-news"}  # fmt: skip
    assert {kind: counts[kind][0] for kind in kinds} == dict.fromkeys(kinds, 0)
    assert counts["acceptable"][0] <= 1
    assert counts["abusive"][0] == counts["abusive"][1]


# Readers arguing under a report of an airstrike: angry, pointed, about killing and war,
# and not abuse. The demo's conversation must stay visible under the default policy.
WAR_REPORT_THREAD = [
    "The airstrike killed at least forty civilians, including children queuing for bread. "
    "How is this not a war crime?",
    "Both governments are lying about the casualty figures and the press repeats them.",
    "Our taxes paid for the bombs that destroyed that hospital. I am ashamed.",
    "The defence minister should resign today, and the generals who ordered this should be "
    "tried in The Hague.",
    "Sanctions have done nothing; the regime keeps shelling cities while we talk.",
    "Frankly your report is one-sided: you quote the army three times and not one survivor.",
    "My grandfather was killed in the last war on this border. Nobody learns anything.",
    "Stop pretending this is about security. It is about land, and people are dying for it.",
    "The ceasefire collapsed because both sides wanted it to. Damn them all for it.",
    "Hell of a piece of reporting, thank you for going there when nobody else would.",
]


def test_the_demo_sites_war_report_conversation_stays_visible(app: Flask, session: Session) -> None:
    site, _ = ensure_site(session, "demo", "Demo blog",
                          suspect_words=app.config["DEFAULT_SUSPECT_WORDS"])  # fmt: skip
    posted = [
        comments.submit(
            session,
            site_slug=site.slug,
            thread_key="airstrike-report",
            author_name=f"Reader {n}",
            body=body,
            now=utcnow(),
        )  # fmt: skip
        for n, body in enumerate(WAR_REPORT_THREAD)
    ]
    session.commit()
    worker.process_batch(session, LiteScorer(), "w1", batch_size=50, lease_seconds=60,
                         max_attempts=3)  # fmt: skip
    session.expire_all()
    assert {c.body: c.status for c in posted} == dict.fromkeys(
        WAR_REPORT_THREAD, CommentStatus.VISIBLE
    )
