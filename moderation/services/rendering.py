"""Markdown (a safe subset) to sanitized HTML. No raw HTML survives: markdown-it-py
renders with HTML disabled and nh3 (ammonia) cleans the result against an allow-list."""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt

_markdown = (
    MarkdownIt("commonmark", {"html": False, "linkify": True, "typographer": False})
    .enable("linkify")
    # Images are tracking pixels and layout hazards in comments; headings and tables
    # let one comment shout over the page.
    .disable(["image", "heading", "lheading", "html_block", "html_inline"])
)

ALLOWED_TAGS = {
    "p", "br", "em", "strong", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "hr", "del",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
LINK_REL = "nofollow ugc noopener"


# A body that is one line of words and plain punctuation, with nothing Markdown or
# linkify would act on: no markup characters, no "." or ":" or "@" joined to what follows
# (a domain, a URL, an address), no "//" (linkify's protocol-relative links), no list or
# quote marker up front, no spaces at the ends, no lone surrogate (nh3 refuses those).
# Its HTML is the text in a paragraph, as the renderer makes it (tested on every text of
# the corpora and on generated ones), without running markdown-it and nh3 (~4 % of a
# post's CPU).
_PLAIN = re.compile(
    r"(?![-+*>=#\d\s])"  # not a list, quote, heading or code block; no space first
    r"(?:[^\\`*_\[\]<>&#!~|@:./\x00-\x1f\x7f-\xa0\u2028\u2029\ud800-\udfff]"
    r"|[.:](?!\S)|/(?!/))*"
    r"(?<!\s)"  # no space last
)


def render_markdown(body: str) -> str:
    """The HTML readers see for ``body``: safe to insert into any page."""
    if _PLAIN.fullmatch(body):
        return f"<p>{body}</p>" if body else ""
    html = _markdown.render(body)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel=LINK_REL,
        strip_comments=True,
    ).strip()
