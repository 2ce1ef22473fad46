"""The moderators' pages: sign-in, the queue, decisions, audit log, sites and their
settings, dashboard, moderators and API tokens. Views parse, call one service, commit once,
render."""

from __future__ import annotations

import functools
import io
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast
from urllib.parse import parse_qs, urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user, logout_user
from itsdangerous import BadSignature, URLSafeTimedSerializer
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from moderation.auth import SignedInModerator
from moderation.current_scorer import get_scorer, get_scorer_warning
from moderation.db import current_session
from moderation.extensions import limiter, limits_warning
from moderation.models import ApiToken, Comment, Moderator, Site
from moderation.review import forms
from moderation.review.charts import bar_chart, histogram_chart, line_chart
from moderation.services import (
    authors,
    decision_links,
    explain,
    export,
    learning,
    moderators,
    notifications,
    perspective,
    policy,
    review,
    sites,
    threads,
    webhooks,
)
from moderation.services.dashboard import agreement_by_site, learned_by_site
from moderation.services.dashboard import dashboard as dashboard_figures
from moderation.services.errors import DomainError, NotFound
from moderation.services.review import Action, AlreadyDecided, Order, QueueFilter, Tab
from moderation.types import NotifyPreference, Role, StandingKind, ThreadChange, utcnow

log = logging.getLogger(__name__)

bp = Blueprint("review", __name__, url_prefix="/moderation", template_folder="templates")

ViewT = TypeVar("ViewT", bound=Callable[..., Any])


def signed_in() -> SignedInModerator:
    return cast(SignedInModerator, current_user)


