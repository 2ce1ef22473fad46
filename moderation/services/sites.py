"""Sites: the blogs this service moderates, with their policy settings. Creating, changing,
listing and deleting them; every check a site's settings must pass lives here, so the
command line and the pages refuse the same things with the same words."""

from __future__ import annotations

import html
import ipaddress
import itertools
import re
import time
import weakref
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import delete, event, exists, func, inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstanceState, Session, make_transient_to_detached, object_session
from sqlalchemy.orm.util import identity_key

from moderation.models import Comment, Moderator, SettingsChange, Site, SiteCalibration, Thread
from moderation.services import policy
from moderation.services.errors import Conflict, Invalid, NotFound
from moderation.services.transactions import savepoint
from moderation.types import BanMode, CommentStatus, ModerationMode

K = TypeVar("K")
V = TypeVar("V")


class NoSuchSite(NotFound):
    """No site has this slug. ``slug`` lets a caller suggest creating it."""

    def __init__(self, slug: str) -> None:
        super().__init__(f"no site {slug!r}")
        self.slug = slug


class SiteHasComments(Conflict):
    """Deleting the site would delete its comments, and the caller did not ask for that."""

    def __init__(self, slug: str, comment_count: int, thread_count: int) -> None:
        super().__init__(
            f"site {slug!r} has {_plural(comment_count, 'comment')} in "
            f"{_plural(thread_count, 'thread')}; deleting the site deletes them too"
        )
        self.slug = slug
        self.comment_count = comment_count
        self.thread_count = thread_count


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def get_site(session: Session, slug: str) -> Site:
    """The site with this slug, or NoSuchSite (a NotFound)."""
    site = session.scalar(select(Site).where(Site.slug == slug))
    if site is None:
        raise NoSuchSite(slug)
    return site


# ---------------------------------------------------------------- the per-process site cache
#
# Every public request looks its site up by slug; sites change rarely. The hot paths (the
# public API, a post) take the site from this process's memory instead of a query: a
# change made in this process (any flush that writes a Site row, or delete_site) empties
# the cache at once and again when its transaction commits (a reader that loaded the old
# row in between is not kept); a change made by another process (another web process, the
# command line) takes effect here within SITE_CACHE_SECONDS. Settings pages and the
# command line read the site with get_site, from the database.

SITE_CACHE_SECONDS = 1.0  # config SITE_CACHE_SECONDS, set by the app; 0 turns the cache off
_generation = itertools.count()
_current_generation = next(_generation)
_SITE_CHANGED = "moderation.site_changed"


def forget_cached_sites() -> None:
    """Empty every engine's site cache in this process: the next lookups read the database."""
    global _current_generation
    _current_generation = next(_generation)


class SiteCache(Generic[K, V]):
    """What the hot paths read of a site's policy (the site's row, its live calibration),
    kept in this process per engine and key: for SITE_CACHE_SECONDS, and only while no
    site (nor calibration) changed in this process since it was read."""

    def __init__(self) -> None:
        self._entries: weakref.WeakKeyDictionary[Engine, dict[K, tuple[int, float, V]]]
        self._entries = weakref.WeakKeyDictionary()

    def read(self, session: Session, key: K, load: Callable[[], V]) -> V:
        """The value kept for ``key``, or ``load()``'s, kept from now on."""
        if SITE_CACHE_SECONDS <= 0:
            return load()
        engine = session.get_bind()
        assert isinstance(engine, Engine)  # noqa: S101 - one engine per app, never a Connection
        entries = self._entries.setdefault(engine, {})
        entry = entries.get(key)
        now = time.monotonic()
        if (
            entry is not None
            and entry[0] == _current_generation
            and now - entry[1] < SITE_CACHE_SECONDS
        ):
            return entry[2]
        generation = _current_generation  # before the read: a change meanwhile voids it
        value = load()
        entries[key] = (generation, now, value)
        return value


_site_columns: SiteCache[str, dict[str, Any]] = SiteCache()


def cached_site(session: Session, slug: str) -> Site:
    """The site with this slug, as get_site, from this process's cache when it was read
    less than SITE_CACHE_SECONDS ago and no Site changed in this process since."""
    loaded: list[Site] = []

    def load() -> dict[str, Any]:
        loaded.append(get_site(session, slug))
        return {attr.key: getattr(loaded[0], attr.key) for attr in _SITE_COLUMNS}

    columns = _site_columns.read(session, slug, load)
    if loaded:
        return loaded[0]
    # Asked for again in one request (a post asks three times): the session's copy, when
    # none of it was expired (reading that would query).
    present = session.identity_map.get(identity_key(Site, columns["id"]))
    if isinstance(present, Site) and not inspect(present).expired_attributes:
        return present
    site = Site(**columns)
    make_transient_to_detached(site)
    # No query: the copy joins the session as if loaded (the identity map's own copy, when
    # this session has one already).
    return session.merge(site, load=False)


