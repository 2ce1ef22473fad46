"""The languages of what readers read from the server: the API's problem details and field
messages that the widget shows them, and the pages their reply mail links to. Moderators'
pages stay in English.

Flask-Babel picks the language per request from Accept-Language (the widget sends its own
choice there, from ``data-lang`` or the browser). The catalogues are in
moderation/translations/<lang>/LC_MESSAGES/messages.po, and their compiled .mo files are
committed beside them: nothing to build at deployment, and tests/api/test_translations.py
fails when a .mo is not what its .po compiles to (`make translations` updates both).

Services speak English (to logs, the CLI and moderators) and never import Flask, so the
messages they raise that readers meet are translated here, at the HTTP boundary:
``service_message`` looks the English text up in SERVICE_MESSAGES. A message not listed
there stays English (the test of the widget's languages lists the ones readers meet)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import flask_babel
from flask import Flask, request

LANGUAGES = ("en", "de", "fr", "es", "ru")
TRANSLATIONS = Path(__file__).resolve().parent / "translations"

babel = flask_babel.Babel()


def reader_locale() -> str:
    """The reader's language: the best of Accept-Language that we have, else English."""
    return request.accept_languages.best_match(LANGUAGES) or "en"


def init_app(app: Flask) -> None:
    babel.init_app(
        app, locale_selector=reader_locale, default_translation_directories=str(TRANSLATIONS)
    )


def _(message: str, **variables: Any) -> str:
    """``message`` in the request's language, with ``%(name)s`` filled from ``variables``."""
    return str(flask_babel.gettext(message, **variables))


def N_(message: str) -> str:  # noqa: N802  (gettext's own name for it)
    """Marks a message for the catalogue that is translated later, by ``_(message)``."""
    return message


# What services raise (and drafts suggest) that a reader may read, as each is written in
# English: exact texts, then patterns whose named parts go into the translation.
SERVICE_TEXTS = frozenset(
    {
        N_("needs author_email: replies are mailed to that address"),
        N_(
            "a moderator of this site has banned you from commenting here; "
            "your comment was not stored"
        ),
        N_("a moderator has reviewed this comment; it can no longer be edited"),
        N_("readers reported this comment; it waits for a moderator and can no longer be edited"),
        N_("the comment changed meanwhile; reload it and try again"),
        N_("this comment is still being checked; try again in a moment"),
        N_("this comment was removed and can no longer be edited"),
        N_("this comment was already removed"),
        # The pre-posting check's guidelines (services/drafts.py).
        N_("Be respectful: no insults, name-calling or abuse of other people."),
        N_("Be respectful: no hateful or very aggressive language."),
        N_("Keep it clean: no obscene or vulgar language."),
        N_("No threats: never threaten or wish harm on anyone."),
        N_("Criticise ideas, not people: no insults."),
        N_("No attacks on people for who they are (origin, religion, gender…)."),
        N_("No sexually explicit content."),
        N_("Follow the community guidelines of this site."),
        # The reply-mail pages' refusals (services/reader_mail.py).
        N_(
            "This link has expired (they last 7 days). Post a comment with the box ticked "
            "again to get a new one."
        ),
        N_("This link is not valid."),
        N_("This address unsubscribed: it gets no more mail from this site."),
        N_("A newer confirmation mail replaced this one: use its link."),
    }
)
SERVICE_PATTERNS = (
    (
        re.compile(r"thread (?P<thread>'.*') is closed to new comments"),
        N_("thread %(thread)s is closed to new comments"),
    ),
    (
        re.compile(r"replies nest at most (?P<depth>\d+) levels deep"),
        N_("replies nest at most %(depth)s levels deep"),
    ),
    (
        re.compile(r"comment (?P<id>\d+) is not in thread (?P<thread>'.*')"),
        N_("comment %(id)s is not in thread %(thread)s"),
    ),
    (
        re.compile(r"cannot reply to comment (?P<id>\d+): the comment was hidden by moderation"),
        N_("cannot reply to comment %(id)s: the comment was hidden by moderation"),
    ),
    (
        re.compile(
            r"cannot reply to comment (?P<id>\d+): its ancestor (?P<ancestor>\d+) was hidden "
            r"by moderation"
        ),
        N_("cannot reply to comment %(id)s: its ancestor %(ancestor)s was hidden by moderation"),
    ),
    (re.compile(r"no comment (?P<id>\d+)"), N_("no comment %(id)s")),
    (
        re.compile(
            r"only the author of comment (?P<id>\d+) may edit it: send its author token in "
            r"X-Author-Token"
        ),
        N_(
            "only the author of comment %(id)s may edit it: send its author token in X-Author-Token"
        ),
    ),
    (
        re.compile(
            r"only the author of comment (?P<id>\d+) may delete it: send its author token in "
            r"X-Author-Token"
        ),
        N_(
            "only the author of comment %(id)s may delete it: send its author token in "
            "X-Author-Token"
        ),
    ),
    (
        re.compile(r"a comment can be edited only within (?P<minutes>\d+) minutes of posting"),
        N_("a comment can be edited only within %(minutes)s minutes of posting"),
    ),
    (
        re.compile(r"a comment can be deleted only within (?P<minutes>\d+) minutes of posting"),
        N_("a comment can be deleted only within %(minutes)s minutes of posting"),
    ),
)


def service_message(message: str) -> str:
    """A service's English ``message`` in the request's language, if it is one readers
    meet (else as it is)."""
    if message in SERVICE_TEXTS:
        return _(message)
    for pattern, translated in SERVICE_PATTERNS:
        if match := pattern.fullmatch(message):
            return _(translated, **match.groupdict())
    return message
