"""``flask moderation ...`` commands."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from moderation.db import current_session, db
from moderation.models import Comment
from moderation.services.errors import DomainError, Invalid
from moderation.types import CommentStatus

moderation_cli = AppGroup("moderation", help="Comment moderation: bootstrap and workers.")


class BadInput(click.ClickException):
    """A value the command cannot take: exit code 2, as for click's own usage errors."""

    exit_code = 2


def domain_error(error: DomainError) -> click.ClickException:
    """A service's refusal as a one-line command error. An unknown site says how to
    create it, and which sites there are."""
    from moderation.services.sites import NoSuchSite, list_sites

    if isinstance(error, NoSuchSite):
        slugs = [summary.site.slug for summary in list_sites(current_session())]
        known = f" (sites: {', '.join(slugs)})" if slugs else ""
        return click.ClickException(
            f"{error.message}{known}; create it with: flask moderation site create "
            f"{error.slug} --name … --origin …"
        )
    if isinstance(error, Invalid):
        return BadInput(error.message)
    return click.ClickException(error.message)


@moderation_cli.command("bootstrap")
def bootstrap() -> None:
    """Ensure the demo site and an admin moderator exist (after `flask db upgrade`).

    The admin's login comes from MODERATION_ADMIN_EMAIL / MODERATION_ADMIN_PASSWORD;
    without a password one is generated and printed once."""
    from moderation.services.moderators import ensure_admin
    from moderation.services.sites import ensure_site

    config = current_app.config
    try:
        site, created = ensure_site(
            current_session(),
            config["DEMO_SITE_SLUG"],
            "Demo blog",
            allowed_origins=config["DEMO_SITE_ORIGINS"],
            suspect_words=config["DEFAULT_SUSPECT_WORDS"],
        )
    except DomainError as error:  # a bad MODERATION_DEMO_SITE_ORIGINS
        raise click.ClickException(f"MODERATION_DEMO_SITE_ORIGINS: {error.message}") from None
    email = config.get("ADMIN_EMAIL") or "admin@localhost"
    _, generated = ensure_admin(current_session(), email, config.get("ADMIN_PASSWORD"))
    db.session.commit()
    if created:
        click.echo(f"created site {site.slug!r}")
    if generated:
        click.echo("=" * 64)
        click.echo(f"admin moderator: {email}")
        click.echo(f"password:        {generated}")
        click.echo("(shown once; set MODERATION_ADMIN_PASSWORD to choose it)")
        click.echo("=" * 64)


@moderation_cli.command("worker")
@click.option("--batch", "batch_size", type=int, default=None, help="comments per claim")
@click.option("--concurrency", type=click.IntRange(1, 64), default=1,
              help="worker processes to run (each loads the model)")  # fmt: skip
@click.option("--lease", "lease_seconds", type=float, default=None, help="claim lease (s)")
@click.option("--poll", "poll_seconds", type=float, default=None, help="idle wait (s)")
@click.option("--once", is_flag=True, help="exit when no pending comment is left")
def worker_command(
    batch_size: int | None,
    concurrency: int,
    lease_seconds: float | None,
    poll_seconds: float | None,
    once: bool,
) -> None:
    """Score pending comments until SIGTERM/SIGINT (the current batch finishes first).
    Run as many as you need, on as many machines, against PostgreSQL."""
    if concurrency > 1:
        _supervise(concurrency, batch_size, lease_seconds, poll_seconds, once)
        return
    from moderation.current_scorer import get_scorer
    from moderation.services import learning
    from moderation.services.notifications import notifier_from_config
    from moderation.services.worker import Retention, Worker

    config = current_app.config
    worker = Worker(
        current_session(),
        get_scorer(),
        batch_size=batch_size or config["WORKER_BATCH_SIZE"],
        lease_seconds=lease_seconds or config["WORKER_LEASE_SECONDS"],
        poll_seconds=poll_seconds if poll_seconds is not None else config["WORKER_POLL_SECONDS"],
        max_attempts=config["WORKER_MAX_ATTEMPTS"],
        webhook_allow_private=config["WEBHOOK_ALLOW_PRIVATE"],
        notifier=notifier_from_config(config),
        learn=learning.Settings.from_config(config),
        retention=Retention.from_config(config),
    )

    def graceful(signum: int, frame: Any) -> None:
        click.echo(f"worker {worker.worker_id}: finishing the batch, then exiting", err=True)
        worker.stop()

    signal.signal(signal.SIGTERM, graceful)
    signal.signal(signal.SIGINT, graceful)
    click.echo(
        f"worker {worker.worker_id} (pid {os.getpid()}) scoring with {worker.scorer.version}"
    )
    sys.stdout.flush()
    scored = worker.run(once=once)
    click.echo(f"worker {worker.worker_id}: scored {scored} comments, exiting")


