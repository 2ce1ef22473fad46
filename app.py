"""The application factory; `flask --app app` and gunicorn (`app:create_app()`) use it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the service: defaults from config/, then MODERATION_* environment, then
    ``test_config``. Migrations are never run here (`flask db upgrade` does that)."""
    from moderation import wiring

    app = Flask("moderation", instance_relative_config=True)
    app.config.from_object("config.default")
    app.config.from_prefixed_env("MODERATION")
    if test_config:
        app.config.from_mapping(test_config)
    wiring.init_app(app)
    return app
