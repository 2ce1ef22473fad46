"""``flask moderation ...`` commands."""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from moderation.db import current_session, db

moderation_cli = AppGroup("moderation", help="Comment moderation: bootstrap and workers.")


@moderation_cli.command("bootstrap")
def bootstrap() -> None:
    """Ensure the demo site and an admin moderator exist (after `flask db upgrade`).

    The admin's login comes from MODERATION_ADMIN_EMAIL / MODERATION_ADMIN_PASSWORD;
    without a password one is generated and printed once."""
    from moderation.services.moderators import ensure_admin
    from moderation.services.sites import ensure_site

    config = current_app.config
    site, created = ensure_site(
        current_session(),
        config["DEMO_SITE_SLUG"],
        "Demo blog",
        allowed_origins=config["DEMO_SITE_ORIGINS"],
        suspect_words=config["DEFAULT_SUSPECT_WORDS"],
    )
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
@click.option("--lease", "lease_seconds", type=float, default=None, help="claim lease (s)")
@click.option("--poll", "poll_seconds", type=float, default=None, help="idle wait (s)")
@click.option("--once", is_flag=True, help="exit when no pending comment is left")
def worker_command(
    batch_size: int | None, lease_seconds: float | None, poll_seconds: float | None, once: bool
) -> None:
    """Score pending comments in this process until SIGTERM/SIGINT (the current batch
    finishes first). Run as many as you need against PostgreSQL."""
    from moderation.runtime import get_scorer
    from moderation.services.worker import Worker

    config = current_app.config
    worker = Worker(
        current_session(),
        get_scorer(),
        batch_size=batch_size or config["WORKER_BATCH_SIZE"],
        lease_seconds=lease_seconds or config["WORKER_LEASE_SECONDS"],
        poll_seconds=poll_seconds if poll_seconds is not None else config["WORKER_POLL_SECONDS"],
        max_attempts=config["WORKER_MAX_ATTEMPTS"],
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
