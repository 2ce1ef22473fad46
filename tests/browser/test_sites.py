"""Putting the service on a new blog in Chromium, as the README tells an admin to: create
the site on the Sites page, paste the two lines it shows into a page of the blog's origin,
and readers comment there."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.models import Comment
from moderation.services import moderators, sites
from moderation.types import CommentStatus
from tests.browser.conftest import LiveServer, PageWatch, serve

PASSWORD = "correct horse battery staple"
ADMIN = "ada@example.org"


class Blog:
    """Someone's blog on an origin of its own, whose post page holds whatever embed code
    its owner pasted."""

    def __init__(self) -> None:
        self.pasted = ""
        self.app = Flask("my-blog")

        @self.app.get("/posts/hello")
        def post() -> str:
            return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
                    "<title>Hello, world</title></head><body><h1>Hello, world</h1>"
                    f"<p>My first post.</p>{self.pasted}</body></html>")  # fmt: skip


@pytest.fixture
def blog() -> Iterator[tuple[Blog, LiveServer]]:
    site = Blog()
    server = serve(site.app)
    yield site, server
    server.server.shutdown()


def test_an_admin_creates_a_site_and_readers_comment_on_the_blog_with_its_embed_code(
    app: Flask, page: Page, live_server: LiveServer, session: Session, watch: PageWatch,
    blog: tuple[Blog, LiveServer],
) -> None:  # fmt: skip
    my_blog, blog_server = blog
    app.config["PUBLIC_URL"] = live_server.url  # what `make run` sets
    moderators.ensure_admin(session, ADMIN, PASSWORD)
    session.commit()

    page.goto(live_server.url + "/moderation/")
    page.get_by_label("Email").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="main").get_by_role("link", name="Sites").click()
    expect(page.get_by_role("heading", name="Sites", exact=True)).to_be_visible()

    form = page.get_by_role("form", name="Create a site")
    form.get_by_label("Slug").fill("my-blog")
    form.get_by_label("Name").fill("My Blog")
    # Typed as people copy it from the address bar: upper case, the default port, a slash.
    origin = blog_server.url.replace("http://127.0.0.1", "HTTP://127.0.0.1")
    form.get_by_label("Allowed origins").fill(origin + "/")
    form.get_by_role("button", name="Create site").click()
    expect(page.get_by_role("heading", name="Settings of My Blog")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("created site 'my-blog'")
    assert sites.get_site(session, "my-blog").allowed_origins == [blog_server.url]

    # The owner copies the two lines into their blog's post template.
    embed = page.locator("figure.embed-code code").inner_text()
    assert embed == (f'<div id="comments" data-site="my-blog"></div>\n'
                     f'<script src="{live_server.url}/embed.js" async></script>')  # fmt: skip
    my_blog.pasted = embed

    reader = page.context.new_page()
    reader.goto(blog_server.url + "/posts/hello")
    comment_form = reader.get_by_role("form", name="Write a comment")
    comment_form.get_by_label("Name").fill("Bea")
    comment_form.get_by_label("Your comment").fill("Lovely first post, welcome!")
    comment_form.get_by_role("button", name="Post comment").click()
    posted = reader.get_by_role("article", name="Comment by Bea", exact=True)
    expect(posted).to_contain_text("Lovely first post, welcome!")

    session.expire_all()
    [comment] = session.scalars(select(Comment)).all()
    # The thread is the post's path, titled from the page: nothing to configure per post.
    assert comment.thread.site.slug == "my-blog" and comment.thread.key == "/posts/hello"
    assert comment.thread.title == "Hello, world"
    assert comment.status == CommentStatus.VISIBLE

    # A page of an origin the new site does not list is refused (the demo's are not its).
    response = reader.request.get(
        f"{live_server.url}/api/v1/sites/my-blog/comments?thread=/posts/hello",
        headers={"Origin": "http://localhost:1"},
    )
    assert response.status == 403
    assert [e for e in watch.errors if "status of 404" not in e] == []