def _supervise(
    concurrency: int,
    batch_size: int | None,
    lease_seconds: float | None,
    poll_seconds: float | None,
    once: bool,
) -> None:
    """Run ``concurrency`` single worker processes; pass SIGTERM/SIGINT on to them and wait.
    A child that dies (not by our signal) is restarted, so one crash does not shrink
    the pool. Each child gets an equal share of the cores for the model's threads."""
    args = [sys.executable, "-m", "flask", "moderation", "worker"]
    for flag, value in (("--batch", batch_size), ("--lease", lease_seconds),
                        ("--poll", poll_seconds)):  # fmt: skip
        if value is not None:
            args += [flag, str(value)]
    if once:
        args.append("--once")
    env = dict(os.environ)
    env.setdefault("MODERATION_SCORER_THREADS", str(max(1, (os.cpu_count() or 1) // concurrency)))
    stopping = False

    def forward(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    children = [subprocess.Popen(args, env=env) for _ in range(concurrency)]  # noqa: S603
    click.echo(f"supervising {concurrency} workers: {', '.join(str(c.pid) for c in children)}")
    while True:
        alive = [c for c in children if c.poll() is None]
        if not alive and (stopping or once):
            break
        for index, child in enumerate(children):
            code = child.poll()
            if code is not None and code != 0 and not stopping:
                click.echo(f"worker pid {child.pid} exited with {code}; restarting", err=True)
                time.sleep(1)
                children[index] = subprocess.Popen(args, env=env)  # noqa: S603
        time.sleep(0.2)
    failed = [c.returncode for c in children if c.returncode]
    if failed:
        raise SystemExit(1)


@moderation_cli.command("rescore")
@click.option("--site", "site_slug", default=None, help="only this site")
@click.option("--since", type=click.DateTime(), default=None, help="only comments since (UTC)")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["visible", "held", "hidden"]),
    help="only comments with this status (repeatable; default all three)",
)
@click.option("--batch", "batch_size", type=click.IntRange(1, 10_000), default=64)
@click.option("--limit", type=int, default=None, help="stop after this many (resume later)")
def rescore_command(
    site_slug: str | None,
    since: datetime | None,
    statuses: tuple[str, ...],
    batch_size: int,
    limit: int | None,
) -> None:
    """Re-score stored comments with the current model, in batches with a progress bar.

    Resumable: comments whose current score already comes from this model are skipped,
    so an interrupted run continues where it stopped. The policy is re-applied only to
    comments no moderator decided (and readers' reports did not hold)."""
    from tqdm import tqdm

    from moderation.current_scorer import get_scorer
    from moderation.services.rescoring import (
        RESCORABLE,
        count_to_rescore,
        rescore_batch,
        rescore_query,
    )
    from moderation.types import CommentStatus, utcnow

    scorer = get_scorer()
    session = current_session()
    query = rescore_query(
        scorer,
        site_slug=site_slug,
        since=since.replace(tzinfo=UTC) if since else None,
        statuses=[CommentStatus(s) for s in statuses] or list(RESCORABLE),
    )
    total = count_to_rescore(session, query)
    if limit is not None:
        total = min(total, limit)
    click.echo(f"re-scoring {total} comments with {scorer.name} {scorer.version}")
    scored = changed = skipped = 0
    last_id = 0
    # No bar when there is nothing to do: tqdm would print an empty one twice (at the
    # start and at the end), "0comment [00:00, ?comment/s]".
    with tqdm(total=total, unit="comment", file=sys.stderr, disable=total == 0) as bar:
        while scored < total:
            ids = session.scalars(
                query.where(Comment.id > last_id).limit(min(batch_size, total - scored))
            ).all()
            if not ids:
                break
            result = rescore_batch(session, scorer, ids, utcnow())
            session.commit()  # each batch is durable: an interrupted run resumes after it
            last_id = ids[-1]
            scored += result.scored
            changed += result.changed
            skipped += result.skipped
            bar.update(result.scored)
    click.echo(f"re-scored {scored} comments; {changed} changed status")
    if skipped:
        click.echo(f"{skipped} changed while being scored; run rescore again to score them")


class _CountingReader:
    """A binary file that moves a progress bar by the bytes read: a stream's comments
    are not known until the end, its size is."""

    def __init__(self, stream: Any, bar: Any) -> None:
        self.stream = stream
        self.bar = bar

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.stream.read(size)
        self.bar.update(len(data))
        return data


@moderation_cli.command("import")
@click.argument("source", type=click.Choice(["wxr", "disqus", "isso"]))
@click.argument("path", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@click.option("--site", "site_slug", required=True, help="the site to import into")
@click.option("--score/--no-score", default=True, show_default=True,
              help="have the workers score the imported comments in the background")  # fmt: skip
@click.option("--apply-policy", is_flag=True,
              help="let the site's policy decide each one again once scored "
                   "(default: keep the status people gave it)")  # fmt: skip
@click.option("--dry-run", is_flag=True, help="read the file and report; write nothing")
def import_command(
    source: str, path: str, site_slug: str, score: bool, apply_policy: bool, dry_run: bool
) -> None:
    """Import a blog's existing comments: a WordPress export (wxr), a Disqus XML export
    (disqus) or Isso's SQLite database (isso).

    Threads keep their URL and title (the key is the page's path), replies their parents,
    comments their dates; approved comments are visible, unapproved held, spam, trash and
    deleted hidden; pingbacks and trackbacks are skipped.

    All or nothing: the import is one transaction, committed at the end, so a bad file
    (malformed or truncated XML, an invalid value, an id met twice) imports nothing and
    the message names the line. Idempotent: each comment remembers its source id, so
    importing the same file again adds nothing and a newer export only what is new."""
    from pathlib import Path

    from sqlalchemy.exc import SQLAlchemyError
    from tqdm import tqdm

    from moderation.services import importers
    from moderation.services.errors import DomainError
    from moderation.services.importers import disqus, isso, wxr
    from moderation.services.sites import get_site
    from moderation.types import ImportScoring, ImportSource, utcnow

    if apply_policy and not score:
        raise click.UsageError("--apply-policy needs the comments scored: drop --no-score")
    session = current_session()
    try:
        site = get_site(session, site_slug)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    scoring = (ImportScoring.DECIDE if apply_policy else ImportScoring.RECORD) if score else None
    file = Path(path)
    started = time.perf_counter()
    by_records = source == "isso"
    try:
        total = isso.count(file) if by_records else file.stat().st_size
        with (
            tqdm(
                total=total,
                unit="comment" if by_records else "B",
                unit_scale=not by_records,
                desc=f"importing {file.name}",
                file=sys.stderr,
            ) as bar,  # fmt: skip
            open(file, "rb") as raw,
        ):
            handled = 0

            def progress(result: importers.ImportResult) -> None:
                nonlocal handled
                done = result.imported + result.already + sum(result.skipped.values())
                if by_records:
                    bar.update(done - handled)
                handled = done
                rate = result.imported / max(time.perf_counter() - started, 1e-6)
                bar.set_postfix_str(f"{result.imported} comments, {rate:.0f} comments/s")

            records = (
                isso.parse(file)
                if by_records
                else (wxr if source == "wxr" else disqus).parse(_CountingReader(raw, bar))
            )
            result = importers.import_records(
                session,
                site,
                ImportSource(source),
                records,
                scoring=scoring,
                ip_secret=current_app.config["SECRET_KEY"],
                now=utcnow(),
                progress=progress,
            )
    except (importers.ImportFileError, OSError) as error:
        session.rollback()
        message = error.message if isinstance(error, DomainError) else str(error)
        raise click.ClickException(f"{file}: {message}; nothing was imported") from None
    except SQLAlchemyError as error:  # e.g. SQLite locked by a long write elsewhere
        session.rollback()
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise click.ClickException(
            f"{file}: the database refused the import ({reason}); nothing was imported, "
            "run it again"
        ) from None
    if dry_run:
        session.rollback()
        click.echo(f"dry run, nothing written: {result.summary()}")
        return
    session.commit()
    seconds = time.perf_counter() - started
    click.echo(result.summary())
    if result.imported:
        click.echo(f"{result.imported / max(seconds, 1e-6):.0f} comments/s over {seconds:.1f} s")
    if scoring is not None and result.imported:
        click.echo(
            f"the workers score the {result.imported} new comments in the background"
            + ("; the site's policy then decides each again" if apply_policy else "")
            + f"; `flask moderation import-backlog --site {site.slug}` shows how many "
            "visible ones the policy would hold today"
        )


@moderation_cli.command("import-backlog")
@click.option("--site", "site_slug", required=True, help="the site whose imports to count")
def import_backlog_command(site_slug: str) -> None:
    """How many visible imported comments the site's policy would hold today, from the
    scores the workers gave them."""
    from moderation.current_scorer import get_scorer
    from moderation.services.errors import DomainError
    from moderation.services.importers import imported_backlog
    from moderation.services.sites import get_site

    session = current_session()
    try:
        site = get_site(session, site_slug)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    backlog = imported_backlog(session, site, get_scorer().default_thresholds)
    click.echo(
        f"{backlog.would_hold} of {backlog.scored} scored visible imported comments would be "
        f"held today ({backlog.visible} visible imported, {backlog.waiting} still to score)"
    )


@moderation_cli.command("prune")
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=None,
    help="delete what is older than this (default: RETENTION_DAYS)",
)
def prune_command(days: int | None) -> None:
    """Delete finished webhook deliveries and moderators' mails, dispatched events, ended
    sign-ins and expired idempotency keys older than the retention (the worker does this
    once an hour). Comments, scores and the audit trail are never pruned."""
    from datetime import timedelta

    from moderation.services import retention
    from moderation.types import utcnow

    config = current_app.config
    keep_days = days or config["RETENTION_DAYS"]
    if not keep_days:
        raise click.ClickException("RETENTION_DAYS is 0 (keep everything): pass --days N")
    session = current_session()
    pruned = retention.prune(
        session,
        utcnow(),
        timedelta(days=keep_days),
        timedelta(days=config["SESSION_LIFETIME_DAYS"]),
    )
    session.commit()
    click.echo(f"pruned what was older than {keep_days} days: {pruned.summary()}")


@moderation_cli.command("create-moderator")
@click.argument("email")
@click.option("--role", type=click.Choice(["moderator", "admin"]), default="moderator")
@click.option("--site", "site_slugs", multiple=True, help="a site they moderate (repeatable)")
@click.option("--password", default=None, help="default: generate one and print it once")
def create_moderator_command(
    email: str, role: str, site_slugs: tuple[str, ...], password: str | None
) -> None:
    """Create a moderator (or admin) account for the review pages."""
    from moderation.services.errors import DomainError
    from moderation.services.moderators import create_moderator
    from moderation.services.sites import get_site
    from moderation.types import Role

    session = current_session()
    try:
        sites = [get_site(session, slug) for slug in site_slugs]
        moderator, generated = create_moderator(session, email, Role(role), sites, password)
    except DomainError as error:
        raise domain_error(error) from None
    session.commit()
    where = "all sites" if role == "admin" else ", ".join(site_slugs) or "no site yet"
    click.echo(f"created {role} {moderator.email} ({where})")
    if generated:
        click.echo(f"password (shown once): {generated}")


site_cli = AppGroup("site", help="Sites: the blogs this service moderates.")
moderation_cli.add_command(site_cli)

MODES = click.Choice(["post", "pre"])


def _describe(site: Any) -> str:
    mode = {"post": "shown unless held", "pre": "every comment held"}[site.moderation_mode.value]
    origins = ", ".join(site.allowed_origins) or "none (browsers cannot use the widget yet)"
    return (f"{site.slug!r} ({site.name}): {site.moderation_mode.value}-moderation ({mode}); "
            f"origins: {origins}")  # fmt: skip


@site_cli.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="what moderators see, e.g. 'My Blog'")
@click.option(
    "--origin",
    "origins",
    multiple=True,
    help="where the blog's pages are, e.g. https://blog.example.org (repeatable)",
)
@click.option(
    "--mode",
    type=MODES,
    default="post",
    show_default=True,
    help="post: shown unless the policy holds it; pre: every comment held",
)
def site_create(slug: str, name: str, origins: tuple[str, ...], mode: str) -> None:
    """Create site SLUG (lowercase letters, digits, hyphens) and print the two lines of
    HTML to paste into the blog."""
    from moderation.services.sites import create_site, embed_code
    from moderation.types import utcnow

    session = current_session()
    try:
        site = create_site(session, slug, name, origins, mode, moderator=None, now=utcnow(),
                           suspect_words=current_app.config["DEFAULT_SUSPECT_WORDS"])  # fmt: skip
    except DomainError as error:
        raise domain_error(error) from None
    session.commit()
    click.echo(f"created site {_describe(site)}")
    click.echo("paste where a page's comments go:")
    for line in embed_code(str(current_app.config["PUBLIC_URL"]), site.slug).splitlines():
        click.echo(f"  {line}")
    click.echo(f"moderators: flask moderation create-moderator EMAIL --site {site.slug}")


@site_cli.command("list")
def site_list() -> None:
    """Every site with its mode, comment counts and allowed origins."""
    from moderation.services.sites import list_sites

    summaries = list_sites(current_session())
    if not summaries:
        click.echo("no sites; create one with: flask moderation site create SLUG --name NAME "
                   "--origin https://blog.example.org")  # fmt: skip
        return
    click.echo(f"{'slug':20} {'name':24} {'mode':5} {'comments':>8} {'held':>5}  origins")
    for summary in summaries:
        site = summary.site
        held = summary.comments.get(CommentStatus.HELD, 0)
        origins = " ".join(site.allowed_origins)
        click.echo(f"{site.slug:20} {site.name[:24]:24} {site.moderation_mode.value:5} "
                   f"{summary.comment_count:>8} {held:>5}  {origins}")  # fmt: skip


@site_cli.command("update")
@click.argument("slug")
@click.option("--name", default=None, help="a new name")
@click.option("--origin", "origins", multiple=True,
              help="replaces the allowed origins with these (repeatable)")  # fmt: skip
@click.option("--add-origin", "added", multiple=True, help="an origin to allow as well")
@click.option("--remove-origin", "removed", multiple=True, help="an origin to allow no longer")
@click.option("--mode", type=MODES, default=None, help="post or pre")
@click.option("--add-suspect", "add_suspect", multiple=True,
              help="a phrase, or a /pattern/, that holds a comment (repeatable)")  # fmt: skip
@click.option("--remove-suspect", "remove_suspect", multiple=True,
              help="a suspect entry to drop, as listed")  # fmt: skip
@click.option("--add-banned", "add_banned", multiple=True,
              help="a phrase, or a /pattern/, that hides a comment (repeatable)")  # fmt: skip
@click.option("--remove-banned", "remove_banned", multiple=True,
              help="a banned entry to drop, as listed")  # fmt: skip
def site_update(
    slug: str,
    name: str | None,
    origins: tuple[str, ...],
    added: tuple[str, ...],
    removed: tuple[str, ...],
    mode: str | None,
    add_suspect: tuple[str, ...],
    remove_suspect: tuple[str, ...],
    add_banned: tuple[str, ...],
    remove_banned: tuple[str, ...],
) -> None:
    """Change site SLUG's name, origins, moderation mode or word lists (thresholds are on
    the Sites page). A word-list entry is a phrase, or a regular expression between
    slashes (/kil+ (you|u)/). Each change is recorded in the site's settings history; a bad
    entry changes nothing."""
    from moderation.services.sites import get_site, normalize_origin, update_settings
    from moderation.types import utcnow

    if origins and (added or removed):
        raise BadInput(
            "--origin replaces every origin: use it alone, or --add-origin/--remove-origin"
        )
    session = current_session()
    try:
        site = get_site(session, slug)
        values: dict[str, Any] = {}
        if name is not None:
            values["name"] = name
        if mode is not None:
            values["moderation_mode"] = mode
        if origins:
            values["allowed_origins"] = list(origins)
        elif added or removed:
            current = list(site.allowed_origins)
            for origin in removed:
                normalized = normalize_origin(origin)
                if normalized not in current:
                    raise BadInput(f"{normalized} is not an origin of site {slug!r} "
                                   f"({', '.join(current) or 'it has none'})")  # fmt: skip
                current.remove(normalized)
            values["allowed_origins"] = current + list(added)
        for field, add, drop in (
            ("suspect_words", add_suspect, remove_suspect),
            ("banned_words", add_banned, remove_banned),
        ):
            if add or drop:
                values[field] = _edited_list(getattr(site, field) or [], add, drop, field, slug)
        if not values:
            raise BadInput("nothing to change: give --name, --origin, --add-origin, "
                           "--remove-origin, --mode, --add-suspect, --remove-suspect, "
                           "--add-banned or --remove-banned")  # fmt: skip
        changed = update_settings(session, site, values, None, utcnow())
    except DomainError as error:
        raise domain_error(error) from None
    session.commit()
    click.echo(f"updated {', '.join(changed) or 'nothing (same values)'}: site {_describe(site)}")


def _edited_list(
    current: list[str], add: tuple[str, ...], drop: tuple[str, ...], field: str, slug: str
) -> list[str]:
    """A site's word list with ``drop`` taken out and ``add`` put in (checked later, with
    the rest of the change, by update_settings)."""
    words = list(current)
    for entry in drop:
        if entry.strip() not in words:
            kind = field.replace("_words", "")
            raise BadInput(f"{entry.strip()!r} is not a {kind} entry of site {slug!r}")
        words.remove(entry.strip())
    return words + [entry for entry in add if entry.strip() not in words]


@site_cli.command("delete")
@click.argument("slug")
@click.option("--with-comments", is_flag=True, help="delete the site even if it has comments")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def site_delete(slug: str, with_comments: bool, yes: bool) -> None:
    """Delete site SLUG with its webhooks, scoring keys and settings history. Refused while
    it has comments, unless --with-comments (they are deleted with it)."""
    from moderation.services.sites import SiteHasComments, delete_site, get_site, summarize

    session = current_session()
    try:
        site = get_site(session, slug)
    except DomainError as error:
        raise domain_error(error) from None
    summary = summarize(session, site)
    if summary.comment_count and not with_comments:
        refusal = SiteHasComments(slug, summary.comment_count, summary.threads)
        raise click.ClickException(f"{refusal.message}: pass --with-comments to delete them")
    count = summary.comment_count
    what = f" and its {count} comment{'' if count == 1 else 's'}" if count else ""
    if not yes and not click.confirm(f"Delete site {slug!r}{what}? This cannot be undone"):
        raise click.ClickException("nothing deleted")
    try:
        delete_site(session, site, with_comments=with_comments)
    except DomainError as error:  # a comment arrived since the count above
        raise domain_error(error) from None
    session.commit()
    click.echo(f"deleted site {slug!r}{what}")


model_cli = AppGroup("model", help="The scoring model: export it for the fast path.")
moderation_cli.add_command(model_cli)


@model_cli.command("export-onnx")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="folder to write (model, tokenizer, moderation-model.json)",
)
@click.option("--int8", is_flag=True, help="dynamic int8 quantization (smaller, faster)")
def export_onnx_command(out_dir: str, int8: bool) -> None:
    """Export the configured Detoxify model to ONNX for the `onnx` scorer
    (MODERATION_SCORER=onnx MODERATION_ONNX_MODEL_DIR=DIR)."""
    from moderation.scoring import load_scorer
    from moderation.scoring.detoxify import DetoxifyScorer
    from moderation.scoring.export import export_onnx
    from moderation.scoring.onnx import OnnxScorer

    source = load_scorer("detoxify", current_app.config)
    if not isinstance(source, DetoxifyScorer):  # load_scorer("detoxify") always is one
        raise click.ClickException("the configured model is not a Detoxify model")
    click.echo(f"exporting {source.version}{' with int8 quantization' if int8 else ''}")
    model_file = export_onnx(source, out_dir, int8=int8)
    exported = OnnxScorer(out_dir)
    samples = ["Thanks, this was a helpful post.", "you are an idiot",
               "I will find you and hurt you " * 3]  # fmt: skip
    difference = max(
        abs(a[label] - b[label])
        for a, b in zip(source.score(samples), exported.score(samples), strict=True)
        for label in a
    )
    size = model_file.stat().st_size / 1e6
    click.echo(f"wrote {model_file} ({size:.1f} MB); largest difference from the torch model "
               f"on {len(samples)} samples: {difference:.4f}")  # fmt: skip
    click.echo(f"use it: MODERATION_SCORER=onnx MODERATION_ONNX_MODEL_DIR={out_dir}")


