"""Moderator sessions (Flask-Login). The session cookie holds the token of a
moderator_session row, not the moderator's id; each request loads the row and the account
again, so signing out, a password change, deactivation or a change of sites takes effect
at once, even for a copy of the cookie saved earlier."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_login import UserMixin

from moderation.db import current_session
from moderation.extensions import login_manager
from moderation.models import Moderator
from moderation.services import moderators
from moderation.types import Role, utcnow


@dataclass
class SignedInModerator(UserMixin):  # type: ignore[misc]  # flask_login is untyped
    """The signed-in moderator as the web layer sees it."""

    id: int
    email: str
    role: Role
    site_ids: frozenset[int]
    session_token: str

    def get_id(self) -> str:
        # What Flask-Login keeps in the cookie and hands back to load_moderator.
        return self.session_token

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    def can_moderate(self, site_id: int) -> bool:
        return self.is_admin or site_id in self.site_ids

    @classmethod
    def of(cls, moderator: Moderator, session_token: str) -> SignedInModerator:
        return cls(
            id=moderator.id,
            email=moderator.email,
            role=moderator.role,
            site_ids=frozenset(site.id for site in moderator.sites),
            session_token=session_token,
        )


@login_manager.user_loader  # type: ignore[untyped-decorator]
def load_moderator(session_token: str) -> SignedInModerator | None:
    lifetime = timedelta(days=current_app.config["SESSION_LIFETIME_DAYS"])
    moderator = moderators.moderator_for_session(current_session(), session_token, utcnow(),
                                                 lifetime)  # fmt: skip
    if moderator is None:
        return None
    return SignedInModerator.of(moderator, session_token)