def moderator_required(view: ViewT) -> ViewT:
    """Anonymous visitors go to the sign-in page (htmx requests get 401)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            if request.headers.get("HX-Request"):
                abort(401)
            return redirect(url_for("review.login", next=request.full_path))
        return view(*args, **kwargs)

    return cast(ViewT, wrapper)


def admin_required(view: ViewT) -> ViewT:
    @functools.wraps(view)
    @moderator_required
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not signed_in().is_admin:
            abort(403)
        return view(*args, **kwargs)

    return cast(ViewT, wrapper)


def me() -> Moderator:
    moderator = current_session().get(Moderator, signed_in().id)
    if moderator is None:  # deleted while signed in
        abort(401)
    return moderator


def scope() -> review.Scope:
    user = signed_in()
    return review.Scope(None if user.is_admin else user.site_ids)


def visible_sites() -> list[Site]:
    query = select(Site).order_by(Site.slug)
    user = signed_in()
    if not user.is_admin:
        query = query.where(Site.id.in_(user.site_ids))
    return list(current_session().scalars(query))


@bp.app_context_processor
def review_globals() -> dict[str, Any]:
    def scorer_warning() -> str | None:
        try:
            return get_scorer_warning()
        except Exception:  # a page must render even when the model does not load
            return "the scoring model failed to load; comments stay pending"

    return {"scorer_warning": scorer_warning, "limits_warning": limits_warning}


# ------------------------------------------------------------------ sign-in


def _login_account_key() -> str:
    return "login:" + (request.form.get("email") or "").strip().lower()


def _login_account_address_key() -> str:
    return f"{_login_account_key()}|{get_remote_address()}"


KNOWN_BROWSER_COOKIE = "moderation_known"
KNOWN_BROWSER_DAYS = 365


def _known_browsers() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="known-browser")


def _is_known_browser() -> bool:
    """Whether this browser has signed in to the account it now signs in to: it carries
    the signed cookie that sign-in left, naming that account."""
    cookie = request.cookies.get(KNOWN_BROWSER_COOKIE)
    if not cookie:
        return False
    try:
        known = _known_browsers().loads(cookie, max_age=KNOWN_BROWSER_DAYS * 86400)
    except BadSignature:
        return False
    return bool(known == _login_account_key())


# Three limits on sign-in, so that guessing is slow but an owner is not locked out: per
# account from one address (strict: the guesser's own address), per account from all
# addresses (loose, for guessers with many addresses; a browser that has signed in to the
# account before is exempt, so many addresses together cannot lock its owner out), and
# per address over all accounts.
@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    "10 per minute",
    methods=["POST"],
    key_func=_login_account_address_key,
    error_message="too many sign-in attempts for this account from your address; wait a minute",
)
@limiter.limit(
    "100 per minute",
    methods=["POST"],
    key_func=_login_account_key,
    exempt_when=_is_known_browser,
    error_message="too many sign-in attempts for this account; wait a minute",
)
@limiter.limit(
    "30 per minute",
    methods=["POST"],
    error_message="too many sign-in attempts from this address; wait a minute",
)
def login() -> Any:  # fmt: skip
    form = forms.LoginForm()
    if form.validate_on_submit():
        session = current_session()
        email = (form.email.data or "").strip().lower()
        account = moderators.check_sign_in(session, email, form.password.data or "")
        if account is not None:
            token, failed = moderators.start_session(session, account, utcnow())
            session.commit()
            login_user(SignedInModerator.of(account, token))
            if failed:
                flash(f"{failed} wrong password{'s were' if failed != 1 else ' was'} given for "
                      "your account since you last signed in", "error")  # fmt: skip
            target = request.args.get("next") or ""
            if not target.startswith("/moderation") or target.startswith("//"):
                target = url_for("review.queue")
            response = redirect(target)
            response.set_cookie(
                KNOWN_BROWSER_COOKIE,
                _known_browsers().dumps(_login_account_key()),
                max_age=KNOWN_BROWSER_DAYS * 86400,
                httponly=True,
                samesite="Lax",
                secure=request.is_secure,
                path="/moderation/login",
            )
            return response
        session.commit()  # the failed attempt, counted on the account
        log.warning("failed sign-in for %r from %s", email, get_remote_address())
        form.password.errors = ["wrong email or password"]
    return render_template("review/login.html", form=form)


@bp.post("/logout")
@moderator_required
def logout() -> BaseResponse:
    forms.EmptyForm().validate_on_submit() or abort(400)
    session = current_session()
    moderators.end_session(session, signed_in().session_token, utcnow())
    session.commit()
    logout_user()
    return redirect(url_for("review.login"))


# ------------------------------------------------------------------ the queue


def _queue_args() -> tuple[Tab, QueueFilter, Order, int]:
    args = request.args
    try:
        tab = Tab(args.get("tab", Tab.HELD.value))
        order = Order(args.get("order", Order.PRIORITY.value))
        page = max(1, int(args.get("page", 1)))
        min_score = float(args["min_score"]) if args.get("min_score") else None
    except ValueError:
        abort(400)
    filters = QueueFilter(
        site=args.get("site") or None,
        thread=args.get("thread") or None,
        label=args.get("label") or None,
        min_score=min_score,
        reason=args.get("reason") or None,
        search=args.get("q") or None,
    )
    return tab, filters, order, page


def score_bars(comment: Comment) -> list[review.ScoreBar]:
    """The comment's score bars, against its site's thresholds for the running scorer."""
    return review.score_bars(comment, get_scorer().default_thresholds)


def explained(items: list[Comment], opened: Comment | None = None) -> dict[str, Any]:
    """Template helpers for comment items: ``explanation(item)``, the words that drove its
    decision, and ``marked_body(item)``, its sanitized body with those words in ``<mark>``.
    ``opened``: the comment a moderator opened, whose leave-one-word-out terms are worked
    out now if it is held (the caller commits the row that keeps them)."""
    session, scorer = current_session(), get_scorer()
    others = [item for item in items if item is not opened]
    found = explain.explain_comments(session, others, scorer, scorer.default_thresholds)
    if opened is not None:
        found[opened.id] = explain.explain_opened(session, opened, scorer,
                                                  scorer.default_thresholds, utcnow())  # fmt: skip

    def marked_body(item: Comment) -> Markup:
        terms = found[item.id].terms if item.id in found else ()
        # body_html is sanitized on the way in; mark_terms escapes text and cleans it again.
        return Markup(explain.mark_terms(item.body_html, terms))  # noqa: S704

    def explanation(item: Comment) -> explain.Explanation | None:
        return found.get(item.id)

    return {"explanation": explanation, "marked_body": marked_body}


@bp.get("/")
@moderator_required
def queue() -> Any:
    tab, filters, order, page_number = _queue_args()
    try:
        page = review.queue(current_session(), scope(), tab, filters, order, page_number)
    except DomainError as error:
        flash(error.message, "error")
        page = review.queue(current_session(), scope(), tab)
    context = {
        **explained(page.items),
        "page": page,
        "tab": tab,
        "tabs": list(Tab),
        "counts": review.counts(current_session(), scope()),
        "filters": filters,
        "order": order,
        "sites": visible_sites(),
        "labels": get_scorer().labels,
        "reasons": list(review.REASON_FILTERS),
        "form": forms.EmptyForm(),
        "current_score": review.current_score,
        "score_bars": score_bars,
    }
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "queue-items":
        return render_template("review/_items.html", **context)
    return render_template("review/queue.html", **context)


@bp.get("/counts")
@moderator_required
def counts() -> Any:
    try:
        tab = Tab(request.args.get("tab", "held"))
    except ValueError:
        abort(400)
    return render_template(
        "review/_counts.html",
        counts=review.counts(current_session(), scope()),
        tab=tab,
        tabs=list(Tab),
    )


@dataclass(frozen=True)
class FollowedLink:
    """What a mail's approve/hide link says on the comment's page: ``state`` is ready
    (the decision is prefilled, to confirm), decided, expired or invalid."""

    state: str
    action: str | None = None
    message: str = ""


def _followed_link(token: str, item: Comment) -> FollowedLink:
    try:
        link = decision_links.read(str(current_app.config["SECRET_KEY"]), token, utcnow())
    except decision_links.LinkExpired:
        return FollowedLink("expired", None, "This link has expired (they last 7 days).")
    except decision_links.LinkInvalid:
        return FollowedLink("invalid", None, "This link is not valid.")
    if link.comment_id != item.id:
        return FollowedLink("invalid", None, "This link is not valid.")
    if link.version != item.version:
        return FollowedLink(
            "decided",
            link.action,
            f"Already decided: this comment changed since the mail (it is {item.status.value} "
            "now); the link does nothing.",
        )
    return FollowedLink("ready", link.action)


@bp.get("/comments/<int:comment_id>")
@moderator_required
def comment(comment_id: int) -> Any:
    try:
        item = review.get_for_review(current_session(), scope(), comment_id)
    except NotFound:
        abort(404)
    # A mail's link: only shows the decision, prefilled; the moderator confirms by POST.
    token = request.args.get("decision")
    followed = _followed_link(token, item) if token else None
    status = {"expired": 410, "invalid": 400}.get(followed.state if followed else "", 200)
    session = current_session()
    helpers = explained([item], opened=item)
    session.commit()  # the leave-one-word-out terms worked out for this opening, if any
    page = render_template(
        "review/comment.html",
        **helpers,
        item=item,
        branch=review.branch(item),
        score=review.current_score(item),
        form=forms.EmptyForm(),
        current_score=review.current_score,
        score_bars=score_bars,
        followed=followed,
        thread_history=threads.thread_history(session, item.thread),
        author=authors.panel(session, item, utcnow()),
        durations=authors.DURATION_LABELS,
    )
    return page, status


def _back_to_comment(comment_id: int) -> BaseResponse:
    return redirect(url_for("review.comment", comment_id=comment_id), code=303)


@bp.post("/comments/<int:comment_id>/thread")
@moderator_required
def thread_change(comment_id: int) -> Any:
    """Close or reopen the comment's thread, pin or unpin the comment."""
    form = forms.EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    session = current_session()
    try:
        item = review.get_for_review(session, scope(), comment_id)
    except NotFound:
        abort(404)
    try:
        what = ThreadChange(request.form.get("action", ""))
    except ValueError:
        abort(400)
    try:
        threads.change(session, item, what, me(), utcnow())
    except DomainError as error:
        session.rollback()
        flash(error.message, "error")
        return _back_to_comment(comment_id)
    session.commit()
    flash(_THREAD_CHANGE_DONE[what], "info")
    return _back_to_comment(comment_id)


