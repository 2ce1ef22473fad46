"""Creating, changing, listing and deleting sites: what a blog owner may type, what is
refused with which words, and that a refusal changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from moderation.models import Comment, Moderator, SettingsChange, Site, Thread, Webhook
from moderation.services import sites, webhooks
from moderation.services.errors import Conflict, Invalid, NotFound
from moderation.types import CommentStatus, ModerationMode, Role, utcnow
from tests import factories
from tests.conftest import database_state, make_site


def create(session: Session, slug: str = "my-blog", *origins: str, **kwargs: object) -> Site:
    site = sites.create_site(session, slug, kwargs.pop("name", "My Blog"),  # type: ignore[arg-type]
                             origins or ("https://blog.example.org",), moderator=None,
                             now=utcnow(), **kwargs)  # type: ignore[arg-type]  # fmt: skip
    session.commit()
    return site


def test_a_new_site_stores_normalized_origins_and_records_its_creation(session: Session) -> None:
    site = create(
        session, "my-blog",
        "HTTPS://Blog.Example.ORG:443", "https://blog.example.org/", "http://localhost:8000",
        "http://preview.example.org:80", "http://127.0.0.1:*",
        mode="pre",
    )  # fmt: skip
    assert site.allowed_origins == [
        "https://blog.example.org",
        "http://localhost:8000",
        "http://preview.example.org",
        "http://127.0.0.1:*",
    ]
    assert site.moderation_mode == ModerationMode.PRE and site.name == "My Blog"
    assert site.flags_to_hold == 3 and site.thresholds == {} and site.banned_words == []
    # What a browser at those pages sends is allowed; another port or scheme is not.
    assert sites.origin_allowed(site.allowed_origins, "https://blog.example.org")
    assert sites.origin_allowed(site.allowed_origins, "http://127.0.0.1:5173")
    assert not sites.origin_allowed(site.allowed_origins, "http://blog.example.org")
    [created] = sites.settings_history(session, site)
    assert created.field == "created"
    assert created.new_value["allowed_origins"][0] == "https://blog.example.org"
    assert created.new_value["moderation_mode"] == "pre"


@pytest.mark.parametrize(
    ("origin", "message"),
    [
        ("blog.example.org", "must start with http:// or https://"),
        ("ftp://blog.example.org", "must start with http:// or https://"),
        ("https://blog.example.org/posts/1", "no path, query or fragment"),
        ("https://blog.example.org?x=1", "no path, query or fragment"),
        ("https://blog.example.org#comments", "no path, query or fragment"),
        ("https://me@blog.example.org", "must not contain a user name"),
        ("https://blog.example.org:0", "invalid port"),
        ("https://blog.example.org:70000", "invalid port"),
        ("https://blog.example.org:http", "invalid port"),
        ("https://", "has no host"),
        ("https://bad_host.example", "invalid host name"),
        ("*", "must start with http:// or https://"),
    ],
)
def test_a_bad_origin_is_refused_naming_it_and_nothing_is_stored(
    session: Session, origin: str, message: str
) -> None:
    before = database_state(session)
    with pytest.raises(Invalid, match=message) as refused:
        sites.create_site(session, "my-blog", "My Blog", ["https://ok.example", origin],
                          moderator=None, now=utcnow())  # fmt: skip
    assert repr(origin) in refused.value.message and refused.value.field == "origins"
    session.rollback()
    assert database_state(session) == before


@pytest.mark.parametrize("slug", ["", "My-Blog", "my blog", "-blog", "blog_1", "b" * 65, "blög"])
def test_a_bad_slug_is_refused_saying_what_a_slug_may_be(session: Session, slug: str) -> None:
    with pytest.raises(Invalid, match="lowercase letters, digits and hyphens") as refused:
        sites.create_site(session, slug, "My Blog", moderator=None, now=utcnow())
    assert refused.value.field == "slug"
    assert session.scalar(select(func.count(Site.id))) == 0


def test_slugs_of_one_to_sixty_four_characters_are_fine(session: Session) -> None:
    for slug in ("a", "7", "my-blog-2", "b" * 64):
        create(session, slug)
    assert len(sites.list_sites(session)) == 4


def test_a_bad_name_or_mode_is_refused(session: Session) -> None:
    with pytest.raises(Invalid, match="name must not be empty"):
        sites.create_site(session, "x", "   ", moderator=None, now=utcnow())
    with pytest.raises(Invalid, match="at most 200"):
        sites.create_site(session, "x", "n" * 201, moderator=None, now=utcnow())
    with pytest.raises(Invalid, match="'post' or 'pre', not 'later'"):
        sites.create_site(session, "x", "X", mode="later", moderator=None, now=utcnow())


def test_a_taken_slug_is_a_conflict_and_the_first_site_is_untouched(session: Session) -> None:
    first = create(session, "my-blog", name="First")
    before = database_state(session)
    with pytest.raises(Conflict, match="a site 'my-blog' already exists") as refused:
        sites.create_site(session, "my-blog", "Second", ["https://second.example"],
                          moderator=None, now=utcnow())  # fmt: skip
    assert refused.value.field == "slug"
    session.rollback()
    assert database_state(session) == before
    assert sites.get_site(session, "my-blog").name == first.name == "First"


def test_an_unknown_site_is_not_found_and_knows_its_slug(session: Session) -> None:
    with pytest.raises(NotFound, match="no site 'nope'") as missing:
        sites.get_site(session, "nope")
    assert isinstance(missing.value, sites.NoSuchSite) and missing.value.slug == "nope"


def test_updates_are_checked_normalized_and_audited_with_who(session: Session) -> None:
    site = create(session)
    admin = factories.moderator(session, "admin@example.org", Role.ADMIN, [])
    changed = sites.update_settings(
        session, site,
        {"name": " Renamed ",
         "allowed_origins": ["HTTPS://NEW.example:443", "https://new.example"],
         "moderation_mode": "pre",
         "thresholds": {"toxicity": {"hold": 0.4, "hide": None, "warn": 0.3}},
         "flags_to_hold": 5, "banned_words": [" spamco ", "", "spamco"]},
        admin, utcnow(),
    )  # fmt: skip
    session.commit()
    assert changed == ["name", "moderation_mode", "thresholds", "banned_words",
                       "allowed_origins", "flags_to_hold"]  # fmt: skip
    session.expire_all()
    assert site.name == "Renamed" and site.allowed_origins == ["https://new.example"]
    assert site.thresholds == {"toxicity": {"hold": 0.4, "warn": 0.3}}
    assert site.banned_words == ["spamco"]
    rows = session.scalars(select(SettingsChange).where(SettingsChange.field == "name")).all()
    assert [(r.old_value, r.new_value, r.moderator_id) for r in rows] == [
        ("My Blog", "Renamed", admin.id)
    ]
    # The same values again change nothing and record nothing.
    count = session.scalar(select(func.count(SettingsChange.id)))
    assert sites.update_settings(session, site, {"name": "Renamed"}, admin, utcnow()) == []
    assert session.scalar(select(func.count(SettingsChange.id))) == count


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"allowed_origins": ["https://ok.example", "https://x/y"]}, "origins", "no path"),
        ({"thresholds": {"toxicity": {"hold": 1.5}}}, "thresholds", "toxicity hold must be"),
        ({"thresholds": {"toxicity": {"later": 0.5}}}, "thresholds", "unknown threshold"),
        ({"flags_to_hold": -1}, "flags_to_hold", "0 to 1000"),
        ({"flags_to_hold": "3"}, "flags_to_hold", "whole number"),
        ({"moderation_mode": "none"}, "moderation_mode", "'post' or 'pre'"),
        ({"slug": "renamed"}, "slug", "unknown settings: slug"),
        ({"suspect_words": ["ok", "/(kill/"]}, "suspect_words",
         r"suspect word /\(kill/ is not a pattern we can use \(missing \): \(kill\)"),
        ({"banned_words": ["/(?<=spam)co/"]}, "banned_words",
         r"banned word /\(\?<=spam\)co/ is not a pattern we can use \(invalid perl operator"),
        ({"suspect_words": ["/" + "a" * 201 + "/"]}, "suspect_words", "longer than 200"),
        ({"suspect_words": [f"w{n}" for n in range(1001)]}, "suspect_words", "at most 1000"),
    ],
)  # fmt: skip
def test_a_bad_update_changes_nothing_at_all(
    session: Session, values: dict[str, object], field: str, message: str
) -> None:
    site = create(session)
    before = database_state(session)
    with pytest.raises(Invalid, match=message) as refused:
        sites.update_settings(session, site, {"name": "Changed too", **values}, None, utcnow())
    assert refused.value.field == field
    session.rollback()
    assert database_state(session) == before


def test_the_list_counts_threads_and_comments_by_status_and_filters_by_site(
    session: Session,
) -> None:
    blog = make_site(session, "blog")
    news = make_site(session, "news")
    make_site(session, "empty")
    factories.with_status(session, blog, "a", status=CommentStatus.VISIBLE, thread="one")
    factories.with_status(session, blog, "b", status=CommentStatus.HELD, thread="one")
    factories.with_status(session, blog, "c", status=CommentStatus.HELD, thread="two")
    factories.with_status(session, news, "d", status=CommentStatus.HIDDEN, thread="x")
    summaries = {s.site.slug: s for s in sites.list_sites(session)}
    assert list(summaries) == ["blog", "empty", "news"]
    assert summaries["blog"].threads == 2 and summaries["blog"].comment_count == 3
    assert summaries["blog"].comments == {CommentStatus.VISIBLE: 1, CommentStatus.HELD: 2}
    assert summaries["empty"].comment_count == 0 and summaries["empty"].threads == 0
    assert [s.site.slug for s in sites.list_sites(session, [news.id])] == ["news"]
    assert sites.list_sites(session, []) == []


def test_deleting_a_site_with_comments_is_refused_with_the_count(session: Session) -> None:
    site = make_site(session, "blog")
    first = factories.submit(session, site, "first", thread="one")
    factories.submit(session, site, "reply", thread="one", parent=first)
    factories.submit(session, site, "elsewhere", thread="two")
    before = database_state(session)
    with pytest.raises(sites.SiteHasComments) as refused:
        sites.delete_site(session, site)
    assert refused.value.comment_count == 3 and refused.value.thread_count == 2
    assert refused.value.message == (
        "site 'blog' has 3 comments in 2 threads; deleting the site deletes them too"
    )
    session.rollback()
    assert database_state(session) == before


def test_deleting_with_comments_removes_everything_of_the_site_and_nothing_else(
    session: Session,
) -> None:
    site = make_site(session, "blog")
    other = make_site(session, "news")
    kept = factories.submit(session, other, "stays", thread="x")
    factories.submit(session, site, "goes", thread="one")
    webhooks.add_webhook(session, "blog", "http://127.0.0.1:9/hook", ["comment.held"],
                         utcnow(), allow_private=True)  # fmt: skip
    person = factories.moderator(session, "mod@example.org", Role.MODERATOR, [site, other])
    session.commit()
    gone = sites.delete_site(session, site, with_comments=True)
    session.commit()
    assert gone.comment_count == 1
    session.expire_all()
    assert [s.slug for s in session.scalars(select(Site))] == ["news"]
    assert session.scalars(select(Comment.id)).all() == [kept.id]
    assert session.scalars(select(Thread.key)).all() == ["x"]
    assert session.scalar(select(func.count(Webhook.id))) == 0
    moderator = session.get(Moderator, person.id)
    assert moderator is not None and [s.slug for s in moderator.sites] == ["news"]


def test_a_site_without_comments_is_deleted_without_asking(session: Session) -> None:
    site = create(session)
    sites.delete_site(session, site)
    session.commit()
    assert session.scalar(select(func.count(Site.id))) == 0
    assert session.scalar(select(func.count(SettingsChange.id))) == 0


def test_the_embed_code_is_the_two_lines_with_the_services_url(session: Session) -> None:
    assert sites.embed_code("https://comments.example.org/", "my-blog") == (
        '<div id="comments" data-site="my-blog"></div>\n'
        '<script src="https://comments.example.org/embed.js" async></script>'
    )


def test_word_lists_keep_phrases_and_patterns_as_written(session: Session) -> None:
    site = create(session)
    site.suspect_words = ["crypto", "find you"]  # a list from before patterns existed
    changed = sites.update_settings(
        session, site, {"suspect_words": [" crypto ", "find you", "/k+i+l+ (you|u)/", "crypto"]},
        None, utcnow(),
    )  # fmt: skip
    assert changed == ["suspect_words"]
    assert site.suspect_words == ["crypto", "find you", "/k+i+l+ (you|u)/"]
    assert sites.check_word_list(["", "/a|b/"], "banned_words") == ["/a|b/"]
