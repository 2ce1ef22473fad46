"""What readers choose in the widget, in Chromium: the order of the thread (remembered),
light or dark, their language; and a comment they post is shown wherever it lands."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import LiveServer, PageWatch
from tests.browser.test_widget import (  # noqa: F401  (fixtures)
    article,
    demo,
    other_origin,
    post_as,
    top_form,
    unexpected,
    write,
)
from tests.conftest import REPO

pytestmark = pytest.mark.usefixtures("demo")  # the demo site, as `make run` makes it
SCREENSHOT = REPO / "docs" / "screenshots" / "widget-dark-de.png"


def top_level_names(page: Page) -> list[str]:
    """The labels of the top-level comments, in the order the widget shows them."""
    return page.locator("ol.list > li > article").evaluate_all(  # type: ignore[no-any-return]
        "els => els.map(e => e.ariaLabel)"
    )


def test_readers_sort_the_thread_and_the_widget_remembers_their_choice(
    app: Flask, page: Page, live_server: LiveServer
) -> None:
    ann = post_as(app, author_name="Ann", body="First")
    ben = post_as(app, author_name="Ben", body="Second")
    post_as(app, author_name="Cat", body="Third")
    for n in range(2):
        post_as(app, author_name=f"Re{n}", body="Agreed", parent_id=ben["id"])
    post_as(app, author_name="Re2", body="Hm", parent_id=ann["id"])
    page.goto(live_server.url + "/demo/")
    expect(page.get_by_role("heading", name="6 comments")).to_be_visible()
    order = page.get_by_label("Sort by")
    expect(order).to_have_value("oldest")
    assert top_level_names(page) == ["Comment by Ann", "Comment by Ben", "Comment by Cat"]

    order.select_option(label="Newest first")
    expect(page.locator("ol.list > li > article").first).to_have_accessible_name("Comment by Cat")
    assert top_level_names(page) == ["Comment by Cat", "Comment by Ben", "Comment by Ann"]
    page.reload()  # remembered in this browser
    expect(page.get_by_label("Sort by")).to_have_value("newest")
    expect(page.locator("ol.list > li > article").first).to_have_accessible_name("Comment by Cat")
    assert top_level_names(page) == ["Comment by Cat", "Comment by Ben", "Comment by Ann"]

    page.get_by_label("Sort by").select_option(label="Most replies")
    expect(page.locator("ol.list > li > article").first).to_have_accessible_name("Comment by Ben")
    assert top_level_names(page) == ["Comment by Ben", "Comment by Ann", "Comment by Cat"]
    expect(article(page, "Reply by Re1")).to_be_visible()  # replies came along

    # Newest first: a new comment goes on top, where the reader looks.
    page.get_by_label("Sort by").select_option(label="Newest first")
    expect(page.locator("ol.list > li > article").first).to_have_accessible_name("Comment by Cat")
    form = top_form(page)
    write(form, "Fourth", name="Dee")
    form.get_by_role("button", name="Post comment").click()
    expect(page.get_by_role("heading", name="7 comments")).to_be_visible()
    assert top_level_names(page)[:2] == ["Comment by Dee", "Comment by Cat"]


def test_a_new_comment_at_the_end_of_a_long_thread_is_scrolled_into_view(
    app: Flask, page: Page, live_server: LiveServer
) -> None:
    for n in range(20):
        post_as(app, author_name=f"Reader {n}", body=f"Comment number {n}.\n\nWith a second line.")
    page.goto(live_server.url + "/demo/")
    expect(page.get_by_role("heading", name="20 comments")).to_be_visible()
    form = top_form(page)
    write(form, "Late to the party.", name="Zed")
    form.get_by_role("button", name="Post comment").click()
    mine = article(page, "Comment by Zed")
    expect(mine).to_be_in_viewport()
    expect(mine).to_be_focused()
    assert page.evaluate("scrollY") > 500  # the page moved down to it
    expect(form).not_to_be_in_viewport()


def background(page: Page, selector: str) -> str:
    return page.locator(selector).first.evaluate(  # type: ignore[no-any-return]
        "e => getComputedStyle(e).backgroundColor"
    )


def test_dark_mode_follows_the_system_and_the_data_theme_attribute(
    page: Page, live_server: LiveServer, watch: PageWatch
) -> None:
    page.emulate_media(color_scheme="light")
    page.goto(live_server.url + "/demo/")
    expect(page.get_by_role("heading", name="No comments yet")).to_be_visible()
    light_form = background(page, "form.write")
    assert light_form == "rgb(255, 255, 255)"
    assert background(page, "#comments") == "rgba(0, 0, 0, 0)"  # the page shows through

    page.emulate_media(color_scheme="dark")
    dark_form = background(page, "form.write")
    assert dark_form == "rgb(21, 27, 35)"
    assert background(page, "#comments") == "rgb(13, 17, 23)"
    text = top_form(page).get_by_label("Name").evaluate("e => getComputedStyle(e).color")
    assert text == "rgb(230, 237, 243)"

    host = page.locator("#comments")
    host.evaluate("e => e.dataset.theme = 'light'")  # the site says light, whatever the system
    assert background(page, "form.write") == light_form
    page.emulate_media(color_scheme="light")
    host.evaluate("e => e.dataset.theme = 'dark'")  # the site says dark
    assert background(page, "form.write") == dark_form

    # A site themes the widget with the documented custom properties on its element.
    host.evaluate("e => e.style.setProperty('--cw-accent', 'rgb(120, 0, 60)')")
    button = top_form(page).get_by_role("button", name="Post comment")
    assert button.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(120, 0, 60)"
    assert unexpected(watch) == []


def test_a_german_widget_on_another_site_speaks_german_server_errors_included(
    page: Page,
    live_server: LiveServer,
    other_origin: Any,  # noqa: F811  (the fixture, imported)
    watch: PageWatch,
) -> None:
    page.goto(other_origin("demo", extra=' data-lang="de"'))
    expect(page.get_by_role("heading", name="Noch keine Kommentare")).to_be_visible()
    form = page.get_by_role("form", name="Einen Kommentar schreiben")
    form.get_by_role("button", name="Kommentar senden").click()
    # The server's field messages, in German (sent with the widget's Accept-Language).
    expect(form.get_by_label("Name")).to_have_attribute("aria-invalid", "true")
    expect(form.get_by_text("Darf nicht leer sein.").first).to_be_visible()
    form.get_by_label("Name").fill("Ada")
    form.get_by_label("Ihr Kommentar").fill("Schöner Beitrag, danke!")
    form.get_by_role("button", name="Kommentar senden").click()
    ada = article(page, "Kommentar von Ada")
    expect(ada).to_contain_text("Schöner Beitrag")
    expect(ada.locator("time")).to_have_text("gerade eben")
    expect(page.get_by_role("heading", name="1 Kommentar")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("Ihr Kommentar wurde veröffentlicht.")
    expect(ada.get_by_role("button", name="Ada antworten")).to_be_visible()
    expect(page.get_by_role("link", name="0 Kommentare")).to_be_visible()  # counted at load
    # Fetched from the service's origin under the page's CSP: nothing was blocked (the
    # console's one error is the 422 this test asked for).
    assert [e for e in unexpected(watch) if "status of 422" not in e] == []


def test_without_data_lang_the_browsers_language_is_used(
    browser: Browser, live_server: LiveServer
) -> None:
    context = browser.new_context(locale="ru-RU")
    page = context.new_page()
    try:
        page.goto(live_server.url + "/demo/")
        expect(page.get_by_role("heading", name="Комментариев пока нет")).to_be_visible()
        for n, heading in ((1, "1 комментарий"), (2, "2 комментария")):
            form = page.get_by_role("form", name="Написать комментарий")
            form.get_by_label("Имя").fill("Иван")
            form.get_by_label("Ваш комментарий").fill(f"Отличная статья, номер {n}!")
            form.get_by_role("button", name="Отправить комментарий").click()
            expect(page.get_by_role("heading", name=heading)).to_be_visible()
    finally:
        context.close()


def test_screenshot_of_a_german_dark_widget_sorted_by_replies(
    app: Flask, page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    """README's second screenshot (saved with UPDATE_SCREENSHOTS=1)."""
    first = post_as(app, author_name="Jo", body="Schöner Balkon! Welche Sorte war das?")
    post_as(app, author_name="Ana", body="Bei mir wuchsen nur *Kirschtomaten*.")
    for name, text in (("Kim", "Sungold, wie im Artikel."), ("Jo", "Danke, probiere ich aus.")):
        post_as(app, author_name=name, body=text, parent_id=first["id"])
    page.emulate_media(color_scheme="dark")
    page.goto(live_server.url + "/demo/")
    # As if the blog's element said data-lang="de" (the widget reads it when it starts).
    page.add_init_script("document.addEventListener('DOMContentLoaded', () => "
                         "document.getElementById('comments').dataset.lang = 'de')")  # fmt: skip
    page.reload()
    page.get_by_label("Sortieren").select_option(label="Meiste Antworten")
    expect(page.locator("ol.list > li > article").first).to_have_accessible_name("Kommentar von Jo")
    expect(page.get_by_role("heading", name="4 Kommentare")).to_be_visible()
    shot = tmp_path / "widget.png"
    page.locator("#comments").screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(shot, SCREENSHOT)
