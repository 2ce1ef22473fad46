"""Forms of the moderator pages (Flask-WTF: every one carries a CSRF token)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    FloatField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from moderation.models import Site
from moderation.scoring import LabelThresholds
from moderation.services import sites
from moderation.services.errors import Invalid
from moderation.types import BanMode, EventType, ModerationMode, NotifyPreference, Role


class EmptyForm(FlaskForm):  # type: ignore[misc]  # flask_wtf is untyped
    """Just the CSRF token, for buttons that post."""


class LoginForm(FlaskForm):  # type: ignore[misc]
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class NotificationsForm(FlaskForm):  # type: ignore[misc]
    notify = SelectField(
        "Mail me about held comments",
        choices=[
            SelectChoice(NotifyPreference.IMMEDIATE.value, "immediately: a mail for each"),
            SelectChoice(NotifyPreference.HOURLY.value, "hourly: one digest an hour"),
            SelectChoice(NotifyPreference.DAILY.value, "daily: one digest a day"),
            SelectChoice(NotifyPreference.OFF.value, "off: no mail"),
        ],
        validate_choice=True,
    )


class TokenForm(FlaskForm):  # type: ignore[misc]
    name = StringField("Token name", validators=[DataRequired(), Length(max=100)])


# hold: to review; hide: hidden at once; warn: the widget warns the writer before posting
# (empty: the scorer's hold threshold).
THRESHOLD_KINDS = ("hold", "hide", "warn")


class MultiCheckboxField(SelectMultipleField):  # type: ignore[misc]
    """A SelectMultipleField shown as one checkbox per choice."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class WebhookForm(FlaskForm):  # type: ignore[misc]
    url = StringField("URL", validators=[DataRequired(), Length(max=2048)])
    events = MultiCheckboxField(
        "Events",
        choices=[SelectChoice(e.value, e.value) for e in EventType],
        validators=[DataRequired(message="choose at least one event")],
    )
    secret = StringField(
        "Signing secret (empty: a new random one)", validators=[Optional(), Length(max=200)]
    )


def text_lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def checked_by(check: Callable[[Any], Any]) -> Callable[[Any, Any], None]:
    """A field validator that asks the sites service, so the page refuses exactly what
    the service (and the command line) refuses, in the same words, next to the field."""

    def validate(form: Any, field: Any) -> None:
        try:
            check(field.data or "")
        except Invalid as error:
            raise ValidationError(error.message) from None

    return validate


WORDS_LABEL = "{kind} words ({does}), one per line: a phrase, or a /pattern/ between slashes"
MODE_CHOICES = [
    SelectChoice(ModerationMode.POST.value, "post: show unless the policy holds it"),
    SelectChoice(ModerationMode.PRE.value, "pre: hold every comment for review"),
]
BAN_MODE_CHOICES = [
    SelectChoice(BanMode.HOLD.value, "held for review"),
    SelectChoice(BanMode.REFUSE.value, "refused: the author is told they are banned"),
]
ORIGINS_LABEL = "Allowed origins, one per line (e.g. https://blog.example.org)"


class NewSiteForm(FlaskForm):  # type: ignore[misc]
    slug = StringField(
        "Slug (in the embed code and API paths)",
        validators=[
            DataRequired(message="give the site a slug, e.g. my-blog"),
            checked_by(sites.check_slug),
        ],  # fmt: skip
    )
    name = StringField(
        "Name",
        validators=[DataRequired(message="give the site a name"), checked_by(sites.check_name)],
    )
    allowed_origins = TextAreaField(
        ORIGINS_LABEL,
        validators=[checked_by(lambda text: sites.normalize_origins(text_lines(text)))],
    )
    moderation_mode = SelectField("Moderation mode", choices=MODE_CHOICES)


class DeleteSiteForm(FlaskForm):  # type: ignore[misc]
    with_comments = BooleanField("Delete its comments too")


