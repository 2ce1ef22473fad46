"""Markdown (a safe subset) to sanitized HTML. No raw HTML survives: markdown-it-py
renders with HTML disabled and nh3 (ammonia) cleans the result against an allow-list."""

from __future__ import annotations

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


def render_markdown(body: str) -> str:
    """The HTML readers see for ``body``: safe to insert into any page."""
    html = _markdown.render(body)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel=LINK_REL,
        strip_comments=True,
    ).strip()
