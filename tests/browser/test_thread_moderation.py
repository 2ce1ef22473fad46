"""A moderator closes a thread and pins a comment in the review pages; readers see it in
the widget on the demo blog."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from moderation.models import Site
from moderation.services import moderators, sites
from tests.browser.conftest import LiveServer, PageWatch

PASSWORD = "correct horse battery staple"
ADMIN = "ada@example.org"


@pytest.fixture(autouse=True)
def no_page_errors(page: Page, watch: PageWatch) -> Iterator[None]:
    page.on("pageerror", lambda error: watch.errors.append(f"uncaught: {error}"))
    yield
    assert watch.errors == []
    assert watch.dialogs == []


@pytest.fixture
def demo(app: Flask, session: Session) -> Site:
    site, _ = sites.ensure_site(session, app.config["DEMO_SITE_SLUG"], "Demo blog",
                                allowed_origins=app.config["DEMO_SITE_ORIGINS"])  # fmt: skip
    moderators.ensure_admin(session, ADMIN, PASSWORD)
    session.commit()
    return site


def post_as(app: Flask, name: str, body: str) -> int:
    response = app.test_client().post(
        "/api/v1/sites/demo/comments",
        json={"thread": "demo-post", "author_name": name, "body": body},
    )
    assert response.status_code == 201, response.json
    return int(response.json["id"])


def test_close_the_thread_and_pin_a_comment_then_the_widget_shows_both(
    app: Flask, page: Page, live_server: LiveServer, demo: Site
) -> None:
    post_as(app, "First", "The first comment.")
    second = post_as(app, "Second", "The one worth reading.")

    page.goto(live_server.url + "/moderation/")
    page.get_by_label("Email").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server.url}/moderation/comments/{second}")
    page.get_by_role("button", name="Pin this comment").click()
    expect(page.get_by_text("comment pinned: readers see it first")).to_be_visible()
    page.get_by_role("button", name="Close thread").click()
    expect(page.locator("#thread-state")).to_contain_text("Closed")

    page.goto(live_server.url + "/demo/")
    expect(page.get_by_text("Comments are closed")).to_be_visible()
    expect(page.get_by_role("form", name="Write a comment")).to_be_hidden()
    articles = page.locator("#comments").get_by_role("article")
    expect(articles).to_have_count(2)
    expect(articles.first).to_have_attribute("aria-label", "Comment by Second")
    expect(articles.first.get_by_text("Pinned", exact=True)).to_be_visible()
    expect(articles.nth(1)).to_have_attribute("aria-label", "Comment by First")
    # No reply button under a closed thread.
    expect(page.get_by_role("button", name="Reply to First")).to_have_count(0)