perspective_key_cli = AppGroup(
    "perspective-key", help="Keys for the Perspective-compatible scoring API, per site."
)
moderation_cli.add_command(perspective_key_cli)


@perspective_key_cli.command("create")
@click.option("--site", "site_slug", required=True, help="the site the key scores for")
@click.option("--name", default="perspective", show_default=True, help="what the key is for")
@click.option("--rate", type=float, default=10.0, show_default=True,
              help="requests per second allowed with this key")  # fmt: skip
def perspective_key_create(site_slug: str, name: str, rate: float) -> None:
    """Create a key and print it once: only its sha256 is kept."""
    from moderation.services.errors import DomainError
    from moderation.services.perspective import create_key
    from moderation.types import utcnow

    try:
        key, plaintext = create_key(current_session(), site_slug, name, rate, now=utcnow())
    except DomainError as exc:
        raise domain_error(exc) from None
    db.session.commit()
    click.echo(f"created scoring key {key.id} ({key.name!r}) for site {site_slug!r}, "
               f"{key.rate_per_second:g} requests per second")  # fmt: skip
    click.echo(f"key: {plaintext}")
    click.echo("(shown once: only its hash is stored)")


@perspective_key_cli.command("list")
@click.option("--site", "site_slug", default=None, help="only this site's keys")
def perspective_key_list(site_slug: str | None) -> None:
    """Every key with its site, rate, request count and state (the keys themselves are
    not stored and cannot be shown)."""
    from moderation.services.errors import DomainError
    from moderation.services.perspective import list_keys

    try:
        keys = list_keys(current_session(), site_slug)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    if not keys:
        click.echo("no scoring keys")
        return
    click.echo(f"{'id':>4}  {'site':16} {'name':24} {'rate/s':>7} {'requests':>9}  "
               f"{'last used':20} state")  # fmt: skip
    for key in keys:
        last = key.last_used_at.strftime("%Y-%m-%d %H:%M:%S") if key.last_used_at else "never"
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        click.echo(f"{key.id:>4}  {key.site.slug:16} {key.name:24} {key.rate_per_second:>7g} "
                   f"{key.request_count:>9}  {last:20} {state}")  # fmt: skip