_THREAD_CHANGE_DONE = {
    ThreadChange.CLOSE: "thread closed to new comments",
    ThreadChange.REOPEN: "thread reopened",
    ThreadChange.PIN: "comment pinned: readers see it first",
    ThreadChange.UNPIN: "comment unpinned",
}


@bp.post("/comments/<int:comment_id>/author")
@moderator_required
def author_standing(comment_id: int) -> Any:
    """Ban or trust the comment's author on its site."""
    form = forms.EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    session = current_session()
    try:
        item = review.get_for_review(session, scope(), comment_id)
        kind = StandingKind(request.form.get("kind", ""))
    except NotFound:
        abort(404)
    except ValueError:
        abort(400)
    try:
        row = authors.set_standing(session, item, kind, request.form.get("duration", ""),
                                   request.form.get("reason", ""), me(), utcnow())  # fmt: skip
    except DomainError as error:
        session.rollback()
        flash(error.message, "error")
        return _back_to_comment(comment_id)
    session.commit()
    until = f"until {row.expires_at:%Y-%m-%d %H:%M} UTC" if row.expires_at else "until lifted"
    verb = "banned" if kind == StandingKind.BAN else "trusted"
    flash(f"{item.author_name} {verb} on {item.thread.site.slug} {until}", "info")
    return _back_to_comment(comment_id)


def _moderated_site_or_404(slug: str) -> Site:
    site = _site_or_404(slug)
    if not scope().allows(site.id):
        abort(404)
    return site


@bp.get("/sites/<slug>/authors")
@moderator_required
def site_authors(slug: str) -> Any:
    """The site's banned and trusted authors, with the recent history of both."""
    session = current_session()
    site = _moderated_site_or_404(slug)
    now = utcnow()
    return render_template("review/authors.html", site=site, form=forms.EmptyForm(),
                           current=authors.site_standings(session, site, now),
                           history=authors.site_standing_history(session, site),
                           now=now)  # fmt: skip


