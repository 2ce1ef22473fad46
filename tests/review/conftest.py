"""Moderator accounts and signed-in clients for the review pages."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from moderation.models import Comment, Moderator, Site
from moderation.types import CommentStatus, Role
from tests import factories
from tests.factories import PASSWORD


def account(
    session: Session, email: str, role: Role = Role.ADMIN, sites: list[Site] | None = None
) -> Moderator:
    return factories.moderator(session, email, role, sites or [])


def form_token(client: FlaskClient, path: str) -> str:
    """The CSRF token of the form on the page at ``path``."""
    page = client.get(path).get_data(as_text=True)
    return page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD) -> None:
    """Through the real form, with its CSRF token (the app runs with CSRF on)."""
    token = form_token(client, "/moderation/login")
    response = client.post(
        "/moderation/login", data={"email": email, "password": password, "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)


def csrf_of(client: FlaskClient) -> str:
    page = client.get("/moderation/").get_data(as_text=True)
    return page.split('name="csrf-token" content="')[1].split('"')[0]


@pytest.fixture
def admin_client(app: Flask, session: Session) -> FlaskClient:
    account(session, "admin@example.org")
    client = app.test_client()
    sign_in(client, "admin@example.org")
    return client


Poster = Callable[..., Comment]


@pytest.fixture
def held_comment(session: Session, site: Site) -> Poster:
    def post(
        body: str = "you are an idiot",
        status: CommentStatus = CommentStatus.HELD,
        parent: Comment | None = None,
        score: float = 0.9,
    ) -> Comment:
        return factories.with_status(
            session,
            site,
            body,
            status=status,
            top_score=score,
            parent=parent,
            thread="post-1",
            author="Reader",
        )

    return post