@perspective_key_cli.command("revoke")
@click.argument("key_id", type=int)
def perspective_key_revoke(key_id: int) -> None:
    """Revoke key KEY_ID (from `list`): requests with it are refused from now on."""
    from moderation.services.errors import DomainError
    from moderation.services.perspective import revoke_key
    from moderation.types import utcnow

    try:
        key = revoke_key(current_session(), key_id, now=utcnow())
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(f"revoked scoring key {key.id} ({key.name!r}) of site {key.site.slug!r}")


webhook_cli = AppGroup("webhook", help="Webhooks: a site's comment events POSTed to a URL.")
moderation_cli.add_command(webhook_cli)


@webhook_cli.command("add")
@click.option("--site", "site_slug", required=True, help="the site whose events it receives")
@click.option("--url", required=True, help="where to POST them (http or https)")
@click.option("--events", required=True, help="comma-separated, e.g. comment.held,comment.hidden")
@click.option("--secret", default=None, help="signing secret (default: a new random one)")
def webhook_add(site_slug: str, url: str, events: str, secret: str | None) -> None:
    """Add a webhook; its signing secret is printed once."""
    from moderation.services.errors import DomainError
    from moderation.services.webhooks import add_webhook
    from moderation.types import utcnow

    try:
        webhook = add_webhook(
            current_session(),
            site_slug,
            url,
            events.split(","),
            utcnow(),
            secret=secret,
            allow_private=current_app.config["WEBHOOK_ALLOW_PRIVATE"],
        )
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(f"added webhook {webhook.id} for site {site_slug!r}: {webhook.url} "
               f"({', '.join(webhook.events)})")  # fmt: skip
    if secret is None:
        click.echo(f"signing secret: {webhook.secret}")
        click.echo("(shown once: keep it where the receiver checks signatures)")


