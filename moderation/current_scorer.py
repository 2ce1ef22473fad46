"""The current application's scorer: accessors for the scorer slot that
``wiring.init_app`` attaches to the application (inside a request or an app context)."""

from __future__ import annotations

from flask import current_app

from moderation.scoring import Scorer, ScorerSlot


def _slot() -> ScorerSlot:
    slot: ScorerSlot = current_app.extensions["moderation.scorer"]
    return slot


def get_scorer() -> Scorer:
    """The configured scorer, loaded on first use (ScorerUnavailable if it cannot run)."""
    return _slot().get().scorer


def get_scorer_warning() -> str | None:
    """Why the service scores with a weaker model than configured, for moderator pages."""
    return _slot().get().warning