@bp.post("/sites/<slug>/authors/<int:standing_id>/lift")
@moderator_required
def lift_standing(slug: str, standing_id: int) -> Any:
    form = forms.EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    session = current_session()
    site = _moderated_site_or_404(slug)
    try:
        row = authors.lift(session, site, standing_id, me(), utcnow())
    except NotFound:
        abort(404)
    session.commit()
    flash(f"{row.kind.value} of {row.author_name} lifted", "info")
    target = request.form.get("next") or url_for("review.site_authors", slug=slug)
    if not target.startswith("/moderation"):
        target = url_for("review.site_authors", slug=slug)
    return redirect(target, code=303)


@bp.get("/comments/<int:comment_id>/branch")
@moderator_required
def comment_branch(comment_id: int) -> Any:
    try:
        item = review.get_for_review(current_session(), scope(), comment_id)
    except NotFound:
        abort(404)
    return render_template("review/_branch.html", branch=review.branch(item), item=item)


def _parse_targets(values: list[str]) -> list[tuple[int, int]]:
    """``id:version`` pairs from the form: the version the moderator saw."""
    targets = []
    for value in values:
        comment_id, _, version = value.partition(":")
        try:
            targets.append((int(comment_id), int(version)))
        except ValueError:
            abort(400)
    return targets


def _comments(count: int) -> str:
    return f"{count} comment{'' if count == 1 else 's'}"


@bp.post("/decide")
@moderator_required
def decide() -> Any:
    form = forms.EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        action = Action(request.form.get("action", ""))
    except ValueError:
        abort(400)
    targets = _parse_targets(request.form.getlist("target"))
    if not targets:
        flash("select at least one comment", "error")
        return _back_to_queue()
    session = current_session()
    try:
        result = review.decide(session, me(), scope(), targets, action, utcnow(),
                               reason=request.form.get("reason") or None)  # fmt: skip
    except AlreadyDecided as conflict:
        session.rollback()
        flash(conflict.message, "conflict")
        return _back_to_queue()
    except DomainError as error:
        session.rollback()
        flash(error.message, "error")
        return _back_to_queue()
    session.commit()
    done = {Action.APPROVE: "approved", Action.HIDE: "hidden", Action.RESTORE: "restored",
            Action.HIDE_THREAD: "hidden with replies",
            Action.KEEP: "kept, its reports dismissed"}[action]  # fmt: skip
    message = f"{_comments(len(result.changed))} {done}"
    # A Keep dismisses reports for good (review.undo refuses it): no undo offered.
    undo_id = None if action == Action.KEEP else result.decision_id
    changed = [comment.id for comment in result.changed]
    if request.headers.get("HX-Request") and changed == [targets[0][0]] and len(targets) == 1:
        return _in_place(result.changed[0], message, done, undo_id)
    flash(message, f"undo:{undo_id}" if undo_id else "info")
    return _back_to_queue()


@bp.post("/undo")
@moderator_required
def undo() -> Any:
    form = forms.EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    session = current_session()
    try:
        result = review.undo(session, me(), scope(), request.form.get("decision", ""), utcnow())
    except DomainError as error:
        session.rollback()
        flash(f"could not undo: {error.message}", "conflict")
        return _back_to_queue()
    session.commit()
    count = len(result.changed)
    message = f"undone: {_comments(count)} back as {'it was' if count == 1 else 'they were'}"
    if request.headers.get("HX-Request") and count == 1:
        return _in_place(result.changed[0], message, "undone", None)
    flash(message, "info")
    return _back_to_queue()


def _next_url() -> str:
    target = request.form.get("next") or url_for("review.queue")
    if not target.startswith("/moderation") or target.startswith("//"):
        target = url_for("review.queue")
    return target


def _back_to_queue() -> BaseResponse:
    """Where a plain form goes after a decision; an htmx request that cannot be answered
    in place (a conflict, several comments changed) loads that page instead."""
    if request.headers.get("HX-Request"):
        return Response(status=204, headers={"HX-Redirect": _next_url()})
    return redirect(_next_url(), code=303)


def _in_place(item: Comment, message: str, done: str, undo_id: str | None) -> str:
    """The answer to an htmx decision or undo on one comment, swapped where its item was:
    the item as it is now if it still belongs where the moderator is (the comment page,
    the All tab, the tab of its new status), else a one-line note; the message (with
    Undo) and, in the queue, the tab counts, out of band."""
    back = _next_url()
    address = urlsplit(back)
    in_queue = address.path == url_for("review.queue")
    context: dict[str, Any] = {"item": item, "message": message, "done": done,
                               "undo_id": undo_id, "next_url": back}  # fmt: skip
    if in_queue:
        try:
            tab = Tab(parse_qs(address.query).get("tab", [Tab.HELD.value])[0])
        except ValueError:
            tab = Tab.HELD
        # A decision closes open reports, so the Reported tab keeps nothing decided.
        stays = tab == Tab.ALL or (tab != Tab.REPORTED and item.status.value == tab.value)
        context.update(page=True, tab=tab, tabs=list(Tab), oob=True,
                       counts=review.counts(current_session(), scope()))  # fmt: skip
    else:
        stays = True
        context.update(page=None, branch_shown=bool(review.branch(item)))
    return render_template("review/_decided.html", stays=stays, form=forms.EmptyForm(),
                           current_score=review.current_score, score_bars=score_bars,
                           **explained([item]), **context)  # fmt: skip


