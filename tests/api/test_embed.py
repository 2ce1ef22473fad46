"""The widget script and the demo blog are served by the service."""

from __future__ import annotations

import gzip

from flask.testing import FlaskClient


def test_embed_js_is_served_as_javascript_any_site_may_load(client: FlaskClient) -> None:
    response = client.get("/embed.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    source = response.get_data()
    # Small, as promised in README's widget section (raw and gzip-compressed), and sent
    # compressed to browsers that take it. (Sorting, dark mode and languages took it from
    # 35.1/10.8 KB to 41.1/12.7 KB; other languages' texts are fetched apart.)
    assert len(source) < 42_000
    compressed = client.get("/embed.js", headers={"Accept-Encoding": "gzip, br"})
    assert compressed.content_encoding == "gzip" and "Accept-Encoding" in compressed.vary
    assert len(compressed.get_data()) < 13_000
    assert gzip.decompress(compressed.get_data()) == source
    assert (
        client.get("/embed.js", headers={"If-None-Match": response.get_etag()[0]}).status_code
        == 304
    )
    # User data never goes through the HTML parser of the page.
    for sink in (b"innerHTML", b"outerHTML", b"insertAdjacentHTML", b"document.write", b"eval("):
        assert sink not in source


def test_the_demo_blog_embeds_the_widget_with_the_two_lines(client: FlaskClient) -> None:
    page = client.get("/demo/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<div id="comments" data-site="demo" data-thread="demo-post"></div>' in html
    assert '<script src="http://localhost/embed.js" async></script>' in html
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert 'href="/demo/"' in client.get("/").get_data(as_text=True)
