"""`flask moderation site …`: what an operator types to put the service on a blog, and the
one-line answers to what it cannot take."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import create_app
from moderation.db import db
from moderation.models import Comment, ScoringKey, Site
from moderation.services import sites
from moderation.types import ModerationMode
from tests import factories
from tests.conftest import app_config, database_state, make_site, reset_database


def run(app: Flask, *args: str, **kwargs: Any) -> Result:
    return app.test_cli_runner().invoke(args=["moderation", *args], **kwargs)


def one_line_error(result: Result, code: int) -> str:
    """The command failed with ``code`` and said why in one line, without a traceback."""
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ")
    return lines[0]


def test_create_prints_the_two_lines_to_paste_and_the_next_step(
    app: Flask, session: Session
) -> None:
    app.config["PUBLIC_URL"] = "https://comments.example.org"
    result = run(app, "site", "create", "my-blog", "--name", "My Blog",
                 "--origin", "https://Blog.Example.org:443", "--origin", "http://localhost:8000",
                 "--mode", "pre")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "created site 'my-blog' (My Blog): pre-moderation" in result.output
    assert "origins: https://blog.example.org, http://localhost:8000" in result.output
    assert '  <div id="comments" data-site="my-blog"></div>' in result.output
    assert '  <script src="https://comments.example.org/embed.js" async></script>' in result.output
    assert "flask moderation create-moderator EMAIL --site my-blog" in result.output
    site = sites.get_site(session, "my-blog")
    assert site.moderation_mode == ModerationMode.PRE
    assert site.allowed_origins == ["https://blog.example.org", "http://localhost:8000"]
    # A new site starts with the configured suspect words, as the demo site does.
    assert site.suspect_words == app.config["DEFAULT_SUSPECT_WORDS"]


def test_update_adds_and_removes_word_list_entries_phrases_and_patterns(
    app: Flask, session: Session, site: Site
) -> None:
    site.suspect_words = ["crypto"]
    session.commit()
    result = run(app, "site", "update", "blog", "--add-suspect", "/k+i+l+ (you|u)/",
                 "--add-banned", "spamco", "--remove-suspect", "crypto")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "updated banned_words, suspect_words" in result.output
    session.expire_all()
    assert (site.suspect_words, site.banned_words) == (["/k+i+l+ (you|u)/"], ["spamco"])


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["My_Blog", "--name", "X"], 2, "slug 'My_Blog' is not valid: use 1 to 64 lowercase"),
        (["ok", "--name", "X", "--origin", "https://x.example/blog"], 2, "no path, query"),
        (["ok", "--name", "X", "--origin", "x.example"], 2, "must start with http://"),
        (["ok", "--name", " ", "--origin", "https://x.example"], 2, "name must not be empty"),
        (["blog", "--name", "Again", "--origin", "https://x.example"], 1,
         "a site 'blog' already exists"),
    ],
)  # fmt: skip
def test_create_refuses_bad_input_in_one_line_and_stores_nothing(
    app: Flask, session: Session, site: Site, args: list[str], code: int, message: str
) -> None:
    before = database_state(session)
    line = one_line_error(run(app, "site", "create", *args), code)
    assert message in line
    assert database_state(session) == before


def test_list_shows_sites_with_mode_counts_and_origins(
    app: Flask, session: Session, site: Site
) -> None:
    factories.submit(session, site, "hello")
    make_site(session, "news", allowed_origins=["https://news.example"])
    result = run(app, "site", "list")
    assert result.exit_code == 0, result.output
    header, blog, news = result.output.strip().splitlines()
    assert header.split()[:4] == ["slug", "name", "mode", "comments"]
    assert blog.split() == ["blog", "Blog", "post", "1", "0", "https://blog.example"]
    assert news.split() == ["news", "News", "post", "0", "0", "https://news.example"]


def test_list_without_sites_says_how_to_make_one(app: Flask) -> None:
    result = run(app, "site", "list")
    assert result.exit_code == 0
    assert "no sites; create one with: flask moderation site create SLUG" in result.output


def test_update_replaces_adds_and_removes_origins_and_changes_name_and_mode(
    app: Flask, session: Session, site: Site
) -> None:
    result = run(app, "site", "update", "blog", "--name", "The Blog", "--mode", "pre",
                 "--origin", "https://one.example", "--origin", "https://two.example")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "updated name, moderation_mode, allowed_origins" in result.output
    result = run(app, "site", "update", "blog", "--add-origin", "HTTPS://THREE.example",
                 "--remove-origin", "https://one.example:443")  # fmt: skip
    assert result.exit_code == 0, result.output
    session.expire_all()
    assert site.name == "The Blog" and site.moderation_mode == ModerationMode.PRE
    assert site.allowed_origins == ["https://two.example", "https://three.example"]
    fields = [change.field for change in sites.settings_history(session, site)]
    assert fields.count("allowed_origins") == 2


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["blog"], 2, "nothing to change"),
        (["blog", "--remove-origin", "https://nope.example"], 2,
         "https://nope.example is not an origin of site 'blog' (https://blog.example)"),
        (["blog", "--origin", "https://a.example", "--add-origin", "https://b.example"], 2,
         "--origin replaces every origin"),
        (["blog", "--add-origin", "https://b.example/path"], 2, "no path"),
        (["nope", "--name", "X"], 1, "no site 'nope' (sites: blog); create it with"),
        (["blog", "--add-suspect", "spam", "--add-suspect", "/(kill/"], 2,
         "suspect word /(kill/ is not a pattern we can use (missing ): (kill); write a "
         "regular expression between slashes, or a phrase without them"),
        (["blog", "--remove-banned", "nope"], 2, "'nope' is not a banned entry of site 'blog'"),
    ],
)  # fmt: skip
def test_update_refuses_in_one_line_and_changes_nothing(
    app: Flask, session: Session, site: Site, args: list[str], code: int, message: str
) -> None:
    before = database_state(session)
    assert message in one_line_error(run(app, "site", "update", *args), code)
    assert database_state(session) == before


def test_delete_refuses_while_the_site_has_comments_and_says_how_many(
    app: Flask, session: Session, site: Site
) -> None:
    factories.submit(session, site, "one", thread="a")
    factories.submit(session, site, "two", thread="b")
    before = database_state(session)
    line = one_line_error(run(app, "site", "delete", "blog", "--yes"), 1)
    assert line == ("Error: site 'blog' has 2 comments in 2 threads; deleting the site deletes "
                    "them too: pass --with-comments to delete them")  # fmt: skip
    assert database_state(session) == before


def test_delete_asks_first_and_a_no_deletes_nothing(
    app: Flask, session: Session, site: Site
) -> None:
    factories.submit(session, site, "one")
    declined = run(app, "site", "delete", "blog", "--with-comments", input="n\n")
    assert declined.exit_code == 1
    assert "Delete site 'blog' and its 1 comment? This cannot be undone" in declined.output
    assert "Error: nothing deleted" in declined.output
    assert session.scalar(select(func.count(Comment.id))) == 1
    agreed = run(app, "site", "delete", "blog", "--with-comments", input="y\n")
    assert agreed.exit_code == 0, agreed.output
    assert "deleted site 'blog' and its 1 comment" in agreed.output
    session.expire_all()
    assert session.scalar(select(func.count(Site.id))) == 0
    assert session.scalar(select(func.count(Comment.id))) == 0


def test_delete_of_an_unknown_site_says_so(app: Flask) -> None:
    line = one_line_error(run(app, "site", "delete", "nope", "--yes"), 1)
    assert "no site 'nope'; create it with" in line


@pytest.mark.parametrize(
    "command",
    [
        ["create-moderator", "mod@example.org", "--site", "myblog"],
        ["perspective-key", "create", "--site", "myblog"],
    ],
)
def test_an_unknown_site_elsewhere_says_how_to_create_it(
    app: Flask, session: Session, command: list[str]
) -> None:
    line = one_line_error(run(app, *command), 1)
    assert line == ("Error: no site 'myblog'; create it with: flask moderation site create "
                    "myblog --name … --origin …")  # fmt: skip
    make_site(session, "blog")
    make_site(session, "news")
    line = one_line_error(run(app, *command), 1)
    assert "no site 'myblog' (sites: blog, news); create it with" in line
    assert session.scalar(select(func.count(ScoringKey.id))) == 0


def test_the_readme_steps_give_a_second_site_a_moderator_and_a_key(
    app: Flask, session: Session
) -> None:
    assert run(app, "bootstrap").exit_code == 0
    made = run(app, "site", "create", "myblog", "--name", "My Blog",
               "--origin", "https://blog.example.org")  # fmt: skip
    assert made.exit_code == 0, made.output
    moderator = run(app, "create-moderator", "me@example.org", "--site", "myblog")
    assert moderator.exit_code == 0 and "(myblog)" in moderator.output
    key = run(app, "perspective-key", "create", "--site", "myblog")
    assert key.exit_code == 0, key.output
    assert [s.site.slug for s in sites.list_sites(session)] == ["demo", "myblog"]


def test_bootstrap_names_a_bad_demo_origin_instead_of_failing(
    database_url: str, backend: str
) -> None:
    app = create_app(app_config(database_url, DEMO_SITE_ORIGINS=["localhost:8000"]))
    with app.app_context():
        reset_database(backend)
        line = one_line_error(run(app, "bootstrap"), 1)
        db.session.remove()
        db.engine.dispose()
    assert line == ("Error: MODERATION_DEMO_SITE_ORIGINS: origin 'localhost:8000' must start "
                    "with http:// or https:// (e.g. https://blog.example.org)")  # fmt: skip