# ------------------------------------------------------------------ audit log


@bp.get("/audit")
@moderator_required
def audit() -> Any:
    args = request.args
    try:
        moderator_id = int(args["moderator"]) if args.get("moderator") else None
        since = (
            datetime.fromisoformat(args["since"]).replace(tzinfo=UTC) if args.get("since") else None
        )
        until = (
            datetime.fromisoformat(args["until"]).replace(tzinfo=UTC) + timedelta(days=1)
            if args.get("until")
            else None
        )
        page = max(1, int(args.get("page", 1)))
    except ValueError:
        abort(400)
    filters = review.AuditFilter(moderator_id, args.get("site") or None, since, until)
    rows, total = review.audit_log(current_session(), scope(), filters, page)
    people_query = select(Moderator).order_by(Moderator.email)
    if not signed_in().is_admin:  # only the people who share a site with this moderator
        people_query = people_query.where(
            Moderator.sites.any(Site.id.in_(signed_in().site_ids))
            | (Moderator.id == signed_in().id)
        )
    people = current_session().scalars(people_query).all()
    return render_template("review/audit.html", rows=rows, total=total, page=page,
                           filters=filters, people=people, sites=visible_sites(),
                           args=args)  # fmt: skip


# ------------------------------------------------------------------ sites


def _site_or_404(slug: str) -> Site:
    try:
        return sites.get_site(current_session(), slug)
    except NotFound:
        abort(404)


def public_url() -> str:
    """The service's address as readers' browsers reach it, for the embed code:
    MODERATION_PUBLIC_URL, else the address this page was asked at."""
    configured = str(current_app.config.get("PUBLIC_URL") or "").rstrip("/")
    return configured or request.host_url.rstrip("/")


def _embed_context() -> dict[str, Any]:
    here = request.host_url.rstrip("/")
    return {
        "public_url": public_url(),
        # An admin reaching the service at another address than the configured one: the
        # embed code may point where readers cannot go (a forgotten MODERATION_PUBLIC_URL).
        "address_differs": here if here != public_url() else None,
        "embed_code": sites.embed_code,
    }


# The service names the origins field as its callers do; the forms call it allowed_origins.
_FORM_FIELD = {"origins": "allowed_origins"}


def _field_error(form: Any, error: DomainError, fallback: str) -> None:
    name = _FORM_FIELD.get(error.field or "", error.field or fallback)
    field = getattr(form, name, None) or getattr(form, fallback)
    field.errors = [*field.errors, error.message]


@bp.route("/sites", methods=["GET", "POST"])
@moderator_required
def site_list() -> Any:
    """Every site for admins (with a form to create one); a moderator's own sites, read
    only: what the blog pastes, its origins and counts. Creating, changing and deleting
    sites changes the policy for every moderator of them, so it is for admins."""
    session = current_session()
    user = signed_in()
    form = forms.NewSiteForm(data={"moderation_mode": "post"})
    if request.method == "POST":
        if not user.is_admin:
            abort(403)
        if form.validate_on_submit():
            try:
                site = sites.create_site(
                    session, form.slug.data or "", form.name.data or "",
                    forms.text_lines(form.allowed_origins.data), form.moderation_mode.data,
                    suspect_words=current_app.config["DEFAULT_SUSPECT_WORDS"],
                    moderator=me(), now=utcnow(),
                )  # fmt: skip
            except DomainError as error:
                session.rollback()
                _field_error(form, error, "slug")
            else:
                session.commit()
                flash(f"created site {site.slug!r}: paste its embed code into your blog", "info")
                return redirect(url_for("review.site_settings", slug=site.slug), code=303)
    summaries = sites.list_sites(session, None if user.is_admin else user.site_ids)
    return render_template("review/sites.html", summaries=summaries, form=form,
                           **_embed_context())  # fmt: skip


