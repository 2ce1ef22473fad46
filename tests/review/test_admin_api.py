"""The token-authenticated admin API for automation."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.models import ApiToken, Site
from moderation.services import moderators
from moderation.types import CommentStatus, Role, utcnow
from tests.conftest import database_state, make_site
from tests.review.conftest import Poster, account


def token_for(
    session: Session,
    email: str = "bot@example.org",
    role: Role = Role.ADMIN,
    sites: list[Site] | None = None,
) -> str:
    person = account(session, email, role, sites)
    _, secret = moderators.create_api_token(session, person, "ci", utcnow())
    session.commit()
    return secret


def test_without_a_valid_token_nothing_is_shown_or_changed(
    client: FlaskClient, session: Session, held_comment: Poster
) -> None:
    comment = held_comment()
    before = database_state(session)
    for headers in ({}, {"Authorization": "Bearer mod_wrong"}, {"Authorization": "Basic x"}):
        response = client.get("/api/v1/moderation/queue", headers=headers)
        assert response.status_code == 401
        assert response.mimetype == "application/problem+json"
        assert response.headers["WWW-Authenticate"] == "Bearer"
        response = client.post(
            f"/api/v1/moderation/comments/{comment.id}/decision",
            json={"action": "approve"},
            headers=headers,
        )
        assert response.status_code == 401
    assert database_state(session) == before


def test_queue_and_decision_with_a_token(
    client: FlaskClient, session: Session, held_comment: Poster
) -> None:
    comment = held_comment("a rude remark", score=0.93)
    auth = {"Authorization": f"Bearer {token_for(session)}"}
    queue = client.get("/api/v1/moderation/queue?tab=held&site=blog", headers=auth).json
    assert queue["total"] == 1
    [item] = queue["items"]
    assert (item["id"], item["status"], item["version"]) == (comment.id, "held", comment.version)
    response = client.post(
        f"/api/v1/moderation/comments/{comment.id}/decision",
        headers=auth,
        json={"action": "approve", "reason": "context makes it fine", "version": item["version"]},
    )
    assert response.status_code == 200
    assert response.json["status"] == "visible"
    assert client.get(f"/api/v1/comments/{comment.id}").status_code == 200
    session.expire_all()
    action = comment.actions[-1]
    assert action.reason == "context makes it fine"
    assert action.moderator is not None and action.moderator.email == "bot@example.org"


def test_a_stale_version_is_a_409_naming_who_decided(
    client: FlaskClient, session: Session, held_comment: Poster
) -> None:
    comment = held_comment()
    auth = {"Authorization": f"Bearer {token_for(session)}"}
    seen = comment.version
    client.post(
        f"/api/v1/moderation/comments/{comment.id}/decision",
        headers=auth,
        json={"action": "hide", "version": seen},
    )
    response = client.post(
        f"/api/v1/moderation/comments/{comment.id}/decision",
        headers=auth,
        json={"action": "approve", "version": seen},
    )
    assert response.status_code == 409
    assert "already decided by bot@example.org: it is now hidden" in response.json["detail"]


def test_a_moderator_token_reaches_only_its_sites(
    client: FlaskClient, session: Session, held_comment: Poster
) -> None:
    news = make_site(session, "news")
    comment = held_comment()
    auth = {"Authorization": f"Bearer {token_for(session, role=Role.MODERATOR, sites=[news])}"}
    assert client.get("/api/v1/moderation/queue", headers=auth).json["total"] == 0
    response = client.post(
        f"/api/v1/moderation/comments/{comment.id}/decision",
        headers=auth,
        json={"action": "approve"},
    )
    assert response.status_code == 404
    session.expire_all()
    assert comment.status == CommentStatus.HELD


def test_bad_decisions_are_422(client: FlaskClient, session: Session, held_comment: Poster) -> None:
    comment = held_comment()
    auth = {"Authorization": f"Bearer {token_for(session)}"}
    response = client.post(
        f"/api/v1/moderation/comments/{comment.id}/decision",
        headers=auth,
        json={"action": "delete"},
    )
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == "action"


def test_a_revoked_token_stops_working(client: FlaskClient, session: Session) -> None:
    secret = token_for(session)
    auth = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/moderation/queue", headers=auth).status_code == 200
    row = session.scalars(select(ApiToken)).one()
    moderators.revoke_api_token(session, row.id, utcnow())
    session.commit()
    assert client.get("/api/v1/moderation/queue", headers=auth).status_code == 401


def test_create_moderator_command(app: Flask, session: Session, site: Site) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["moderation", "create-moderator", "Ann@Example.org", "--site", "blog"]
    )
    assert result.exit_code == 0, result.output
    assert "created moderator ann@example.org (blog)" in result.output
    assert "password (shown once):" in result.output
    again = runner.invoke(args=["moderation", "create-moderator", "ann@example.org"])
    assert again.exit_code != 0 and "already has an account" in again.output
    unknown = runner.invoke(
        args=["moderation", "create-moderator", "bo@example.org", "--site", "nope"]
    )
    assert unknown.exit_code != 0 and "no site 'nope'" in unknown.output


def test_keep_through_the_api_dismisses_the_reports_of_a_visible_comment(
    client: FlaskClient, session: Session, held_comment: Poster
) -> None:
    from moderation.services import flags
    from moderation.types import FlagReason, utcnow

    comment = held_comment("blunt", status=CommentStatus.VISIBLE, score=0.2)
    flags.flag_comment(session, comment.id, FlagReason.SPAM, None, None, utcnow())
    session.commit()
    auth = {"Authorization": f"Bearer {token_for(session)}"}
    assert client.get("/api/v1/moderation/queue?tab=reported", headers=auth).json["total"] == 1
    response = client.post(
        f"/api/v1/moderation/comments/{comment.id}/decision",
        headers=auth,
        json={"action": "keep", "version": comment.version},
    )
    assert response.status_code == 200, response.json
    assert (response.json["status"], response.json["changed"]) == ("visible", [comment.id])
    assert client.get("/api/v1/moderation/queue?tab=reported", headers=auth).json["total"] == 0
