"""The embeddable comment widget (``/embed.js``) and the demo blog that shows it
(``/demo/``). The widget is one vanilla JavaScript file: no build step, no framework."""

from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for

STATIC = Path(__file__).resolve().parent / "static"
# The widget's catalogues: English text -> the language's, one JSON file per language
# (English itself is embed.js's own text). Fetched only by readers of that language.
CATALOGUES = STATIC / "i18n"

bp = Blueprint(
    "embed",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/embed/static",
)


@lru_cache(maxsize=16)
def _file(path: Path, modified_ns: int) -> tuple[bytes, bytes]:
    """A file of the widget as is and gzip-compressed (what travels when nothing in front
    of the service compresses), read again whenever the file changes."""
    source = path.read_bytes()
    return source, gzip.compress(source, 9, mtime=0)


@bp.get("/embed.js")
def script() -> Response:
    return _widget_file(STATIC / "embed.js", "text/javascript")


@bp.get("/embed/i18n/<lang>.json")
def catalogue(lang: str) -> Response:
    path = CATALOGUES / f"{lang}.json"
    if not (lang.isalpha() and lang.islower() and path.is_file()):
        abort(404)
    return _widget_file(path, "application/json")


def _widget_file(path: Path, mimetype: str) -> Response:
    source, compressed = _file(path, path.stat().st_mtime_ns)
    use_gzip = request.accept_encodings.quality("gzip") > 0
    response = Response(compressed if use_gzip else source, mimetype=mimetype)
    if use_gzip:
        response.content_encoding = "gzip"
    response.vary.add("Accept-Encoding")
    # Short caching: the URL has no version in it, and blogs should get fixes soon.
    response.cache_control.public = True
    response.cache_control.max_age = 300
    response.add_etag()
    response.make_conditional(request)
    # Other sites' pages load it: allowed for <script crossorigin integrity=...> too, and
    # for pages that require cross-origin resources to opt in (COEP).
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


@bp.get("/demo/")
def demo() -> str:
    """A sample blog post with the widget embedded the way a blog would embed it."""
    script_url = url_for("embed.script", _external=True)
    return render_template(
        "embed/demo.html",
        site=current_app.config["DEMO_SITE_SLUG"],
        thread="demo-post",
        script_url=script_url,
    )