_SITE_COLUMNS = tuple(Site.__mapper__.column_attrs)


@event.listens_for(Site, "after_insert")
@event.listens_for(Site, "after_delete")
# A site's learned calibration is part of its policy (learning.live_calibration's cache).
@event.listens_for(SiteCalibration, "after_insert")
@event.listens_for(SiteCalibration, "after_delete")
def _site_written(mapper: Any, connection: Any, target: Site | SiteCalibration) -> None:
    forget_cached_sites()
    session = object_session(target)
    if session is not None:
        session.info[_SITE_CHANGED] = True


@event.listens_for(Site, "after_update")
@event.listens_for(SiteCalibration, "after_update")
def _site_updated(mapper: Any, connection: Any, target: Site | SiteCalibration) -> None:
    # Also called for a site whose row did not change: one that only gained a thread in
    # its collection (the first comment of a new page), which must not empty the cache.
    state: InstanceState[Any] = inspect(target)
    if any(state.attrs[column.key].history.has_changes() for column in mapper.column_attrs):
        _site_written(mapper, connection, target)


@event.listens_for(Session, "after_commit")
def _site_change_committed(session: Session) -> None:
    if session.info.pop(_SITE_CHANGED, False):
        forget_cached_sites()


def ensure_site(
    session: Session,
    slug: str,
    name: str,
    allowed_origins: Iterable[str] = (),
    suspect_words: Iterable[str] = (),
) -> tuple[Site, bool]:
    """The site with this slug, created with these settings if missing; and whether it
    was created. An existing site's settings are left as its admins set them. The origins
    (from configuration) are checked and normalized as for any site."""
    site = session.scalar(select(Site).where(Site.slug == slug))
    if site is not None:
        return site, False
    site = Site(
        slug=slug,
        name=name,
        allowed_origins=normalize_origins(allowed_origins),
        moderation_mode=ModerationMode.POST,
        thresholds={},
        banned_words=[],
        suspect_words=list(suspect_words),
        flags_to_hold=3,
    )
    session.add(site)
    session.flush()
    return site, True


def origin_allowed(allowed_origins: Iterable[str], origin: str) -> bool:
    """Whether a browser page at ``origin`` may call the API for a site that allows
    ``allowed_origins``. An allowed origin may end in ``:*`` to allow any port
    (``http://localhost:*``)."""
    for allowed in allowed_origins:
        if allowed == origin:
            return True
        if allowed.endswith(":*"):
            prefix = allowed[:-1]
            rest = origin[len(prefix) :]
            if origin.startswith(prefix) and rest.isdigit():
                return True
            if origin == allowed[:-2]:
                return True
    return False


# ------------------------------------------------------------------ validation

SLUG_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
SLUG_RULE = "1 to 64 lowercase letters, digits and hyphens, not starting with a hyphen"
NAME_MAX = 200
FLAGS_TO_HOLD_MAX = 1000
THRESHOLD_KINDS = ("hold", "hide", "warn")
DEFAULT_PORTS = {"http": 80, "https": 443}
# A hostname as browsers put it in an Origin header: ASCII labels (IDNs as punycode).
_HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def check_slug(slug: str) -> str:
    """``slug`` if it may name a site (it appears in API paths and the embed code);
    Invalid otherwise, saying what a slug may contain."""
    if not SLUG_PATTERN.fullmatch(slug):
        raise Invalid(f"slug {slug!r} is not valid: use {SLUG_RULE} (e.g. my-blog)", field="slug")
    return slug


def check_name(name: str) -> str:
    """The site's display name, trimmed; Invalid when empty or too long."""
    name = name.strip()
    if not name:
        raise Invalid("name must not be empty", field="name")
    if len(name) > NAME_MAX:
        raise Invalid(f"name must be at most {NAME_MAX} characters", field="name")
    return name


def _origin_host(host: str, origin: str) -> str:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return f"[{address.compressed}]" if address.version == 6 else address.compressed
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise Invalid(f"origin {origin!r} has an invalid host name", field="origins") from None
    if len(ascii_host) > 253 or not all(
        _HOST_LABEL.fullmatch(label) for label in ascii_host.split(".")
    ):
        raise Invalid(f"origin {origin!r} has an invalid host name", field="origins")
    return ascii_host


