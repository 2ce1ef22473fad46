"""Accessors for what ``init_app`` attaches to the application (inside a request or an
app context)."""

from __future__ import annotations

from flask import current_app

from moderation.scoring import Scorer


def get_scorer() -> Scorer:
    scorer: Scorer = current_app.extensions["moderation.scorer"]
    return scorer