@webhook_cli.command("list")
@click.option("--site", "site_slug", default=None, help="only this site's webhooks")
def webhook_list(site_slug: str | None) -> None:
    """Every webhook with its events and how its deliveries stand."""
    from moderation.services.errors import DomainError
    from moderation.services.webhooks import delivery_counts, list_webhooks

    session = current_session()
    try:
        hooks = list_webhooks(session, site_slug)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    if not hooks:
        click.echo("no webhooks")
        return
    for hook in hooks:
        counts = delivery_counts(session, hook.id)
        standing = ", ".join(f"{count} {status}" for status, count in counts.items())
        click.echo(f"{hook.id:>4}  {hook.site.slug:16} {hook.url}  [{', '.join(hook.events)}]  "
                   f"{standing}")  # fmt: skip


@webhook_cli.command("remove")
@click.argument("webhook_id", type=int)
def webhook_remove(webhook_id: int) -> None:
    """Remove webhook WEBHOOK_ID (from `list`) and its deliveries."""
    from moderation.services.errors import DomainError
    from moderation.services.webhooks import remove_webhook

    try:
        remove_webhook(current_session(), webhook_id)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(f"removed webhook {webhook_id}")


@webhook_cli.command("test")
@click.argument("webhook_id", type=int)
def webhook_test(webhook_id: int) -> None:
    """Send a signed `ping` to webhook WEBHOOK_ID now and say how it answered."""
    from moderation.services.errors import DomainError
    from moderation.services.webhooks import send_test

    try:
        outcome = send_test(
            current_session(), webhook_id, current_app.config["WEBHOOK_ALLOW_PRIVATE"]
        )
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    if not outcome.delivered:
        raise click.ClickException(
            f"webhook {webhook_id} did not take the ping: {outcome.error} "
            f"({outcome.duration_ms:.0f} ms)"
        )
    click.echo(f"webhook {webhook_id} answered {outcome.status} in {outcome.duration_ms:.0f} ms")