# Where the settings page used to be, still served (and registered first: Werkzeug builds
# URLs with the rule registered first, the decorator applied last).
@bp.route("/sites/<slug>/settings", methods=["GET", "POST"])
@bp.route("/sites/<slug>", methods=["GET", "POST"])
@admin_required
def site_settings(slug: str) -> Any:
    """One site: its embed code, name, origins, mode and policy (thresholds, words,
    reports to hold), with the history of its changes."""
    session = current_session()
    site = _site_or_404(slug)
    labels = get_scorer().labels
    defaults = get_scorer().default_thresholds
    form = forms.site_settings_form(site, labels, defaults)
    if form.validate_on_submit():
        try:
            changes = sites.update_settings(session, site, forms.settings_from(form, labels),
                                            me(), utcnow())  # fmt: skip
        except DomainError as error:
            session.rollback()
            _field_error(form, error, "name")
        else:
            session.commit()
            flash(f"saved: {', '.join(changes) or 'nothing changed'}", "info")
            return redirect(url_for("review.site_settings", slug=slug), code=303)
    history = sites.settings_history(session, site)
    return render_template("review/settings.html", site=site, form=form, labels=labels,
                           defaults=defaults, history=history,
                           learned=learning.latest(session, [site.id]).get(site.id),
                           learning_form=forms.EmptyForm(),
                           summary=sites.summarize(session, site), **_embed_context())  # fmt: skip


@bp.post("/sites/<slug>/learning")
@admin_required
def site_learning(slug: str) -> Any:
    """Switch the site's calibration learned from its moderators on or off (audited)."""
    session = current_session()
    site = _site_or_404(slug)
    wanted = request.form.get("learned_policy")
    if not forms.EmptyForm().validate_on_submit() or wanted not in ("on", "off"):
        flash("learned calibration: choose on or off (nothing changed)", "error")
    elif learning.set_learned_policy(session, site, wanted == "on", me(), utcnow()):
        session.commit()
        flash(f"learned calibration switched {wanted}", "info")
    else:
        flash(f"learned calibration already {wanted}", "info")
    return redirect(url_for("review.site_settings", slug=slug) + "#learning", code=303)


@bp.route("/sites/<slug>/delete", methods=["GET", "POST"])
@admin_required
def site_delete(slug: str) -> Any:
    """Asks first, saying what goes with the site; refuses while it has comments unless
    the admin ticks that they go too."""
    session = current_session()
    site = _site_or_404(slug)
    form = forms.DeleteSiteForm()
    if form.validate_on_submit():
        try:
            gone = sites.delete_site(session, site, with_comments=bool(form.with_comments.data))
        except sites.SiteHasComments as refusal:
            session.rollback()
            form.with_comments.errors = [
                *form.with_comments.errors,
                f"{refusal.message}: tick this box to delete them as well",
            ]
        else:
            session.commit()
            count = gone.comment_count
            flash(f"deleted site {slug!r}" + (f" and its {_comments(count)}" if count else ""),
                  "info")  # fmt: skip
            return redirect(url_for("review.site_list"), code=303)
    return render_template("review/site_delete.html", site=site, form=form,
                           summary=sites.summarize(session, site))  # fmt: skip


@bp.get("/sites/<slug>/export")
@admin_required
def site_export(slug: str) -> Any:
    """Download every thread and comment of the site, as our JSON or WordPress's WXR;
    commenters' email addresses only when the admin ticks that box. A GET that changes
    nothing."""
    site = _site_or_404(slug)
    format_ = request.args.get("format", "json")
    if format_ not in export.FORMATS:
        abort(400)
    include_emails = request.args.get("emails") == "1"
    base_url = export.blog_address(site, public_url())
    now = utcnow()
    # Written within the request (the database session lives as long as it does) to a
    # file that stays in memory while small and goes to disk past 4 MiB, then sent.
    spool = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024)  # noqa: SIM115 - send_file closes it
    text = io.TextIOWrapper(spool, encoding="utf-8", write_through=True)
    export.write(current_session(), site, text, now, format=format_, base_url=base_url,
                 include_emails=include_emails)  # fmt: skip
    text.detach()
    spool.seek(0)
    name = f"{slug}-comments-{now.strftime('%Y%m%d')}.{'xml' if format_ == 'wxr' else 'json'}"
    mimetype = "application/xml" if format_ == "wxr" else "application/json"
    return send_file(spool, mimetype=mimetype, as_attachment=True, download_name=name)


# ------------------------------------------------------------------ webhooks (admins)


@bp.route("/sites/<slug>/webhooks", methods=["GET", "POST"])
@admin_required
def site_webhooks(slug: str) -> Any:
    """The site's webhooks: the list with how their deliveries stand, and a form to add
    one. The new webhook's secret is shown once, in this answer (never in the cookie)."""
    session = current_session()
    site = _site_or_404(slug)
    form = forms.WebhookForm()
    secret: str | None = None
    if form.validate_on_submit():
        try:
            made = webhooks.add_webhook(
                session, slug, form.url.data, form.events.data, utcnow(),
                secret=form.secret.data or None,
                allow_private=current_app.config["WEBHOOK_ALLOW_PRIVATE"],
            )  # fmt: skip
        except DomainError as error:
            session.rollback()
            getattr(form, error.field or "url").errors.append(error.message)
        else:
            session.commit()
            secret = None if form.secret.data else made.secret
            flash(f"added webhook {made.id}: {made.url}", "info")
            form = forms.WebhookForm(formdata=None)
    hooks = webhooks.list_webhooks(session, slug)
    standing = {hook.id: webhooks.delivery_counts(session, hook.id) for hook in hooks}
    return render_template("review/webhooks.html", site=site, form=form, hooks=hooks,
                           standing=standing, secret=secret, actions=forms.EmptyForm())  # fmt: skip