def normalize_origin(value: str) -> str:
    """The origin as a browser sends it in its Origin header: ``scheme://host[:port]`` with
    the scheme and host in lower case and the scheme's default port left out, so that the
    stored entry compares equal to what browsers send. A port of ``*`` allows every port
    of the host. Invalid for anything that is not an http(s) origin: a path (but a lone
    ``/``), a query, a fragment, a user name, or no host."""
    text = value.strip()
    origin = text
    if not text:
        raise Invalid("an origin must not be empty", field="origins")
    try:
        parts = urlsplit(text)
    except ValueError:
        raise Invalid(f"origin {origin!r} is not a URL", field="origins") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not text.lower().startswith(scheme + "://"):
        raise Invalid(
            f"origin {origin!r} must start with http:// or https:// (e.g. https://blog.example.org)",
            field="origins",
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment or "?" in text or "#" in text:
        raise Invalid(
            f"origin {origin!r} must be only scheme, host and port: no path, query or fragment "
            "(the widget works on every page of the origin)",
            field="origins",
        )
    if "@" in parts.netloc:
        raise Invalid(f"origin {origin!r} must not contain a user name", field="origins")
    netloc = parts.netloc
    port: str | None = None
    wildcard = netloc.endswith(":*")
    if wildcard:
        netloc = netloc[:-2]
    host_part = netloc
    if netloc.startswith("["):
        host_part, _, rest = netloc[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise Invalid(f"origin {origin!r} has an invalid host name", field="origins")
            port = rest[1:]
    elif ":" in netloc:
        host_part, _, port = netloc.rpartition(":")
    if not host_part:
        raise Invalid(f"origin {origin!r} has no host", field="origins")
    host = _origin_host(host_part, origin)
    if wildcard:
        if port is not None:
            raise Invalid(f"origin {origin!r} has two ports", field="origins")
        return f"{scheme}://{host}:*"
    if port is not None:
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise Invalid(
                f"origin {origin!r} has an invalid port (1 to 65535, or * for any)",
                field="origins",
            )
        if int(port) != DEFAULT_PORTS[scheme]:
            return f"{scheme}://{host}:{int(port)}"
    return f"{scheme}://{host}"


def url_origin(url: str) -> str | None:
    """The origin of a page's ``url`` as a browser would send it (see normalize_origin),
    or None when it has none (not http(s), no host, a bad port), or when browsers and
    Python could read its host differently: a backslash (browsers end the host there:
    ``https://evil.example\\@blog.example/`` is evil.example to them, blog.example to
    urlsplit), user info (``@``), spaces or control characters."""
    if "\\" in url or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url.strip()):
        return None
    try:
        parts = urlsplit(url.strip())
        if "@" in parts.netloc:
            return None
        return normalize_origin(f"{parts.scheme}://{parts.netloc}")
    except (Invalid, ValueError):
        return None


def normalize_origins(values: Iterable[str]) -> list[str]:
    """Each origin normalized (``normalize_origin``), empty entries dropped, duplicates
    (after normalizing) removed, in the order given."""
    result: list[str] = []
    for value in values:
        if not value.strip():
            continue
        origin = normalize_origin(value)
        if origin not in result:
            result.append(origin)
    return result


WORD_LIST_MAX = 1000
_WORD_KIND = {"banned_words": "banned word", "suspect_words": "suspect word"}


def _words(values: Iterable[str], name: str) -> list[str]:
    """A word list as stored: entries stripped, blank and repeated ones dropped, each
    ``/pattern/`` checked (policy: RE2, at most PATTERN_MAX characters)."""
    words: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise Invalid(f"{name} must be text", field=name)
        word = value.strip()
        if not word or word in words:
            continue
        if policy.is_pattern(word):
            try:
                policy.compile_pattern(word)
            except policy.BadPattern as error:
                raise Invalid(
                    f"{_WORD_KIND.get(name, name)} {word} is not a pattern we can use "
                    f"({error}); write a regular expression between slashes, or a phrase "
                    "without them",
                    field=name,
                ) from None
        words.append(word)
    if len(words) > WORD_LIST_MAX:
        raise Invalid(f"{name}: at most {WORD_LIST_MAX} entries, not {len(words)}", field=name)
    return words


def check_word_list(lines: Iterable[str], name: str) -> list[str]:
    """The word list as it would be stored, or Invalid saying which entry is wrong: for the
    settings page's field and the command line, which refuse what update_settings does."""
    return _words(lines, name)


def _thresholds(values: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Per label ``{hold, hide, warn}`` in 0..1; a missing or null one is left out (off for
    hold and hide, "as hold" for warn)."""
    result: dict[str, dict[str, float]] = {}
    for label, limits in values.items():
        if not isinstance(limits, Mapping):
            raise Invalid(f"thresholds of {label} must be a mapping", field="thresholds")
        kept: dict[str, float] = {}
        for kind, limit in limits.items():
            if kind not in THRESHOLD_KINDS:
                raise Invalid(f"unknown threshold {kind!r} for {label}", field="thresholds")
            if limit is None:
                continue
            if isinstance(limit, bool) or not isinstance(limit, int | float) or not 0 <= limit <= 1:
                raise Invalid(f"{label} {kind} must be a number from 0 to 1", field="thresholds")
            kept[kind] = float(limit)
        result[label] = kept
    return result


def _flags_to_hold(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid("reports to hold must be a whole number", field="flags_to_hold")
    if not 0 <= value <= FLAGS_TO_HOLD_MAX:
        raise Invalid(f"reports to hold must be 0 to {FLAGS_TO_HOLD_MAX}", field="flags_to_hold")
    return value


def _ban_mode(value: Any) -> BanMode:
    try:
        return BanMode(value)
    except ValueError:
        raise Invalid(
            f"banned authors' comments are 'hold' or 'refuse', not {value!r}", field="ban_mode"
        ) from None


def _mode(value: Any) -> ModerationMode:
    try:
        return ModerationMode(value)
    except ValueError:
        raise Invalid(
            f"moderation mode must be 'post' or 'pre', not {value!r}", field="moderation_mode"
        ) from None


# The settings an admin may change, in the order they are checked, audited and reported.
SETTING_FIELDS = (
    "name", "moderation_mode", "thresholds", "banned_words", "suspect_words",
    "allowed_origins", "flags_to_hold", "store_analyzed_text", "ban_mode",
)  # fmt: skip


def clean_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """The settings in ``values`` checked and normalized as stored; Invalid (naming the
    field) for the first bad one or an unknown name."""
    unknown = set(values) - set(SETTING_FIELDS)
    if unknown:
        raise Invalid(f"unknown settings: {', '.join(sorted(unknown))}", field=min(unknown))
    cleaners: dict[str, Any] = {
        "name": check_name,
        "moderation_mode": _mode,
        "thresholds": _thresholds,
        "banned_words": lambda v: _words(v, "banned_words"),
        "suspect_words": lambda v: _words(v, "suspect_words"),
        "allowed_origins": normalize_origins,
        "flags_to_hold": _flags_to_hold,
        "store_analyzed_text": bool,
        "ban_mode": _ban_mode,
    }
    return {name: cleaners[name](values[name]) for name in SETTING_FIELDS if name in values}


# ------------------------------------------------------------------ create, change, list, delete


def _stored(value: Any) -> Any:
    return value.value if isinstance(value, (ModerationMode, BanMode)) else value


def create_site(
    session: Session,
    slug: str,
    name: str,
    origins: Iterable[str] = (),
    mode: ModerationMode | str = ModerationMode.POST,
    *,
    suspect_words: Iterable[str] = (),
    moderator: Moderator | None,
    now: datetime,
) -> Site:
    """A new site, its settings checked (Invalid naming the field) and its origins
    normalized; Conflict when the slug is taken. The creation is recorded in the site's
    settings history. The rest of its policy starts at the defaults: the scorer's
    thresholds, no banned words, 3 reports to hold."""
    slug = check_slug(slug.strip())
    settings = clean_settings(
        {"name": name, "allowed_origins": list(origins), "moderation_mode": mode,
         "suspect_words": list(suspect_words)}
    )  # fmt: skip
    if session.scalar(select(Site.id).where(Site.slug == slug)) is not None:
        raise Conflict(f"a site {slug!r} already exists", field="slug")
    site = Site(slug=slug, thresholds={}, banned_words=[], flags_to_hold=3,
                store_analyzed_text=False, **settings)  # fmt: skip
    try:
        # Two admins creating the same slug at once: the second learns it is taken.
        with savepoint(session):
            session.add(site)
    except IntegrityError:
        raise Conflict(f"a site {slug!r} already exists", field="slug") from None
    session.add(
        SettingsChange(
            site_id=site.id,
            moderator_id=moderator.id if moderator else None,
            field="created",
            old_value=None,
            new_value={key: _stored(value) for key, value in settings.items()},
            created_at=now,
        )
    )
    session.flush()
    return site


def update_settings(
    session: Session,
    site: Site,
    values: Mapping[str, Any],
    moderator: Moderator | None,
    now: datetime,
) -> list[str]:
    """Check the given settings (Invalid naming the field for the first bad one, and
    nothing changed), then apply them; each change is audited (who, old, new). Returns
    the names of the settings that changed."""
    cleaned = clean_settings(values)
    changed = []
    for name in SETTING_FIELDS:
        if name not in cleaned:
            continue
        old, new = getattr(site, name), cleaned[name]
        if old == new:
            continue
        setattr(site, name, new)
        session.add(
            SettingsChange(
                site_id=site.id,
                moderator_id=moderator.id if moderator else None,
                field=name,
                old_value=_stored(old),
                new_value=_stored(new),
                created_at=now,
            )
        )
        changed.append(name)
    session.flush()
    return changed


def settings_history(session: Session, site: Site, limit: int = 50) -> list[SettingsChange]:
    """The site's latest settings changes, newest first."""
    return list(
        session.scalars(
            select(SettingsChange)
            .where(SettingsChange.site_id == site.id)
            .order_by(SettingsChange.id.desc())
            .limit(limit)
        )
    )


@dataclass
class SiteSummary:
    """A site with how many threads and comments it has, by status."""

    site: Site
    threads: int = 0
    comments: dict[CommentStatus, int] = field(default_factory=dict)

    @property
    def comment_count(self) -> int:
        return sum(self.comments.values())


def list_sites(session: Session, site_ids: Collection[int] | None = None) -> list[SiteSummary]:
    """Every site (or those of ``site_ids``: a moderator's own) by slug, with its counts."""
    query = select(Site).order_by(Site.slug)
    if site_ids is not None:
        query = query.where(Site.id.in_(site_ids))
    summaries = {site.id: SiteSummary(site) for site in session.scalars(query)}
    if not summaries:
        return []
    thread_counts = session.execute(
        select(Thread.site_id, func.count(Thread.id))
        .where(Thread.site_id.in_(summaries))
        .group_by(Thread.site_id)
    )
    for site_id, count in thread_counts:
        summaries[site_id].threads = count
    comment_counts = session.execute(
        select(Thread.site_id, Comment.status, func.count(Comment.id))
        .join(Comment, Comment.thread_id == Thread.id)
        .where(Thread.site_id.in_(summaries))
        .group_by(Thread.site_id, Comment.status)
    )
    for site_id, status, count in comment_counts:
        summaries[site_id].comments[CommentStatus(status)] = count
    return list(summaries.values())


def summarize(session: Session, site: Site) -> SiteSummary:
    """The site's thread and comment counts."""
    return list_sites(session, [site.id])[0]


def delete_site(session: Session, site: Site, *, with_comments: bool = False) -> SiteSummary:
    """Delete the site with everything that belongs to it (threads, comments, their
    scores and history, webhooks, scoring keys, settings history; moderators stay and
    lose the site). Refused with SiteHasComments while it has comments, unless
    ``with_comments``. Returns what it had."""
    summary = summarize(session, site)
    if summary.comment_count and not with_comments:
        raise SiteHasComments(site.slug, summary.comment_count, summary.threads)
    # The database's ON DELETE CASCADE removes the rows under the site in one statement
    # (the ORM would load every thread to do it).
    statement = delete(Site).where(Site.id == site.id)
    if not with_comments:
        # A reader's first comment may land between the count and here: then the site
        # stays, and the caller is told, rather than the comment going unannounced.
        statement = statement.where(
            ~exists().where(Thread.site_id == Site.id, Comment.thread_id == Thread.id)
        )
    if session.execute(statement).rowcount == 0:  # type: ignore[attr-defined]
        late = summarize(session, site)
        raise SiteHasComments(site.slug, late.comment_count, late.threads)
    session.expunge(site)
    session.flush()
    forget_cached_sites()
    session.info[_SITE_CHANGED] = True
    return summary


def embed_code(public_url: str, slug: str) -> str:
    """The two lines of HTML a blog pastes where a page's comments go: the widget takes
    the thread from the page's path and finds the service from its script's URL."""
    script = html.escape(public_url.rstrip("/") + "/embed.js")
    return (
        f'<div id="comments" data-site="{html.escape(slug)}"></div>\n'
        f'<script src="{script}" async></script>'
    )
