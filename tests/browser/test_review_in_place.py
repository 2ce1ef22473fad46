"""Deciding without a page reload, in Chromium: approve, hide, keep and undo swap the item
in place, the next item takes the focus, the tab counts follow, and the database has the
decision; without JavaScript the same buttons post and reload. And the words that drove a
decision, marked in the comment in the queue and on its page.

Prints the time from a key press to the next item focused (read it with ``-s``)."""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.models import Comment, ModerationAction, Moderator, Site
from moderation.services import flags
from moderation.types import CommentStatus, FlagReason, utcnow
from tests.browser.conftest import LiveServer, PageWatch
from tests.browser.test_review_queue import (
    FINE,
    INSULT,
    RUDE,
    STUPID,
    TOXIC,
    admin,  # noqa: F401 - a fixture
    item,
    post,
    score_pending,
    sign_in,
)

__all__ = ["admin"]


@pytest.fixture(autouse=True)
def no_page_errors(page: Page, watch: PageWatch) -> Iterator[None]:
    page.on("pageerror", lambda error: watch.errors.append(f"uncaught: {error}"))
    yield
    assert watch.errors == []
    assert watch.dialogs == []


def status_in_db(session: Session, comment: Comment) -> CommentStatus:
    session.expire_all()
    found = session.get(Comment, comment.id)
    assert found is not None
    return found.status


TIMING = """
() => {
  // Capture listeners, installed before review.js handles the key: when it went down, and
  // when the element named in ``want`` took the focus after it.
  window.timing = { want: null, down: null, focused: null };
  document.addEventListener("keydown", () => {
    window.timing.down = performance.now();
    window.timing.focused = null;
  }, true);
  document.addEventListener("focusin", (event) => {
    if (event.target.id === window.timing.want && window.timing.focused === null) {
      window.timing.focused = performance.now();
    }
  }, true);
}
"""


def press_and_time(page: Page, key: str, next_id: str) -> float:
    """Press ``key`` (a real key press) and wait for ``next_id`` to be focused; the
    milliseconds between them, measured in the page."""
    page.evaluate("id => { window.timing.want = id; }", next_id)
    page.keyboard.press(key)
    expect(page.locator(f"#{next_id}")).to_be_focused()
    return float(page.evaluate("window.timing.focused - window.timing.down"))


def test_keys_decide_in_place_move_the_focus_on_and_undo_puts_it_back(
    page: Page, live_server: LiveServer, session: Session, site: Site, admin: Moderator
) -> None:
    held = [post(session, text) for text in (STUPID, TOXIC, INSULT, RUDE)]
    score_pending(session)
    sign_in(page, live_server)
    page.evaluate("window.notReloaded = true")  # gone if anything reloads the page
    page.evaluate(TIMING)
    order = page.locator("article.item").evaluate_all("els => els.map(e => e.dataset.id)")
    first, second, third, fourth = (next(c for c in held if str(c.id) == i) for i in order)
    expect(item(page, first)).to_be_focused()
    expect(page.locator('[data-count="held"]')).to_have_text("4")

    timings = [press_and_time(page, "a", f"item-{second.id}")]
    expect(item(page, first)).to_have_count(0)
    expect(page.locator(f"#decided-{first.id}")).to_contain_text("approved")
    expect(page.locator('[data-count="held"]')).to_have_text("3")
    expect(page.locator("#messages")).to_contain_text("1 comment approved")
    assert status_in_db(session, first) == CommentStatus.VISIBLE

    timings.append(press_and_time(page, "h", f"item-{third.id}"))
    expect(page.locator(f"#decided-{second.id}")).to_contain_text("hidden")
    expect(page.locator('[data-count="hidden"]')).to_have_text("1")
    assert status_in_db(session, second) == CommentStatus.HIDDEN

    timings.append(press_and_time(page, "u", f"item-{second.id}"))  # undo the hide
    expect(item(page, second).locator(".status")).to_have_text("held")
    expect(page.locator(f"#decided-{second.id}")).to_have_count(0)
    expect(page.locator("#messages")).to_contain_text("undone: 1 comment back as it was")
    expect(page.locator('[data-count="held"]')).to_have_text("3")
    expect(page.locator('[data-count="hidden"]')).to_have_text("0")
    assert status_in_db(session, second) == CommentStatus.HELD

    page.keyboard.press("j")
    expect(item(page, third)).to_be_focused()
    timings.append(press_and_time(page, "a", f"item-{fourth.id}"))
    assert status_in_db(session, third) == CommentStatus.VISIBLE
    expect(page.locator('[data-count="held"]')).to_have_text("2")

    assert page.evaluate("window.notReloaded") is True
    print(
        f"\nkey press to next item focused (ms): {', '.join(f'{t:.1f}' for t in timings)}; "
        f"median {statistics.median(timings):.1f}"
    )