def _webhook_or_404(webhook_id: int) -> Any:
    try:
        return webhooks.get_webhook(current_session(), webhook_id)
    except NotFound:
        abort(404)


@bp.get("/webhooks/<int:webhook_id>")
@admin_required
def webhook_log(webhook_id: int) -> Any:
    """A webhook's last 100 deliveries: status, attempts, answer, duration."""
    hook = _webhook_or_404(webhook_id)
    log_rows = webhooks.recent_deliveries(current_session(), webhook_id)
    return render_template("review/webhook_log.html", hook=hook, rows=log_rows)


@bp.post("/webhooks/<int:webhook_id>/test")
@admin_required
def webhook_test(webhook_id: int) -> Any:
    hook = _webhook_or_404(webhook_id)
    if not forms.EmptyForm().validate_on_submit():
        abort(400)
    try:
        outcome = webhooks.send_test(
            current_session(), webhook_id, current_app.config["WEBHOOK_ALLOW_PRIVATE"]
        )
    except DomainError as error:
        flash(f"webhook {webhook_id}: {error.message}", "error")
    else:
        if outcome.delivered:
            flash(f"webhook {webhook_id} answered {outcome.status} in "
                  f"{outcome.duration_ms:.0f} ms", "info")  # fmt: skip
        else:
            flash(f"webhook {webhook_id} did not take the ping: {outcome.error}", "error")
    return redirect(url_for("review.site_webhooks", slug=hook.site.slug), code=303)


@bp.post("/webhooks/<int:webhook_id>/remove")
@admin_required
def webhook_remove(webhook_id: int) -> Any:
    hook = _webhook_or_404(webhook_id)
    if not forms.EmptyForm().validate_on_submit():
        abort(400)
    slug = hook.site.slug
    webhooks.remove_webhook(current_session(), webhook_id)
    current_session().commit()
    flash(f"removed webhook {webhook_id}", "info")
    return redirect(url_for("review.site_webhooks", slug=slug), code=303)


# ------------------------------------------------------------------ dashboard


@bp.get("/dashboard")
@moderator_required
def dashboard() -> Any:
    session = current_session()
    days = 14
    stats = dashboard_figures(session, scope(), utcnow(), days=days)
    charts = {
        "queue": line_chart(stats.queue_size, "comments waiting for review"),
        "decisions": bar_chart(stats.decisions_per_day, "decisions by moderators"),
        "scores": histogram_chart(stats.score_histogram, "highest label score"),
    }
    # Perspective-API feedback (e.g. Coral's moderators' decisions): does the model agree,
    # at the site's current toxicity hold threshold?
    feedback = []
    for site in visible_sites():
        limits = policy.effective_thresholds(site, get_scorer().default_thresholds)
        hold = limits.get("toxicity")
        threshold = hold.hold if hold and hold.hold is not None else 0.5
        summary = perspective.feedback_summary(session, site.id, threshold)
        if summary.total.count:
            feedback.append((site, threshold, summary))
    # The site's own decisions as labels: what the model would do against what people did.
    agreement = agreement_by_site(session, scope(), get_scorer().default_thresholds)
    return render_template(
        "review/dashboard.html",
        stats=stats,
        charts=charts,
        days=days,
        feedback=feedback,
        agreement=agreement,
        learned=learned_by_site(session, scope()),
    )


# ------------------------------------------------------------------ moderators and tokens


@bp.route("/moderators", methods=["GET", "POST"])
@admin_required
def moderator_list() -> Any:
    session = current_session()
    all_sites = list(session.scalars(select(Site).order_by(Site.slug)))
    form = forms.moderator_form(all_sites)
    if form.validate_on_submit():
        try:
            created, password = moderators.create_moderator(
                session,
                form.email.data or "",
                Role(form.role.data),
                [s for s in all_sites if s.id in (form.sites.data or [])],
                form.password.data or None,
            )
        except DomainError as error:
            form.email.errors = [error.message]
        else:
            session.commit()
            if password is None:
                flash(f"created {created.email}", "info")
                return redirect(url_for("review.moderator_list"), code=303)
            # A generated password is shown in this response only: a flash message would
            # carry it in the session cookie, which is signed but not encrypted.
            shown = ShownOnce(f"created {created.email}", "password", password)
            return _moderators_page(forms.moderator_form(all_sites, formdata=None), shown)
    return _moderators_page(form)