@moderation_cli.command("export")
@click.option("--site", "site_slug", required=True, help="the site to export")
@click.option("--format", "format_", type=click.Choice(["json", "wxr"]), default="json",
              show_default=True, help="our JSON, or WordPress's WXR")  # fmt: skip
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, allow_dash=True),
              help="the file to write ('-' for standard output)")  # fmt: skip
@click.option("--include-emails", is_flag=True,
              help="include commenters' email addresses (left out unless asked)")  # fmt: skip
def export_command(site_slug: str, format_: str, out_path: str, include_emails: bool) -> None:
    """Write every thread and comment of a site, with parents, statuses and dates.

    The file appears only once complete: it is written beside its final name and renamed
    at the end, so an interrupted export never leaves half a file under that name."""
    import tempfile
    from pathlib import Path

    from moderation.services.errors import DomainError
    from moderation.services.export import blog_address, write
    from moderation.services.sites import get_site
    from moderation.types import utcnow

    session = current_session()
    try:
        site = get_site(session, site_slug)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    base_url = blog_address(site, current_app.config["PUBLIC_URL"])

    def export_to(out: Any) -> Any:
        return write(session, site, out, utcnow(), format=format_, base_url=base_url,
                     include_emails=include_emails)  # fmt: skip

    if out_path == "-":
        counts = export_to(sys.stdout)
        sys.stdout.flush()
    else:
        target = Path(out_path)
        if not target.parent.is_dir():
            raise click.ClickException(
                f"no directory {str(target.parent)!r} to write {out_path!r} in"
            )
        try:
            handle, temporary = tempfile.mkstemp(
                dir=target.parent, prefix=f".{target.name}.", suffix=".part"
            )
        except OSError as error:
            raise click.ClickException(f"cannot write in {str(target.parent)!r}: "
                                       f"{error.strerror}") from None  # fmt: skip
        try:
            with open(handle, "w", encoding="utf-8") as out:
                counts = export_to(out)
            os.replace(temporary, target)
        except OSError as error:  # the disk filled up, the folder went away...
            os.unlink(temporary)
            raise click.ClickException(f"could not write {out_path!r}: {error.strerror}") from None
        except BaseException:
            os.unlink(temporary)
            raise
    emails = "with" if include_emails else "without"
    click.echo(f"exported {counts.comments} comments in {counts.threads} threads of "
               f"{site_slug!r} as {format_} ({emails} email addresses)",
               err=out_path == "-")  # fmt: skip


