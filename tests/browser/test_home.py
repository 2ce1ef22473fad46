"""The service's home page in Chromium."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.browser.conftest import LiveServer, PageWatch


def test_home_page_names_the_scorer_and_links_the_api(
    page: Page, live_server: LiveServer, watch: PageWatch
) -> None:
    page.goto(live_server.url + "/")
    assert page.get_by_role("heading", name="Comment moderation").is_visible()
    assert "lite" in page.text_content("body")
    page.get_by_role("link", name="Health check").click()
    assert '"status"' in page.text_content("body")
    assert watch.errors == [] and watch.dialogs == []
