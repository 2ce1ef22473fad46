"""Moderator sessions (Flask-Login). The session holds the moderator's id; each request
loads the account again, so deactivating it or changing its sites takes effect at once."""

from __future__ import annotations

from dataclasses import dataclass

from flask_login import UserMixin

from moderation.db import current_session
from moderation.extensions import login_manager
from moderation.models import Moderator
from moderation.types import Role


@dataclass
class SignedInModerator(UserMixin):  # type: ignore[misc]  # flask_login is untyped
    """The signed-in moderator as the web layer sees it."""

    id: int
    email: str
    role: Role
    site_ids: frozenset[int]

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    def can_moderate(self, site_id: int) -> bool:
        return self.is_admin or site_id in self.site_ids

    @classmethod
    def of(cls, moderator: Moderator) -> SignedInModerator:
        return cls(
            id=moderator.id,
            email=moderator.email,
            role=moderator.role,
            site_ids=frozenset(site.id for site in moderator.sites),
        )


@login_manager.user_loader  # type: ignore[untyped-decorator]
def load_moderator(user_id: str) -> SignedInModerator | None:
    try:
        moderator = current_session().get(Moderator, int(user_id))
    except ValueError:
        return None
    if moderator is None or not moderator.active:
        return None
    return SignedInModerator.of(moderator)
