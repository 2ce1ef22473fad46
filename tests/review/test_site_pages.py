"""The Sites page: admins list, create, change and delete sites and copy each one's embed
code; a moderator sees only their own sites and cannot change them."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from moderation.models import Comment, Site
from moderation.services import sites
from moderation.types import ModerationMode, Role
from tests import factories
from tests.conftest import database_state, make_site
from tests.review.conftest import account, csrf_of, form_token, sign_in

EMBED = (
    "&lt;div id=&#34;comments&#34; data-site=&#34;{slug}&#34;&gt;&lt;/div&gt;\n"
    "&lt;script src=&#34;{url}/embed.js&#34; async&gt;&lt;/script&gt;"
)


def create(client: FlaskClient, **fields: str) -> str:
    data = {"slug": "my-blog", "name": "My Blog", "allowed_origins": "https://blog.example.org",
            "moderation_mode": "post", **fields}  # fmt: skip
    response = client.post(
        "/moderation/sites",
        data={**data, "csrf_token": form_token(client, "/moderation/sites")},
        follow_redirects=True,
    )
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_admins_find_sites_in_the_navigation_with_counts_origins_and_embed_code(
    app: Flask, admin_client: FlaskClient, session: Session, site: Site
) -> None:
    app.config["PUBLIC_URL"] = "https://comments.example.org"
    factories.submit(session, site, "hello", thread="one")
    make_site(session, "news", allowed_origins=["https://news.example"])
    queue = admin_client.get("/moderation/").get_data(as_text=True)
    assert '<a href="/moderation/sites">Sites</a>' in queue
    page = admin_client.get("/moderation/sites").get_data(as_text=True)
    assert 'Blog <span class="muted">(blog)</span>' in page
    assert "https://blog.example" in page and "https://news.example" in page
    assert "1 in 1 thread: 1 pending" in page and "0 in 0 threads" in page
    assert EMBED.format(slug="blog", url="https://comments.example.org") in page
    assert EMBED.format(slug="news", url="https://comments.example.org") in page
    assert 'href="/moderation/sites/blog/webhooks"' in page
    assert 'href="/moderation/sites/blog"' in page
    assert "Create a site" in page


def test_without_a_public_url_the_embed_code_uses_the_address_of_the_page(
    app: Flask, admin_client: FlaskClient, site: Site
) -> None:
    app.config["PUBLIC_URL"] = ""
    page = admin_client.get("/moderation/sites", base_url="http://localhost:8443")
    assert EMBED.format(slug="blog", url="http://localhost:8443") in page.get_data(as_text=True)


def test_an_admin_creates_a_site_and_lands_on_its_page(
    admin_client: FlaskClient, session: Session
) -> None:
    page = create(admin_client, allowed_origins="HTTPS://Blog.Example.org:443\n\nhttp://localhost:8000",
                  moderation_mode="pre")  # fmt: skip
    assert "created site &#39;my-blog&#39;: paste its embed code" in page
    assert "Settings of My Blog" in page and "data-site=&#34;my-blog&#34;" in page
    site = sites.get_site(session, "my-blog")
    assert site.allowed_origins == ["https://blog.example.org", "http://localhost:8000"]
    assert site.moderation_mode == ModerationMode.PRE
    assert "created:" in page  # its settings history starts with the creation


def test_a_bad_new_site_is_refused_next_to_each_field_and_nothing_is_stored(
    admin_client: FlaskClient, session: Session, site: Site
) -> None:
    before = database_state(session)
    page = create(admin_client, slug="My Blog", name="", allowed_origins="https://x.example/blog")
    assert 'role="alert">slug &#39;My Blog&#39; is not valid: use 1 to 64 lowercase' in page
    assert 'role="alert">give the site a name' in page
    assert 'role="alert">origin &#39;https://x.example/blog&#39; must be only scheme' in page
    assert page.count('aria-invalid="true"') == 3
    page = create(admin_client, slug="blog")
    assert 'role="alert">a site &#39;blog&#39; already exists' in page
    assert database_state(session) == before


def test_the_site_page_edits_name_origins_mode_and_policy_with_errors_by_the_field(
    admin_client: FlaskClient, session: Session, site: Site
) -> None:
    path = "/moderation/sites/blog"
    page = admin_client.get(path).get_data(as_text=True)
    fields = ("name", "allowed_origins", "moderation_mode", "flags_to_hold", "banned_words",
              "suspect_words", "toxicity__hold", "toxicity__hide", "toxicity__warn")  # fmt: skip
    for field in fields:
        assert f'name="{field}"' in page
    assert 'href="/moderation/sites/blog/webhooks"' in page
    form = {"name": "The Blog", "allowed_origins": "https://blog.example\nhttps://www.blog.example",
            "moderation_mode": "post", "flags_to_hold": "3", "toxicity__hold": "0.5"}  # fmt: skip
    before = database_state(session)
    token = form_token(admin_client, path)
    refused = admin_client.post(
        path, data={**form, "allowed_origins": "blog.example", "csrf_token": token}
    )
    text = refused.get_data(as_text=True)
    assert refused.status_code == 200
    assert 'role="alert">origin &#39;blog.example&#39; must start with http:// or https://' in text
    assert database_state(session) == before
    saved = admin_client.post(path, data={**form, "csrf_token": form_token(admin_client, path)},
                              follow_redirects=True)  # fmt: skip
    assert "saved: name, thresholds, allowed_origins" in saved.get_data(as_text=True)
    session.expire_all()
    assert site.name == "The Blog"
    assert site.allowed_origins == ["https://blog.example", "https://www.blog.example"]


def test_a_bad_word_list_pattern_is_refused_next_to_its_field_and_nothing_changes(
    admin_client: FlaskClient, session: Session, site: Site
) -> None:
    path = "/moderation/sites/blog"
    form = {"name": "Blog", "allowed_origins": "https://blog.example", "moderation_mode": "post",
            "flags_to_hold": "3", "suspect_words": "crypto\n/k+i+l+ (you|u)/"}  # fmt: skip
    before = database_state(session)
    bad = {**form, "banned_words": "spamco\n/(free money/"}
    refused = admin_client.post(path, data={**bad, "csrf_token": form_token(admin_client, path)})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 200
    field = text[text.index('name="banned_words"') :]
    message = "banned word /(free money/ is not a pattern we can use (missing ): (free money)"
    assert field.index(f'role="alert">{message}') < field.index('name="suspect_words"')
    assert database_state(session) == before
    saved = admin_client.post(path, data={**form, "banned_words": "/sp[a4]mco/",
                                          "csrf_token": form_token(admin_client, path)},
                              follow_redirects=True)  # fmt: skip
    assert "thresholds, banned_words, suspect_words" in saved.get_data(as_text=True)
    session.expire_all()
    assert (site.banned_words, site.suspect_words) == (
        ["/sp[a4]mco/"],
        ["crypto", "/k+i+l+ (you|u)/"],
    )


def test_the_old_settings_address_still_shows_the_settings(
    admin_client: FlaskClient, site: Site
) -> None:
    page = admin_client.get("/moderation/sites/blog/settings")
    assert page.status_code == 200 and "Settings of Blog" in page.get_data(as_text=True)


def test_a_moderator_sees_only_their_own_sites_read_only(
    app: Flask, session: Session, site: Site
) -> None:
    make_site(session, "news", allowed_origins=["https://news.example"])
    account(session, "mod@example.org", Role.MODERATOR, [site])
    client = app.test_client()
    sign_in(client, "mod@example.org")
    page = client.get("/moderation/sites").get_data(as_text=True)
    assert "(blog)" in page and "news" not in page
    assert "data-site=&#34;blog&#34;" in page  # they may paste it into their blog
    assert "Create a site" not in page and 'href="/moderation/sites/blog"' not in page
    assert 'href="/moderation/sites/blog/delete"' not in page


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/moderation/sites"),
        ("get", "/moderation/sites/blog"),
        ("post", "/moderation/sites/blog"),
        ("get", "/moderation/sites/blog/delete"),
        ("post", "/moderation/sites/blog/delete"),
    ],
)
def test_a_moderator_cannot_create_change_or_delete_sites(
    app: Flask, session: Session, site: Site, method: str, path: str
) -> None:
    account(session, "mod@example.org", Role.MODERATOR, [site])
    client = app.test_client()
    sign_in(client, "mod@example.org")
    token = csrf_of(client)
    before = database_state(session)
    response = getattr(client, method)(
        path, data={"slug": "mine", "name": "Mine", "moderation_mode": "post",
                    "with_comments": "y", "csrf_token": token},
    )  # fmt: skip
    assert response.status_code == 403
    assert database_state(session) == before


def test_posts_without_the_csrf_token_change_nothing(
    admin_client: FlaskClient, session: Session, site: Site
) -> None:
    before = database_state(session)
    admin_client.post(
        "/moderation/sites", data={"slug": "x", "name": "X", "moderation_mode": "post"}
    )
    admin_client.post("/moderation/sites/blog/delete", data={"with_comments": "y"})
    assert database_state(session) == before


def test_delete_asks_refuses_while_comments_exist_and_deletes_with_them_when_ticked(
    admin_client: FlaskClient, session: Session, site: Site
) -> None:
    factories.submit(session, site, "one", thread="a")
    factories.submit(session, site, "two", thread="b")
    path = "/moderation/sites/blog/delete"
    asked = admin_client.get(path).get_data(as_text=True)
    assert "It has <strong>2 comments</strong> in 2 threads" in asked
    before = database_state(session)
    refused = admin_client.post(path, data={"csrf_token": form_token(admin_client, path)})
    assert refused.status_code == 200
    assert ('role="alert">site &#39;blog&#39; has 2 comments in 2 threads; deleting the site '
            "deletes them too: tick this box") in refused.get_data(as_text=True)  # fmt: skip
    assert database_state(session) == before
    done = admin_client.post(
        path, data={"with_comments": "y", "csrf_token": form_token(admin_client, path)},
        follow_redirects=True,
    )  # fmt: skip
    assert "deleted site &#39;blog&#39; and its 2 comments" in done.get_data(as_text=True)
    assert session.scalar(select(func.count(Site.id))) == 0
    assert session.scalar(select(func.count(Comment.id))) == 0


def test_a_site_without_comments_is_deleted_after_the_confirmation_page(
    admin_client: FlaskClient, session: Session, site: Site
) -> None:
    path = "/moderation/sites/blog/delete"
    assert "It has no comments." in admin_client.get(path).get_data(as_text=True)
    done = admin_client.post(path, data={"csrf_token": form_token(admin_client, path)},
                             follow_redirects=True)  # fmt: skip
    assert "deleted site &#39;blog&#39;" in done.get_data(as_text=True)
    assert session.scalar(select(func.count(Site.id))) == 0


@pytest.mark.parametrize(
    "path", ["/moderation/sites", "/moderation/sites/blog", "/moderation/sites/blog/delete"]
)
def test_anonymous_visitors_are_sent_to_sign_in_and_their_posts_change_nothing(
    client: FlaskClient, session: Session, site: Site, path: str
) -> None:
    before = database_state(session)
    for response in (client.get(path), client.post(path, data={"slug": "x", "name": "X"})):
        assert response.status_code in (302, 400)
        if response.status_code == 302:
            assert response.headers["Location"].startswith("/moderation/login")
    assert database_state(session) == before


def test_admins_download_a_sites_comments_and_emails_only_when_ticked(
    app: Flask, admin_client: FlaskClient, session: Session, site: Site
) -> None:
    import json
    import xml.etree.ElementTree as ET

    factories.submit(session, site, "hello", thread="one", author_email="ann@example.org")
    page = admin_client.get(f"/moderation/sites/{site.slug}").get_data(as_text=True)
    assert f'action="/moderation/sites/{site.slug}/export"' in page
    before = database_state(session)

    # A download is a file the response closes once sent: `with`, as a server would.
    with admin_client.get(f"/moderation/sites/{site.slug}/export?format=json") as response:
        assert response.status_code == 200
        assert response.headers["Content-Disposition"].startswith("attachment; filename=blog-")
        text = response.get_data(as_text=True)
    document = json.loads(text)
    assert [c["body"] for t in document["threads"] for c in t["comments"]] == ["hello"]
    assert "ann@example.org" not in text

    with admin_client.get(f"/moderation/sites/{site.slug}/export?format=wxr&emails=1") as wxr:
        assert wxr.mimetype == "application/xml"
        raw = wxr.get_data()
    root = ET.fromstring(raw)  # noqa: S314 (our own output)
    emails = [e.text for e in root.iter("{http://wordpress.org/export/1.2/}comment_author_email")]
    assert emails == ["ann@example.org"]
    assert admin_client.get(f"/moderation/sites/{site.slug}/export?format=csv").status_code == 400
    assert database_state(session) == before


def test_a_moderator_cannot_download_a_sites_comments(
    app: Flask, session: Session, site: Site
) -> None:
    account(session, "mod@example.org", Role.MODERATOR, [site])
    client = app.test_client()
    sign_in(client, "mod@example.org")
    assert client.get(f"/moderation/sites/{site.slug}/export").status_code == 403
