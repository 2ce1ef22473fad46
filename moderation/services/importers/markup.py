"""Imported HTML to the Markdown this service stores.

WordPress and Disqus keep comments as HTML; this service keeps the Markdown an author
wrote and renders (and sanitizes) it itself. So imported HTML is never stored or shown:
it becomes Markdown here (markdownify, links and emphasis kept, everything else reduced
to its text), and ``rendering.render_markdown`` makes the HTML readers see, exactly as
for a comment posted here."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from markdownify import MarkdownConverter

_BLOCK = re.compile(r"<\s*(p|div|ul|ol|blockquote|pre|br|h[1-6]|table)\b", re.IGNORECASE)
_BLANK_LINES = re.compile(r"\n\s*\n")
_MANY_NEWLINES = re.compile(r"\n{3,}")


def wordpress_autop(text: str) -> str:
    """WordPress stores a comment as typed, with newlines, and adds paragraphs when it
    shows it (``wpautop``): do the same before converting, so paragraphs survive."""
    if _BLOCK.search(text):
        return text
    paragraphs = [p.strip() for p in _BLANK_LINES.split(text.replace("\r\n", "\n")) if p.strip()]
    return "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in paragraphs)


class _Converter(MarkdownConverter):
    """markdownify keeps the text of every tag it strips; a script's or a style's text is
    not the comment's."""

    def convert_script(self, el: Any, text: str, parent_tags: Any) -> str:
        return ""

    def convert_style(self, el: Any, text: str, parent_tags: Any) -> str:
        return ""


_converter = _Converter(
    heading_style="ATX",
    bullets="-",
    strip=["img", "iframe", "object", "embed", "form", "input"],
    escape_asterisks=True,
    escape_underscores=True,
    escape_misc=True,
)


# markdownify's own escaping of text (Markdown's special characters), for plain text.
_escape: Callable[[str, set[str]], str] = _converter.escape  # type: ignore[attr-defined]


def html_to_markdown(html: str) -> str:
    """Markdown for a comment's ``html``: paragraphs, line breaks, links, emphasis, code,
    quotes and lists kept; images, scripts, styles and every other tag reduced to text
    (or dropped, for scripts and styles). Text that looks like Markdown is escaped."""
    if not html.strip():
        return ""
    markdown = str(_converter.convert(html))
    return _MANY_NEWLINES.sub("\n\n", markdown).strip()


def _plain_text(text: str) -> str:
    """What ``html_to_markdown(wordpress_autop(text))`` gives for text without markup,
    without parsing HTML: most comments are plain text, and BeautifulSoup is the
    slowest step of an import."""
    paragraphs = [p.strip() for p in _BLANK_LINES.split(text.replace("\r\n", "\n")) if p.strip()]
    return "\n\n".join(
        "  \n".join(
            _escape(" ".join(line.split()), set()) for line in paragraph.split("\n") if line.strip()
        )
        for paragraph in paragraphs
    )


def wordpress_to_markdown(content: str) -> str:
    """Markdown for a WordPress comment as stored: text with newlines, maybe HTML."""
    if "<" not in content and "&" not in content:
        return _plain_text(content)
    return html_to_markdown(wordpress_autop(content))
