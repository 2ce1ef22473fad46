"""The OpenAPI document is valid 3.1 and describes what the service really does."""

from __future__ import annotations

import re

import jsonschema
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from moderation.models import Site


def test_document_is_valid_openapi_3_1(client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").json
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_public_route_is_documented_and_nothing_else(app: Flask, client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").json
    documented = {
        (path, method.upper())
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(("api.", "health.", "admin_api.")):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            served |= {(path, m) for m in rule.methods or () if m not in ("HEAD", "OPTIONS")}
    assert documented == served


def _schema(document: dict, name: str) -> dict:  # type: ignore[type-arg]
    return {"$ref": f"#/components/schemas/{name}", "components": document["components"]}


def test_responses_match_their_documented_schemas(client: FlaskClient, site: Site) -> None:
    document = client.get("/api/v1/openapi.json").json
    created = client.post(
        "/api/v1/sites/blog/comments", json={"thread": "t", "author_name": "A", "body": "hi"}
    )
    jsonschema.validate(created.json, _schema(document, "CommentOut"))
    reply = client.post(
        "/api/v1/sites/blog/comments",
        json={"thread": "t", "author_name": "B", "body": "yo", "parent_id": created.json["id"]},
    )
    assert reply.status_code == 201
    listing = client.get("/api/v1/sites/blog/comments?thread=t").json
    jsonschema.validate(listing, _schema(document, "ThreadPageOut"))
    flag = client.post(f"/api/v1/comments/{created.json['id']}/flags", json={"reason": "spam"})
    jsonschema.validate(flag.json, _schema(document, "FlagOut"))
    counts = client.get("/api/v1/sites/blog/counts?thread=t").json
    jsonschema.validate(counts, _schema(document, "CountsOut"))
    problem = client.post("/api/v1/sites/blog/comments", json={"thread": "t"}).json
    jsonschema.validate(problem, _schema(document, "Problem"))
    jsonschema.validate(client.get("/healthz").json, _schema(document, "HealthOut"))


def test_the_widgets_responses_match_their_documented_schemas(
    client: FlaskClient, site: Site
) -> None:
    document = client.get("/api/v1/openapi.json").json
    created = client.post(
        "/api/v1/sites/blog/comments",
        json={"thread": "t", "author_name": "A", "body": "you fucking idiot"},
    )
    assert created.status_code == 202
    jsonschema.validate(created.json, _schema(document, "CommentCreatedOut"))
    own = {"X-Author-Token": created.json["author_token"]}
    listing = client.get("/api/v1/sites/blog/comments?thread=t", headers=own).json
    assert listing["comments"][0]["status"] == "held"
    jsonschema.validate(listing, _schema(document, "ThreadPageOut"))
    edited = client.patch(f"/api/v1/comments/{created.json['id']}", headers=own,
                          json={"body": "sorry"})  # fmt: skip
    jsonschema.validate(edited.json, _schema(document, "CommentOut"))
    check = client.post("/api/v1/sites/blog/comments/check", json={"body": "you idiot"}).json
    jsonschema.validate(check, _schema(document, "DraftCheckOut"))