def test_keep_on_the_reported_tab_and_a_decision_in_the_all_tab_stay_in_place(
    page: Page, live_server: LiveServer, session: Session, site: Site, admin: Moderator
) -> None:
    reported = post(session, FINE, author="Mira")
    other = post(session, "Which lens did you use?", author="Dev")
    toxic = post(session, TOXIC)
    score_pending(session)
    flags.flag_comment(session, reported.id, FlagReason.SPAM, None, None, utcnow())
    session.commit()
    sign_in(page, live_server)
    page.goto(live_server.url + "/moderation/?tab=reported")
    page.wait_for_load_state()
    expect(page.locator('[data-count="reported"]')).to_have_text("1")
    page.evaluate("window.notReloaded = true")

    page.keyboard.press("d")
    expect(page.locator(f"#decided-{reported.id}")).to_contain_text("kept")
    expect(page.locator('[data-count="reported"]')).to_have_text("0")
    expect(page.locator("#messages")).to_contain_text("kept, its reports dismissed")
    expect(page.locator("#undo-button")).to_have_count(0)  # a Keep is final
    session.expire_all()
    assert status_in_db(session, reported) == CommentStatus.VISIBLE
    last = session.scalars(
        select(ModerationAction).where(ModerationAction.comment_id == reported.id)
    ).all()[-1]
    assert (last.detail or {}).get("action") == "keep" and last.moderator_id == admin.id
    assert page.evaluate("window.notReloaded") is True

    page.goto(live_server.url + "/moderation/?tab=all")
    page.wait_for_load_state()
    articles = page.locator("article.item")
    ids = articles.evaluate_all("els => els.map(e => e.dataset.id)")
    assert ids[0] == str(toxic.id)  # the highest score first
    page.keyboard.press("h")
    expect(item(page, toxic).locator(".status")).to_have_text("hidden")  # stays, as it is now
    expect(page.locator(f"#item-{ids[1]}")).to_be_focused()
    expect(page.locator('[data-count="hidden"]')).to_have_text("1")
    assert status_in_db(session, toxic) == CommentStatus.HIDDEN
    assert status_in_db(session, other) == CommentStatus.VISIBLE


def test_without_javascript_the_buttons_post_and_the_page_reloads(
    browser: Browser, live_server: LiveServer, session: Session, site: Site, admin: Moderator
) -> None:
    toxic = post(session, TOXIC)
    score_pending(session)
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        sign_in(page, live_server)
        item(page, toxic).get_by_role("button", name="Approve").click()
        expect(page.locator("#messages")).to_contain_text("1 comment approved")
        expect(item(page, toxic)).to_have_count(0)
        expect(page.locator('[data-count="held"]')).to_have_text("0")
        assert status_in_db(session, toxic) == CommentStatus.VISIBLE
        page.get_by_role("button", name="Undo").click()
        expect(page.locator("#messages")).to_contain_text("undone")
        expect(item(page, toxic).locator(".status")).to_have_text("held")
        assert status_in_db(session, toxic) == CommentStatus.HELD
    finally:
        context.close()


def test_the_words_that_drove_the_decision_are_marked_in_the_queue_and_on_the_page(
    page: Page, live_server: LiveServer, session: Session, site: Site, admin: Moderator
) -> None:
    site.suspect_words = ["clown"]
    site.thresholds = {"toxicity": {"hold": 0.35}}  # a strict site: the model holds it too
    session.commit()
    held = post(session, "You are a **clown** and your opinion is worthless <b>x</b>")
    score_pending(session)
    sign_in(page, live_server)

    body = item(page, held).locator(".body").last
    expect(body.locator("mark.term-suspect")).to_have_text(["clown"])
    expect(body.locator("strong mark.term-suspect")).to_have_count(1)  # inside the bold
    # The lite model's largest contribution first in the list under the comment, marked in it.
    expect(item(page, held).locator(".terms mark.term-model").first).to_have_text("worthless")
    worthless = body.locator("mark.term-model", has_text="worthless")
    expect(worthless).to_have_attribute("title", re.compile(r"^toxicity: raises the model's"))
    expect(body.locator("b")).to_have_count(0)  # the reader's tag is still text
    expect(body).to_contain_text("<b>x</b>")
    expect(item(page, held).locator(".terms")).to_contain_text("raised toxicity the most")

    page.goto(f"{live_server.url}/moderation/comments/{held.id}")
    body = item(page, held).locator(".body").last
    expect(body.locator("mark.term-suspect")).to_have_text(["clown"])
    expect(body.locator("mark.term-model", has_text="worthless")).to_have_count(1)


def test_deciding_the_last_item_of_the_page_says_so_and_undo_brings_it_back(
    page: Page, live_server: LiveServer, session: Session, site: Site, admin: Moderator
) -> None:
    toxic = post(session, TOXIC)
    score_pending(session)
    sign_in(page, live_server)
    page.keyboard.press("a")
    done = page.locator("#page-done")
    expect(done).to_contain_text("Nothing left on this page.")
    expect(done).to_be_focused()
    expect(page.locator('[data-count="held"]')).to_have_text("0")
    page.keyboard.press("u")
    expect(item(page, toxic)).to_be_focused()
    expect(done).to_have_count(0)
    assert status_in_db(session, toxic) == CommentStatus.HELD
    page.keyboard.press("h")
    expect(done).to_be_visible()
    done.get_by_role("link", name="Load the queue again").click()
    expect(page.get_by_text("The queue is clear.")).to_be_visible()
    assert status_in_db(session, toxic) == CommentStatus.HIDDEN
