"""Requests byte for byte as Coral Talk's perspective service sends them
(coralproject/talk, server/src/core/server/services/perspective/perspective.ts), to the
endpoint as an admin would type it into Coral's "custom Perspective endpoint" setting.

Coral builds the URL with ``new URL(endpoint.trim())``, then
``url.pathname = path.join(url.pathname, "/comments:analyze")`` and
``url.searchParams.set("key", key.trim())``; it posts ``JSON.stringify(body)`` with
``Content-Type: application/json``; it reads ``attributeScores[MODEL].summaryScore.value``;
and after a moderator's decision posts ``comments:suggestscore`` with 0 (approved) or 1
(rejected)."""

from __future__ import annotations

import http.client
import json
import posixpath
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.models import ScoreFeedback, Site
from moderation.services.perspective import feedback_summary
from tests.browser.conftest import LiveServer

TOXIC = "You are a stupid idiot and everyone here knows it."
KIND = "Thanks for the careful reporting, this was a helpful article."
TENANT_URL = "https://news.example/"
STORY_URL = "https://news.example/2026/11/story"


def coral_url(endpoint: str, operation: str, key: str) -> str:
    """Coral's sendToPerspective URL: Node's path.join normalizes the doubled slash."""
    parts = urlsplit(endpoint.strip())
    pathname = posixpath.normpath("/".join([parts.path or "/", f"/{operation}"]))
    return urlunsplit((parts.scheme, parts.netloc, pathname, urlencode({"key": key.strip()}), ""))