@dataclass(frozen=True)
class ShownOnce:
    """A secret shown in the page that created it, never again (only its hash is kept)."""

    done: str
    what: str
    secret: str


def _moderators_page(form: Any, shown: ShownOnce | None = None) -> str:
    session = current_session()
    people = session.scalars(select(Moderator).order_by(Moderator.email)).all()
    tokens = session.scalars(select(ApiToken).order_by(ApiToken.id.desc())).all()
    all_sites = list(session.scalars(select(Site).order_by(Site.slug)))
    return render_template("review/moderators.html", form=form, people=people, sites=all_sites,
                           tokens=tokens, token_form=forms.TokenForm(formdata=None),
                           empty=forms.EmptyForm(), shown=shown)  # fmt: skip


@bp.post("/moderators/<int:moderator_id>/active")
@admin_required
def moderator_active(moderator_id: int) -> Any:
    if not forms.EmptyForm().validate_on_submit():
        abort(400)
    session = current_session()
    person = session.get(Moderator, moderator_id)
    if person is None:
        abort(404)
    if person.id == signed_in().id:
        flash("you cannot deactivate your own account: another admin can", "error")
    else:
        moderators.set_active(session, person, not person.active, utcnow())
        session.commit()
        flash(f"{person.email} is now {'active' if person.active else 'deactivated'}", "info")
    return redirect(url_for("review.moderator_list"), code=303)


@bp.post("/tokens")
@admin_required
def create_token() -> Any:
    form = forms.TokenForm()
    if not form.validate_on_submit():
        flash("give the token a name", "error")
        return redirect(url_for("review.moderator_list"), code=303)
    session = current_session()
    token, secret = moderators.create_api_token(session, me(), form.name.data or "", utcnow())
    session.commit()
    sites_now = list(session.scalars(select(Site).order_by(Site.slug)))
    shown = ShownOnce(f"API token {token.name!r} created", "token", secret)
    return _moderators_page(forms.moderator_form(sites_now, formdata=None), shown)


@bp.post("/tokens/<int:token_id>/revoke")
@admin_required
def revoke_token(token_id: int) -> Any:
    if not forms.EmptyForm().validate_on_submit():
        abort(400)
    session = current_session()
    try:
        moderators.revoke_api_token(session, token_id, utcnow())
    except NotFound:
        abort(404)
    session.commit()
    flash("token revoked", "info")
    return redirect(url_for("review.moderator_list"), code=303)


# ------------------------------------------------------------------ my notifications


@bp.route("/notifications", methods=["GET", "POST"])
@moderator_required
def my_notifications() -> Any:
    session = current_session()
    person = me()
    form = forms.NotificationsForm(data={"notify": person.notify.value})
    if request.method == "POST":
        form = forms.NotificationsForm()
        if form.validate_on_submit():
            changed = notifications.set_preference(
                session, person, NotifyPreference(form.notify.data)
            )
            session.commit()
            flash("saved" if changed else "nothing changed", "info")
            return redirect(url_for("review.my_notifications"), code=303)
    return render_template(
        "review/notifications.html",
        form=form,
        person=person,
        burst_limit=notifications.BURST_LIMIT,
    )


# ------------------------------------------------------------------ my account


@bp.route("/account", methods=["GET", "POST"])
@moderator_required
def my_account() -> Any:
    """The signed-in moderator's password, and their other signed-in browsers."""
    session = current_session()
    person = me()
    form = forms.PasswordForm()
    if form.validate_on_submit():
        try:
            ended = moderators.change_password(session, person, form.current_password.data or "",
                                               form.new_password.data or "", utcnow(),
                                               keep=signed_in().session_token)  # fmt: skip
        except DomainError as error:
            getattr(form, error.field or "new_password").errors = [error.message]
        else:
            session.commit()
            flash(f"password changed; {_sessions(ended)} elsewhere signed out", "info")
            return redirect(url_for("review.my_account"), code=303)
    others = moderators.other_sessions(session, person, signed_in().session_token)
    return render_template("review/account.html", form=form, person=person, others=others,
                           empty=forms.EmptyForm())  # fmt: skip


@bp.post("/account/sign-out-everywhere")
@moderator_required
def sign_out_everywhere() -> BaseResponse:
    """End every session of this account but the one asking."""
    forms.EmptyForm().validate_on_submit() or abort(400)
    session = current_session()
    ended = moderators.end_sessions(session, me(), utcnow(), keep=signed_in().session_token)
    session.commit()
    flash(f"{_sessions(ended)} elsewhere signed out", "info")
    return redirect(url_for("review.my_account"), code=303)


def _sessions(count: int) -> str:
    return f"{count} session{'' if count == 1 else 's'}"


@bp.errorhandler(401)
def unauthorized(error: Exception) -> Response:
    return Response("sign in again", status=401, headers={"HX-Redirect": url_for("review.login")})
