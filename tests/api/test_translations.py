"""Readers read the widget and the server's messages to them in their language: English,
German, French, Spanish or Russian. Nothing of the widget is left untranslated in any
catalogue, the server's catalogues are complete, and the compiled .mo files that are
committed are what their .po files compile to."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from moderation.i18n import LANGUAGES, TRANSLATIONS
from moderation.models import Site, Thread
from tests.conftest import REPO

EMBED = REPO / "moderation" / "embed" / "static" / "embed.js"
CATALOGUES = REPO / "moderation" / "embed" / "static" / "i18n"
TRANSLATED = [lang for lang in LANGUAGES if lang != "en"]
PLACEHOLDER = re.compile(r"\{(\w+)\}")
PRINTF = re.compile(r"%\((\w+)\)s")


def po(path: Path) -> Catalog:
    return read_po(io.BytesIO(path.read_bytes()))


def widget_keys() -> set[str]:
    """Every text the widget shows: the literal first argument of each t(...) call."""
    source = EMBED.read_text()
    return {json.loads(f'"{key}"') for key in re.findall(r'\bt\(\s*"((?:[^"\\]|\\.)*)"', source)}


def english_plurals() -> set[str]:
    """The keys embed.js counts with (its ENGLISH table of plural forms)."""
    table = re.search(r"const ENGLISH = \{(.*?)\n  \};", EMBED.read_text(), re.S)
    assert table is not None
    return set(re.findall(r'^    "([^"]+)": \{', table.group(1), re.M))


def test_the_widget_reads_every_text_through_the_catalogue() -> None:
    keys = widget_keys()
    assert len(keys) > 60
    assert {"Post comment", "{n} comments", "Sort by", "Newest first"} <= keys
    # No text node or label of a reader-facing string left outside t(): h(...)'s literal
    # children and aria-labels would be English in every language.
    source = EMBED.read_text()
    assert not re.findall(r'h\("(?:p|span|button|label|legend|option)", \{[^}]*\}, "[A-Z]', source)
    assert not re.findall(r'"aria-label": "[A-Z]', source)


@pytest.mark.parametrize("lang", TRANSLATED)
def test_no_text_of_the_widget_is_left_untranslated(lang: str) -> None:
    catalogue = json.loads((CATALOGUES / f"{lang}.json").read_text())
    keys = widget_keys()
    assert sorted(keys - catalogue.keys()) == [], "missing"
    assert sorted(catalogue.keys() - keys) == [], "no longer used by embed.js"
    categories = Locale.parse(lang).plural_form.tags | {"other"}
    for key, value in catalogue.items():
        forms = value if isinstance(value, dict) else {"other": value}
        if key in english_plurals():
            assert set(forms) == categories, (key, "one form per plural category")
        else:
            assert isinstance(value, str), key
        for form in forms.values():
            assert form.strip(), key
            assert sorted(PLACEHOLDER.findall(form)) == sorted(PLACEHOLDER.findall(key)), key


def test_the_server_catalogue_has_every_message_the_code_marks(tmp_path: Path) -> None:
    """messages.pot is what `make translations` extracts from the code today."""
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "-q", "extract",
         "-F", str(TRANSLATIONS / "babel.cfg"), "-k", "N_", "--no-location",
         "--omit-header", "-o", str(fresh), str(REPO / "moderation")],
        check=True,
    )  # fmt: skip
    committed = po(TRANSLATIONS / "messages.pot")
    extracted = po(fresh)
    assert {m.id for m in extracted if m.id} == {m.id for m in committed if m.id}


@pytest.mark.parametrize("lang", TRANSLATED)
def test_each_po_is_complete_and_its_committed_mo_is_up_to_date(lang: str) -> None:
    template = po(TRANSLATIONS / "messages.pot")
    folder = TRANSLATIONS / lang / "LC_MESSAGES"
    catalog = po(folder / "messages.po")
    ids = {m.id for m in catalog if m.id}
    assert ids == {m.id for m in template if m.id}
    for message in catalog:
        if not message.id:
            continue
        assert isinstance(message.string, str) and message.string.strip(), message.id
        assert not message.fuzzy, message.id
        assert sorted(PRINTF.findall(message.string)) == sorted(PRINTF.findall(str(message.id)))
    committed = read_mo(io.BytesIO((folder / "messages.mo").read_bytes()))
    assert {m.id: m.string for m in committed if m.id} == {m.id: m.string for m in catalog if m.id}


def test_field_errors_and_details_come_in_the_readers_language(
    client: FlaskClient, site: Site
) -> None:
    empty = client.post(
        "/api/v1/sites/blog/comments",
        json={"thread": "post-42", "author_name": "", "body": "x" * 10_001},
        headers={"Accept-Language": "de-CH, de;q=0.9, en;q=0.5"},
    )
    assert empty.status_code == 422
    assert empty.json["detail"] == "ungültige Felder: author_name, body"
    assert empty.json["errors"] == [
        {"field": "author_name", "message": "darf nicht leer sein"},
        {"field": "body", "message": "darf höchstens 10000 Zeichen lang sein"},
    ]
    assert "Accept-Language" in empty.headers["Vary"]
    same = client.post(
        "/api/v1/sites/blog/comments", json={"thread": "post-42", "author_name": ""},
        headers={"Accept-Language": "it, pt"},  # nothing we have: English
    )  # fmt: skip
    assert same.json["errors"][0] == {"field": "author_name", "message": "must not be empty"}


def test_a_services_refusal_comes_in_the_readers_language(
    client: FlaskClient, site: Site, session: Session
) -> None:
    first = client.post(
        "/api/v1/sites/blog/comments",
        json={"thread": "post-42", "author_name": "Ada", "body": "First."},
    )
    assert first.status_code == 201
    thread = session.query(Thread).one()
    thread.closed = True
    session.commit()
    refused = client.post(
        "/api/v1/sites/blog/comments",
        json={"thread": "post-42", "author_name": "Bob", "body": "Second."},
        headers={"Accept-Language": "ru"},
    )
    assert refused.status_code == 409
    assert refused.json["detail"] == "обсуждение 'post-42' закрыто для новых комментариев"
    stranger = client.delete(
        f"/api/v1/comments/{first.json['id']}", headers={"Accept-Language": "fr"}
    )
    assert stranger.status_code == 403
    assert stranger.json["detail"].startswith(
        f"seul l'auteur du commentaire {first.json['id']} peut le supprimer"
    )
    english = client.delete(f"/api/v1/comments/{first.json['id']}")
    assert english.json["detail"].startswith("only the author of comment")


def test_the_reply_mail_pages_speak_the_readers_language(client: FlaskClient) -> None:
    page = client.get("/replies/confirm/not-a-token", headers={"Accept-Language": "es"})
    assert page.status_code == 400
    text = page.get_data(as_text=True)
    assert '<html lang="es">' in text
    assert "Confirmar los avisos de respuestas" in text
    assert "Este enlace no es válido." in text


def test_the_widget_catalogues_are_served_to_any_origin(client: FlaskClient) -> None:
    response = client.get("/embed/i18n/de.json", headers={"Origin": "https://blog.example"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.json["Post comment"] == "Kommentar senden"
    assert client.get("/embed/i18n/en.json").status_code == 404  # English is embed.js's own
    assert client.get("/embed/i18n/..%2Fembed.json").status_code == 404