@moderation_cli.command("evaluate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.option("--site", "site_slug", default=None,
              help="whose policy to apply (default: the demo site's)")  # fmt: skip
@click.option("--scorer", "scorer_name", type=click.Choice(["lite", "detoxify", "onnx"]),
              default=None, help="score with this model (default: the configured one)")  # fmt: skip
@click.option("--report", "report_dir", type=click.Path(file_okay=False, path_type=str),
              default=None, help="also write DIR/index.html with ROC and PR curves")  # fmt: skip
@click.option("--limit", type=click.IntRange(min=1), default=None, help="only the first N texts")
@click.option("--batch", "batch_size", type=click.IntRange(1, 10_000), default=64)
def evaluate_command(
    file: str,
    site_slug: str | None,
    scorer_name: str | None,
    report_dir: str | None,
    limit: int | None,
    batch_size: int,
) -> None:
    """Measure the scorer and a site's policy on a labelled CSV, TSV or JSON Lines file
    (Jigsaw's six label columns, Davidson's `class`, or `text,label`): ROC-AUC and PR-AUC
    per label, precision and recall at the hold and hide thresholds, what the policy
    would do with each text, and the texts it got wrong. Reads only: changes nothing."""
    from dataclasses import replace
    from pathlib import Path

    from tqdm import tqdm

    from moderation.current_scorer import get_scorer
    from moderation.models import Site
    from moderation.scoring import ScorerUnavailable, load_scorer
    from moderation.services import evaluation
    from moderation.services.evaluation_report import html_report, text_report
    from moderation.services.sites import NoSuchSite, get_site
    from moderation.types import ModerationMode

    config = current_app.config
    try:
        data = evaluation.read_labelled(file)
    except evaluation.LabelledSetError as error:
        raise BadInput(str(error)) from None
    if limit is not None and limit < len(data.texts):
        data = replace(
            data,
            texts=data.texts[:limit],
            labels={name: flags[:limit] for name, flags in data.labels.items()},
        )
    slug = site_slug or config["DEMO_SITE_SLUG"]
    try:
        site = get_site(current_session(), slug)
        policy_name = f"site {slug!r}"
    except NoSuchSite as error:
        if site_slug is not None:
            raise domain_error(error) from None
        # No demo site yet (before `flask moderation bootstrap`): the policy it would get.
        site = Site(
            slug=slug,
            moderation_mode=ModerationMode.POST,
            thresholds={},
            banned_words=[],
            suspect_words=list(config["DEFAULT_SUSPECT_WORDS"]),
        )
        policy_name = "the default policy (no site yet)"
    try:
        scorer = load_scorer(scorer_name, config) if scorer_name else get_scorer()
    except ScorerUnavailable as error:
        raise click.ClickException(str(error)) from None
    with tqdm(total=len(data.texts), unit="text", file=sys.stderr, desc="scoring") as bar:
        scores = evaluation.score_texts(scorer, data.texts, batch_size, bar.update)
    result = evaluation.evaluate(data, scores, site, scorer)
    click.echo(text_report(result, policy_name))
    if report_dir:
        out = Path(report_dir)
        try:
            out.mkdir(parents=True, exist_ok=True)
            (out / "index.html").write_text(html_report(result, policy_name), encoding="utf-8")
        except OSError as error:
            raise click.ClickException(f"{report_dir}: cannot write the report ({error})") from None
        click.echo(f"\nreport: {out / 'index.html'}")


