"""The two pages readers reach from their mail: confirm that an address wants reply mail
(the double opt-in) and unsubscribe. Both links carry a signed token; neither asks anyone
to sign in.

A GET only shows what the link would do, with a button: mail scanners and link previews
fetch links, and must not confirm or unsubscribe anyone. The button POSTs. Mail clients
that offer "unsubscribe" themselves POST to the unsubscribe link directly (RFC 8058
one-click, body ``List-Unsubscribe=One-Click``), with no page and no cookie."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request
from flask_limiter.util import get_remote_address

from moderation.db import current_session, db
from moderation.extensions import csrf, limiter
from moderation.i18n import _, reader_locale, service_message
from moderation.services import reader_mail
from moderation.types import utcnow

bp = Blueprint("readers", __name__, url_prefix="/replies", template_folder="templates")

_limited = limiter.limit(
    lambda: str(current_app.config["RATELIMIT_MAIL_LINKS"]),
    key_func=get_remote_address,
    methods=["GET", "POST"],
)


def _per_link() -> str:
    return "mail-link:" + request.path


# RFC 8058's one-click POSTs come from the mail provider's servers, whose few addresses
# are shared by all its users: limited per link, not per address, so that one reader's
# unsubscribe never waits for others'.
_limited_per_link = limiter.limit(
    lambda: str(current_app.config["RATELIMIT_MAIL_LINKS"]),
    key_func=_per_link,
    methods=["POST"],
)


def _secret() -> str:
    return str(current_app.config["SECRET_KEY"])


def _page(status: int = 200, **context: Any) -> Any:
    context.setdefault("site", _("Comments"))
    context.setdefault("lang", reader_locale())
    context.setdefault("refused", False)
    context.setdefault("done", False)
    return render_template("readers/page.html", **context), status


def _refused(title: str, error: reader_mail.LinkRefused) -> Any:
    return _page(error.status, title=title, refused=True, message=service_message(error.message))


@bp.get("/confirm/<token>")
@_limited
def confirm_page(token: str) -> Any:
    title = _("Confirm reply notifications")
    try:
        state = reader_mail.confirm_state(current_session(), _secret(), token, utcnow())
    except reader_mail.LinkRefused as error:
        return _refused(title, error)
    if state.done:
        message = _("Already confirmed: you get a mail when someone replies.")
        return _page(title=title, site=state.site_name, done=True, message=message)
    return _page(
        title=title,
        site=state.site_name,
        form_id="confirm",
        button=_("Yes, email me when someone replies"),
        message=_(
            "You asked %(site)s to email you when someone replies to your comments. Confirm "
            "with the button; if it was not you, close this page and nothing will be sent.",
            site=state.site_name,
        ),
    )


@bp.post("/confirm/<token>")
@_limited
def confirm(token: str) -> Any:
    title = _("Confirm reply notifications")
    try:
        state = reader_mail.confirm(current_session(), _secret(), token, utcnow())
    except reader_mail.LinkRefused as error:
        db.session.rollback()
        return _refused(title, error)
    db.session.commit()
    return _page(
        title=_("Confirmed"),
        site=state.site_name,
        done=True,
        message=_(
            "Confirmed: %(site)s will email you when someone replies to the comments you "
            "asked about (replies from now on). Each mail has a link to stop.",
            site=state.site_name,
        ),
    )


@bp.get("/unsubscribe/<token>")
@_limited
def unsubscribe_page(token: str) -> Any:
    title = _("Unsubscribe")
    try:
        state = reader_mail.unsubscribe_state(current_session(), _secret(), token)
    except reader_mail.LinkRefused as error:
        return _refused(title, error)
    if state.done:
        message = _("Unsubscribed already: %(site)s sends you no mail.", site=state.site_name)
        return _page(title=title, site=state.site_name, done=True, message=message)
    return _page(
        title=title,
        site=state.site_name,
        form_id="unsubscribe",
        button=_("Unsubscribe"),
        message=_(
            "Stop all mail from %(site)s about replies to your comments.", site=state.site_name
        ),
    )


# The one-click endpoint of RFC 8058 (exempted below): mail clients POST here with no session and no
# CSRF token, so it is exempt from CSRF. A forged cross-site POST gains nothing: it
# must already carry the signed token of this address's mail, which only its reader has,
# and all it can do is what the reader's own click does.
@bp.post("/unsubscribe/<token>")
@_limited_per_link
def unsubscribe(token: str) -> Any:
    title = _("Unsubscribe")
    try:
        state = reader_mail.unsubscribe(current_session(), _secret(), token, utcnow())
    except reader_mail.LinkRefused as error:
        db.session.rollback()
        return _refused(title, error)
    db.session.commit()
    return _page(
        title=_("Unsubscribed"),
        site=state.site_name,
        done=True,
        message=_("You are unsubscribed: %(site)s sends you no more mail.", site=state.site_name),
    )


csrf.exempt(unsubscribe)
# Confirming is exempt for the same reason: the signed token in the address is the proof
# (and a reader who opens the mail has no session here to hold a CSRF token).
csrf.exempt(confirm)