def js_stringify(value: Any) -> bytes:
    """JSON.stringify: no spaces, non-ASCII as is, keys in insertion order."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def post(url: str, body: bytes) -> tuple[int, Any]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=30)
    try:
        path = f"{parts.path}?{parts.query}"
        connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def analyze_body(text: str, model: str = "TOXICITY", language: str = "en") -> bytes:
    # formatBody(), case "comments:analyze", with the tenant's doNotStore default (true).
    return js_stringify(
        {
            "comment": {"text": text},
            "doNotStore": True,
            "requestedAttributes": {model: {}},
            "languages": [language],
        }
    )


def suggest_body(text: str, comment_id: str, status: str, parent_id: str | None = None) -> bytes:
    # formatBody(), case "comments:suggestscore". JSON.stringify drops an undefined parent.
    entry = {"url": f"{STORY_URL}?commentID={comment_id}", "Coral_comment_id": comment_id}
    if parent_id is not None:
        entry = {"url": entry["url"], "reply_to_id_Coral_comment_id": parent_id,
                 "Coral_comment_id": comment_id}  # fmt: skip
    return js_stringify(
        {
            "comment": {"text": text},
            "context": {"entries": [{"text": js_stringify(entry).decode()}]},
            "attributeScores": {
                "TOXICITY": {"summaryScore": {"value": 0 if status == "APPROVED" else 1}}
            },
            "languages": ["en"],
            "communityId": f"Coral:{TENANT_URL}",
            "clientToken": f"comment:{comment_id}",
        }
    )


def endpoints(server: LiveServer) -> list[str]:
    base = f"{server.url}/perspective/v1alpha1"
    return [base, base + "/", f"  {base}/ "]


def test_coral_urls_match_what_it_builds() -> None:
    expected = "http://h:1/perspective/v1alpha1/comments:analyze?key=K"
    for endpoint in ("http://h:1/perspective/v1alpha1", "http://h:1/perspective/v1alpha1/"):
        assert coral_url(endpoint, "comments:analyze", " K ") == expected


@pytest.mark.parametrize("endpoint_form", [0, 1, 2], ids=["plain", "slash", "padded"])
def test_coral_reads_a_toxicity_score_from_the_endpoint_as_typed(
    live_server: LiveServer, key: str, endpoint_form: int
) -> None:
    endpoint = endpoints(live_server)[endpoint_form]
    threshold = 0.35  # the score above which this site holds a comment
    scores = {}
    for text in (TOXIC, KIND):
        status, data = post(coral_url(endpoint, "comments:analyze", key), analyze_body(text))
        assert status == 200, data
        # toxic.ts: result.data.attributeScores[model].summaryScore.value
        scores[text] = data["attributeScores"]["TOXICITY"]["summaryScore"]["value"]
    assert scores[TOXIC] > threshold > scores[KIND]


def test_a_tenant_language_the_model_lacks_is_refused_so_coral_lets_the_comment_through(
    live_server: LiveServer, key: str
) -> None:
    # Coral maps a German tenant to "de"; on any non-ok answer it logs and goes on.
    url = coral_url(endpoints(live_server)[0], "comments:analyze", key)
    status, data = post(url, analyze_body(KIND, language="de"))
    assert status == 400
    assert data["error"]["status"] == "INVALID_ARGUMENT"
    assert "language not supported: de" in data["error"]["message"]


def test_moderators_decisions_are_stored_as_feedback_and_the_model_agrees(
    live_server: LiveServer, key: str, site: Site, session: Session
) -> None:
    url = coral_url(endpoints(live_server)[1], "comments:suggestscore", key)
    status, data = post(url, suggest_body(TOXIC, "c-1", "DELETED"))
    assert (status, data) == (200, {"clientToken": "comment:c-1"})
    status, data = post(url, suggest_body(KIND, "c-2", "APPROVED", parent_id="c-1"))
    assert (status, data) == (200, {"clientToken": "comment:c-2"})

    session.expire_all()
    rows = session.scalars(select(ScoreFeedback).order_by(ScoreFeedback.id)).all()
    assert [(r.text, r.attribute, r.value, r.client_token) for r in rows] == [
        (TOXIC, "TOXICITY", 1.0, "comment:c-1"),
        (KIND, "TOXICITY", 0.0, "comment:c-2"),
    ]
    assert all(r.community_id == f"Coral:{TENANT_URL}" and r.site_id == site.id for r in rows)
    assert rows[0].model_value is not None and rows[0].model_value > 0.5
    assert rows[1].model_value is not None and rows[1].model_value < 0.5

    summary = feedback_summary(session, site.id)
    assert (summary.total.count, summary.total.compared, summary.total.agreed) == (2, 2, 2)
    assert summary.total.rate == 1.0
    # At a threshold above the toxic comment's score the model would have missed it.
    strict = feedback_summary(session, site.id, threshold=0.999999999)
    assert strict.total.agreed == 1 and strict.total.rate == 0.5


def test_coral_v5s_approved_and_deleted_suggestions_are_understood(
    live_server: LiveServer, key: str, session: Session
) -> None:
    # Coral 5 (services/perspective/index.ts): fetch(`${endpoint}/${method}?key=${apiKey}`),
    # JSON.stringify(body, null, 2), languages ["EN"], attribute APPROVED or DELETED = 1.
    endpoint = endpoints(live_server)[0]
    for status_name, text, comment_id in (("APPROVED", KIND, "a"), ("DELETED", TOXIC, "d")):
        body = {
            "comment": {"text": text},
            "context": {"entries": [{"text": json.dumps({"Coral_comment_id": comment_id})}]},
            "attributeScores": {status_name: {"summaryScore": {"value": 1}}},
            "languages": ["EN"],
            "communityId": f"Coral:{TENANT_URL}",
            "clientToken": f"comment:{comment_id}",
        }
        raw = json.dumps(body, indent=2, ensure_ascii=False).encode()
        status, data = post(f"{endpoint}/comments:suggestscore?key={key}", raw)
        assert (status, data) == (200, {"clientToken": f"comment:{comment_id}"})
    session.expire_all()
    stored = {(r.text, r.attribute, r.value) for r in session.scalars(select(ScoreFeedback))}
    assert stored == {(KIND, "TOXICITY", 0.0), (TOXIC, "TOXICITY", 1.0)}


def test_coral_with_a_wrong_key_gets_a_non_ok_answer(live_server: LiveServer, key: str) -> None:
    url = coral_url(endpoints(live_server)[0], "comments:analyze", "msk_wrong")
    status, data = post(url, analyze_body(TOXIC))
    assert status == 400 and data["error"]["message"].startswith("API key not valid")


# Coral's sendToPerspective and formatBody, restated in JavaScript and run by Node itself, so
# that Node's URL, path.join and JSON.stringify produce the request (not our imitation).
CORAL_JS = r"""
const path = require("path");
const [endpoint, key, operation, text, model, commentStatus] = process.argv.slice(2);
function formatBody() {
  if (operation === "comments:analyze") {
    return { comment: { text }, doNotStore: true, requestedAttributes: { [model]: {} },
             languages: ["en"] };
  }
  return {
    comment: { text },
    context: { entries: [{ text: JSON.stringify({ url: "https://news.example/s?commentID=c9",
      reply_to_id_Coral_comment_id: undefined, Coral_comment_id: "c9" }) }] },
    attributeScores: { [model]: { summaryScore: { value: commentStatus === "APPROVED" ? 0 : 1 } } },
    languages: ["en"],
    communityId: "Coral:https://news.example/",
    clientToken: "comment:c9",
  };
}
(async () => {
  const url = new URL(endpoint.trim());
  url.pathname = path.join(url.pathname, `/${operation}`);
  url.searchParams.set("key", key.trim());
  const res = await fetch(url.toString(), { method: "POST",
    headers: { "Content-Type": "application/json" }, body: JSON.stringify(formatBody()) });
  const data = res.ok ? await res.json() : null;
  const score = operation === "comments:analyze" && data
    ? data.attributeScores[model].summaryScore.value : null;
  console.log(JSON.stringify({ status: res.status, url: url.toString(), data, score }));
})();
"""


def run_node(tmp_path: Path, *args: str) -> Any:
    script = tmp_path / "coral.js"
    script.write_text(CORAL_JS)
    result = subprocess.run(["node", str(script), *args], capture_output=True, text=True,
                            timeout=60, check=True)  # fmt: skip
    return json.loads(result.stdout)


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
@pytest.mark.parametrize("backend", ["sqlite"])  # the wire format is what is tested here
def test_coral_code_run_by_node_scores_and_sends_feedback(
    live_server: LiveServer, key: str, session: Session, tmp_path: Path
) -> None:
    for endpoint in endpoints(live_server):
        toxic = run_node(tmp_path, endpoint, key, "comments:analyze", TOXIC, "TOXICITY")
        kind = run_node(tmp_path, endpoint, key, "comments:analyze", KIND, "TOXICITY")
        assert toxic["status"] == kind["status"] == 200
        assert toxic["url"].endswith("/perspective/v1alpha1/comments:analyze?key=" + key)
        assert toxic["score"] > 0.35 > kind["score"]
    sent = run_node(tmp_path, endpoints(live_server)[1], key, "comments:suggestscore", TOXIC,
                    "TOXICITY", "DELETED")  # fmt: skip
    assert sent["status"] == 200 and sent["data"] == {"clientToken": "comment:c9"}
    session.expire_all()
    [row] = session.scalars(select(ScoreFeedback)).all()
    assert (row.text, row.value, row.client_token) == (TOXIC, 1.0, "comment:c9")