@moderation_cli.command("learn")
@click.option("--site", "site_slug", required=True, help="the site whose moderators to learn from")
@click.option(
    "--off",
    "switch",
    flag_value="off",
    default=None,
    help="switch the learned calibration off for the site (the thresholds decide)",
)
@click.option("--on", "switch", flag_value="on",
              help="switch it back on (used whenever a learning run went live)")  # fmt: skip
def learn_command(site_slug: str, switch: str | None) -> None:
    """Learn the site's standards from its moderators' decisions: fit a calibration on the
    scorer's probabilities and the policy's rules, cross-validate it against the site's
    thresholds, and put it live only if it is no worse on both counts and better on one:
    fewer held comments that moderators approved at the same recall of the ones they hid,
    or more of those held at no more false alarms. Prints both counts before and after."""
    from moderation.current_scorer import get_scorer
    from moderation.services import learning, policy
    from moderation.services.sites import NoSuchSite, get_site
    from moderation.types import utcnow

    session = current_session()
    try:
        site = get_site(session, site_slug)
    except NoSuchSite as error:
        raise domain_error(error) from None
    if switch is not None:
        changed = learning.set_learned_policy(session, site, switch == "on", None, utcnow())
        db.session.commit()
        state = "on" if site.learned_policy else "off"
        click.echo(
            f"site {site.slug!r}: learned calibration {state}"
            + ("" if changed else " already")
            + ("" if site.learned_policy else "; the thresholds decide")
        )
        return
    settings = learning.Settings.from_config(current_app.config)
    scorer = get_scorer()
    outcome = learning.learn(
        session,
        site,
        scorer.name,
        scorer.default_thresholds,
        minimum=settings.minimum,
        recall_tolerance=settings.recall_tolerance,
        now=utcnow(),
        rescore=policy.rescorer(scorer),
    )
    db.session.commit()
    run = outcome.calibration
    click.echo(
        f"site {site.slug!r}: {run.approved} approved and {run.hidden} hidden comments "
        f"with a {run.scorer} score"
    )
    figures = run.figures or {}
    if "before" in figures:
        click.echo(f"cross-validated on its own decisions ({figures['folds']} folds):")
        click.echo(f"  {'':<24}{'held, then approved':>22}{'hidden ones held':>22}")
        for name, key in (("the thresholds", "before"), ("learned calibration", "after")):
            f = learning.Figures.from_json(figures[key])
            click.echo(
                f"  {name:<24}{f'{f.false_alarms} of {f.approved}':>22}"
                f"{f'{f.caught} of {f.hidden} ({f.recall:.0%})':>22}"
            )
        if run.threshold is not None:
            click.echo(f"  holds at: this site's moderators would hide it ≥ {run.threshold:.2f}")
        for label, limits in (run.suggested_thresholds or {}).items():
            click.echo(
                f"suggested without it: {label} hold {limits['current']:.2f} → {limits['hold']:.2f}"
            )
    click.echo(run.note)
