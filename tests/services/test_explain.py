"""Why, in the text: the words that drove a decision, found with the real models (the lite
model's own weights, the tiny Detoxify model by leave-one-word-out), kept for the next
opening, and marked in the sanitized body without letting any markup through."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import create_app
from moderation.current_scorer import get_scorer
from moderation.db import db
from moderation.models import ScoreExplanation, Site
from moderation.scoring import Scorer
from moderation.scoring.lite import LiteScorer
from moderation.services import explain, flags, rendering, review, worker
from moderation.services.explain import Term
from moderation.types import CommentStatus, FlagReason, Role, utcnow
from tests import factories
from tests.conftest import IsolatedClient, app_config, make_site, reset_database

INSULT = "Thanks for the post, but you are an idiot."


def score_pending(session: Session) -> None:
    worker.process_batch(session, get_scorer(), "test", batch_size=100, lease_seconds=60,
                         max_attempts=3)  # fmt: skip


def test_the_lite_models_top_term_for_an_insult_is_the_insult() -> None:
    scorer = LiteScorer()
    terms = scorer.explain(INSULT)
    assert terms[0][0] == "idiot"
    assert all(weight > 0 for _, weight in terms)  # only what raised the score
    # Real: without its top term the comment scores far lower, and passes the threshold.
    before = scorer.score([INSULT])[0]["toxicity"]
    after = scorer.score([INSULT.replace("idiot", "")])[0]["toxicity"]
    assert before > 0.9 and after < 0.35
    assert [w for w, _ in scorer.explain("You are a clown and your opinion is worthless")][:2] == [
        "worthless",
        "clown",
    ]
    assert scorer.explain("Lovely photos of the coast, thank you.", "insult") == []


def test_a_held_comment_shows_suspect_words_and_the_lite_models_terms(
    session: Session, site: Site
) -> None:
    site.suspect_words = ["clown"]
    site.banned_words = ["worthless"]
    site.thresholds = {"toxicity": {"hold": 0.35}}  # a strict site: the model drove it too
    session.commit()
    comment = factories.submit(session, site, "You are a clown and your opinion is WORTHLESS")
    kind = factories.submit(session, site, "Lovely photos of the coast, thank you.")
    score_pending(session)
    assert comment.status == CommentStatus.HIDDEN  # the banned word
    found = explain.explain_comments(session, [comment, kind], get_scorer(),
                                     get_scorer().default_thresholds)  # fmt: skip
    terms = found[comment.id].terms
    assert [(t.word, t.kind) for t in terms[:2]] == [("worthless", "banned"), ("clown", "suspect")]
    model = found[comment.id].model_terms
    assert found[comment.id].label == "toxicity" and found[comment.id].method == "linear"
    assert model and all(t.word not in {"worthless", "clown"} for t in model)  # not twice
    assert found[kind.id].terms == ()  # passed: the model drove nothing


def test_the_words_a_targeting_rule_read_are_marked(session: Session, site: Site) -> None:
    threat = factories.submit(session, site, "Careful. I know where you live, pal.")
    insult = factories.submit(session, site, "Go back to school, you clown")
    score_pending(session)
    assert threat.status == insult.status == CommentStatus.HELD
    found = explain.explain_comments(session, [threat, insult], get_scorer(),
                                     get_scorer().default_thresholds)  # fmt: skip
    [veiled] = found[threat.id].word_terms
    assert (veiled.word, veiled.kind, veiled.name) == (
        "i know where you live",
        "veiled-threat",
        "veiled threat",
    )
    assert ("you clown", "insult") in {(t.word, t.kind) for t in found[insult.id].word_terms}
    marked = explain.mark_terms(threat.body_html, found[threat.id].terms)
    assert '<mark class="term term-veiled-threat"' in marked
    assert ">I know where you live</mark>" in marked  # as the reader wrote it


def test_the_rules_words_stay_marked_when_readers_reports_hold_it_again(
    session: Session, site: Site
) -> None:
    comment = factories.submit(session, site, "Bloody ignorant fool, check your sources")
    score_pending(session)
    assert comment.status == CommentStatus.HELD
    factories.decided(session, comment, review.Action.APPROVE)  # harsh but fair, says one
    for n in range(site.flags_to_hold):
        flags.flag_comment(session, comment.id, FlagReason.ABUSIVE, None, f"ip-{n}", utcnow())
    session.commit()
    session.refresh(comment)
    assert comment.status == CommentStatus.HELD  # now for the readers' reports
    found = explain.explain_comments(session, [comment], get_scorer(),
                                     get_scorer().default_thresholds)  # fmt: skip
    assert [(t.word, t.kind) for t in found[comment.id].word_terms] == [
        ("bloody ignorant fool", "insult")
    ]


def test_marks_are_inserted_in_text_only_and_the_body_stays_sanitized() -> None:
    body = rendering.render_markdown(
        'You <script>alert("idiot")</script> **idiot**, see [idiot](https://x.example/?a=1&b=2) '
        "`idiot` and the IDIOTS stay; shut   up"
    )
    terms = [Term("idiot", "model", 1.5, "toxicity", explain.LINEAR), Term("shut up", "suspect")]
    marked = explain.mark_terms(body, terms)
    assert marked.count('<mark class="term term-model"') == 4  # text, strong, link, code
    assert "<strong><mark" in marked and "<code><mark" in marked
    assert "IDIOTS" in marked and "<mark" not in marked.split("IDIOTS")[0][-30:]  # whole words
    assert (
        '<mark class="term term-suspect" title="suspect word on this site\'s list">shut   up<'
        in marked
    )
    assert "<script" not in marked and "&lt;script&gt;" in marked
    assert (
        'href="https://x.example/?a=1&amp;b=2"' in marked
        and 'rel="nofollow ugc noopener"' in marked
    )
    assert explain.mark_terms(body, []) == body
    # Quotes in the reader's text stay text: no attribute comes out of them.
    hostile = explain.mark_terms("<p>x&quot; onmouseover=&quot;a()</p>",
                                 [Term('x" onmouseover="a', "suspect")])  # fmt: skip
    assert tags_and_attributes(hostile) == [("p", []), ("mark", ["class", "title"])]


def tags_and_attributes(markup: str) -> list[tuple[str, list[str]]]:
    found: list[tuple[str, list[str]]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, [name for name, _ in attrs]))

    Collect().feed(markup)
    return found


class CountingScorer:
    """The real scorer, counting the texts it is asked to score."""

    def __init__(self, inner: Scorer) -> None:
        self.inner = inner
        self.name, self.version, self.labels = inner.name, inner.version, inner.labels
        self.default_thresholds = inner.default_thresholds
        self.texts = 0

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        self.texts += len(texts)
        return self.inner.score(texts)


@pytest.fixture
def detoxify_app(database_url: str, backend: str, tiny_detoxify: Any) -> Iterator[Flask]:
    app = create_app(
        app_config(
            database_url,
            SCORER="detoxify",
            DETOXIFY_CHECKPOINT=str(tiny_detoxify.checkpoint),
            DETOXIFY_CONFIG_DIR=str(tiny_detoxify.config_dir),
        )
    )
    with app.app_context():
        reset_database(backend)
        yield app
        db.session.remove()
        db.engine.dispose()


def test_leave_one_word_out_on_a_held_comment_is_worked_out_once_and_kept(
    detoxify_app: Flask,
) -> None:
    session: Session = db.session  # type: ignore[assignment]
    site = make_site(session)
    comment = factories.submit(session, site, "nice, you idiot")
    score_pending(session)
    assert comment.status == CommentStatus.HELD
    scorer = CountingScorer(get_scorer())
    defaults = scorer.default_thresholds

    queued = explain.explain_comments(session, [comment], scorer, defaults)[comment.id]
    assert queued.on_opening and queued.model_terms == () and scorer.texts == 0

    opened = explain.explain_opened(session, comment, scorer, defaults, utcnow())
    session.commit()
    assert scorer.texts == 4  # the text, and once without each of its three words
    assert opened.method == "leave-one-word-out"
    assert opened.label in {"toxicity", "insult"}
    assert opened.model_terms[0].word == "idiot"
    assert opened.model_terms[0].weight is not None and opened.model_terms[0].weight > 0.3

    again = explain.explain_opened(session, comment, scorer, defaults, utcnow())
    assert scorer.texts == 4  # read, not worked out again
    assert again.terms == opened.terms
    assert session.scalar(select(func.count()).select_from(ScoreExplanation)) == 1
    # The queue now shows them too.
    assert explain.explain_comments(session, [comment], scorer, defaults)[comment.id].terms


def test_leave_one_word_out_only_for_held_comments(detoxify_app: Flask) -> None:
    session: Session = db.session  # type: ignore[assignment]
    site = make_site(session)
    comment = factories.submit(session, site, "nice, you idiot")
    score_pending(session)
    moderator = factories.moderator(session, "mod@example.org", Role.ADMIN, [])
    review.decide(session, moderator, review.Scope(None), [(comment.id, comment.version)],
                  review.Action.APPROVE, utcnow())  # fmt: skip
    session.commit()
    assert comment.status == CommentStatus.VISIBLE
    scorer = CountingScorer(get_scorer())
    found = explain.explain_opened(session, comment, scorer, scorer.default_thresholds, utcnow())
    assert scorer.texts == 0 and found.model_terms == () and not found.on_opening


def test_opening_a_held_comment_marks_the_models_words_and_keeps_them(
    detoxify_app: Flask,
) -> None:
    from tests.review.conftest import account, sign_in

    session: Session = db.session  # type: ignore[assignment]
    site = make_site(session)
    comment = factories.submit(session, site, "nice, you idiot")
    score_pending(session)
    account(session, "admin@example.org")
    detoxify_app.test_client_class = IsolatedClient
    client = detoxify_app.test_client()
    sign_in(client, "admin@example.org")

    queue = client.get("/moderation/").get_data(as_text=True)
    assert "open it to see which words raised" in queue and "term-model" not in queue
    page = client.get(f"/moderation/comments/{comment.id}").get_data(as_text=True)
    assert '<mark class="term term-model" title="' in page
    assert re.search(r'lower without this word">idiot</mark>', page)
    session.expire_all()
    kept = session.scalars(select(ScoreExplanation)).one()
    assert kept.terms[0][0] == "idiot" and kept.method == "leave-one-word-out"

    again = client.get(f"/moderation/comments/{comment.id}").get_data(as_text=True)
    assert re.search(r'lower without this word">idiot</mark>', again)
    session.expire_all()
    assert session.scalars(select(ScoreExplanation)).one().created_at == kept.created_at
    queue = client.get("/moderation/").get_data(as_text=True)
    assert re.search(r'lower without this word">idiot</mark>', queue)  # the queue reads it
