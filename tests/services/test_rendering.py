"""A body of plain words skips markdown-it and nh3 (services/rendering.py's ``_PLAIN``):
what readers see must be exactly what the full renderer makes of it, whatever the text."""

from __future__ import annotations

import csv
import random

import nh3
import pytest

from moderation.services import rendering
from moderation.services.rendering import render_markdown
from tests.conftest import SHARED_DATA


def full_renderer(body: str) -> str:
    """markdown-it, then nh3: what render_markdown does for any body."""
    return nh3.clean(
        rendering._markdown.render(body),
        tags=rendering.ALLOWED_TAGS,
        attributes=rendering.ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel=rendering.LINK_REL,
        strip_comments=True,
    ).strip()


def corpus_texts() -> list[str]:
    texts: list[str] = []
    for path in sorted((SHARED_DATA / "toxicity").glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                text = row.get("comment_text") or row.get("tweet") or ""
                texts.append(text)
                texts += [line.strip() for line in text.splitlines()]
    return texts


def generated_texts(count: int) -> list[str]:
    # Words, digits and punctuation, with the characters the shortcut must leave alone
    # (no-break and ideographic spaces, line separators, full-width and ideographic stops,
    # zero-width characters, C1 controls) mixed in.
    alphabet = (
        "abcdefghij KLMNOP localhost 0123456789 .,;:'\"?!()-+=//%$^{}"
        "éüß中😀\u00a0\u2028\u0085\u3000。．\u200b\ufeff"
    )
    rnd = random.Random(20261130)
    return ["".join(rnd.choices(alphabet, k=rnd.randint(1, 60))) for _ in range(count)]


@pytest.mark.parametrize("source", ["corpus", "generated"])
def test_a_plain_body_renders_exactly_as_the_full_renderer_renders_it(source: str) -> None:
    texts = corpus_texts() if source == "corpus" else generated_texts(60_000)
    plain = [text for text in texts if rendering._PLAIN.fullmatch(text)]
    assert len(plain) > len(texts) // 10  # the shortcut is taken, and often
    assert [t for t in plain if render_markdown(t) != full_renderer(t)] == []


@pytest.mark.parametrize(
    "body",
    [
        "see example.com now",  # linkify
        "see //localhost now",  # a protocol-relative link
        "(//LOCALHOST)",
        "x,//localhost",
        "write to ada@example.org",
        "- a list",
        "1. a list",
        "> a quote",
        "    code",
        "a *word*",
        "a_b_c",
        "<b>bold</b> & more",
        "a\nb",
        "wait...",
        "trailing space ",
        "no\u00a0break",
    ],
)
def test_markup_links_and_markers_go_through_the_full_renderer(body: str) -> None:
    assert not rendering._PLAIN.fullmatch(body)
    assert render_markdown(body) == full_renderer(body)