def site_settings_form(
    site: Site, labels: Sequence[str], defaults: Mapping[str, LabelThresholds]
) -> Any:
    """A form with the site's settings and a hold and hide threshold per label."""

    class SettingsForm(FlaskForm):  # type: ignore[misc]
        name = StringField(
            "Name",
            validators=[DataRequired(message="give the site a name"), checked_by(sites.check_name)],
        )
        moderation_mode = SelectField("Moderation mode", choices=MODE_CHOICES)
        banned_words = TextAreaField(
            WORDS_LABEL.format(kind="Banned", does="hide"),
            validators=[checked_by(lambda t: sites.check_word_list(text_lines(t), "banned_words"))],
        )
        suspect_words = TextAreaField(
            WORDS_LABEL.format(kind="Suspect", does="hold"),
            validators=[
                checked_by(lambda t: sites.check_word_list(text_lines(t), "suspect_words"))
            ],
        )
        allowed_origins = TextAreaField(
            ORIGINS_LABEL,
            validators=[checked_by(lambda text: sites.normalize_origins(text_lines(text)))],
        )
        store_analyzed_text = BooleanField(
            "Keep the texts sent to the scoring API (Perspective-compatible) unless a request "
            "says doNotStore"
        )
        flags_to_hold = IntegerField(
            "Reports that send a comment back to review", validators=[NumberRange(0, 1000)]
        )
        ban_mode = SelectField("Comments from banned authors", choices=BAN_MODE_CHOICES)

    for label in labels:
        for kind in THRESHOLD_KINDS:
            setattr(
                SettingsForm,
                f"{label}__{kind}",
                FloatField(f"{label} {kind}", validators=[Optional(), NumberRange(0, 1)]),
            )

    form = SettingsForm(
        data={
            "name": site.name,
            "moderation_mode": site.moderation_mode.value,
            "banned_words": "\n".join(site.banned_words or []),
            "suspect_words": "\n".join(site.suspect_words or []),
            "allowed_origins": "\n".join(site.allowed_origins or []),
            "flags_to_hold": site.flags_to_hold,
            "store_analyzed_text": site.store_analyzed_text,
            "ban_mode": site.ban_mode.value,
            **{
                f"{label}__{kind}": (site.thresholds or {})
                .get(label, {})
                .get(kind, getattr(defaults.get(label, LabelThresholds(None)), kind))
                for label in labels
                for kind in ("hold", "hide")
            },
            **{
                f"{label}__warn": (site.thresholds or {}).get(label, {}).get("warn")
                for label in labels
            },
        }
    )
    return form


def settings_from(form: Any, labels: Sequence[str]) -> dict[str, Any]:
    return {
        "name": form.name.data or "",
        "moderation_mode": ModerationMode(form.moderation_mode.data),
        "banned_words": text_lines(form.banned_words.data),
        "suspect_words": text_lines(form.suspect_words.data),
        "allowed_origins": text_lines(form.allowed_origins.data),
        "flags_to_hold": form.flags_to_hold.data,
        "store_analyzed_text": bool(form.store_analyzed_text.data),
        "ban_mode": BanMode(form.ban_mode.data),
        "thresholds": {
            label: {kind: getattr(form, f"{label}__{kind}").data for kind in THRESHOLD_KINDS}
            for label in labels
        },
    }


def moderator_form(all_sites: Sequence[Site], **kwargs: Any) -> Any:
    """The form adding a moderator (``formdata=None`` for an empty one after a POST)."""

    class ModeratorForm(FlaskForm):  # type: ignore[misc]
        email = EmailField(
            "Email",
            validators=[
                DataRequired(),
                Regexp(r"^[^@\s]+@[^@\s]+$", message="not an email address"),
                Length(max=254),
            ],
        )
        role = SelectField(
            "Role",
            choices=[
                SelectChoice(Role.MODERATOR.value, "moderator: assigned sites"),
                SelectChoice(Role.ADMIN.value, "admin: all sites, settings"),
            ],
        )
        sites = SelectMultipleField(
            "Sites", coerce=int, choices=[SelectChoice(str(s.id), s.slug) for s in all_sites]
        )
        password = PasswordField(
            "Password (empty: generate one)", validators=[Optional(), Length(min=10, max=200)]
        )

    return ModeratorForm(**kwargs)


class PasswordForm(FlaskForm):  # type: ignore[misc]
    current_password = PasswordField(
        "Current password", validators=[DataRequired(), Length(max=200)]
    )
    new_password = PasswordField(
        "New password", validators=[DataRequired(), Length(min=10, max=200)]
    )
