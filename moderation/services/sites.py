"""Sites: the blogs this service moderates, with their policy settings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.models import Moderator, SettingsChange, Site
from moderation.services.errors import NotFound
from moderation.types import ModerationMode


def get_site(session: Session, slug: str) -> Site:
    """The site with this slug, or NotFound."""
    site = session.scalar(select(Site).where(Site.slug == slug))
    if site is None:
        raise NotFound(f"no site {slug!r}")
    return site


def ensure_site(
    session: Session,
    slug: str,
    name: str,
    allowed_origins: Iterable[str] = (),
    suspect_words: Iterable[str] = (),
) -> tuple[Site, bool]:
    """The site with this slug, created with these settings if missing; and whether it
    was created. An existing site's settings are left as its admins set them."""
    site = session.scalar(select(Site).where(Site.slug == slug))
    if site is not None:
        return site, False
    site = Site(
        slug=slug,
        name=name,
        allowed_origins=list(allowed_origins),
        moderation_mode=ModerationMode.POST,
        thresholds={},
        banned_words=[],
        suspect_words=list(suspect_words),
        flags_to_hold=3,
    )
    session.add(site)
    session.flush()
    return site, True


def origin_allowed(allowed_origins: Iterable[str], origin: str) -> bool:
    """Whether a browser page at ``origin`` may call the API for a site that allows
    ``allowed_origins``. An allowed origin may end in ``:*`` to allow any port
    (``http://localhost:*``)."""
    for allowed in allowed_origins:
        if allowed == origin:
            return True
        if allowed.endswith(":*"):
            prefix = allowed[:-1]
            rest = origin[len(prefix) :]
            if origin.startswith(prefix) and rest.isdigit():
                return True
            if origin == allowed[:-2]:
                return True
    return False


SETTING_FIELDS = (
    "moderation_mode", "thresholds", "banned_words", "suspect_words", "allowed_origins",
    "flags_to_hold",
    "store_analyzed_text",
)  # fmt: skip


def update_settings(
    session: Session,
    site: Site,
    values: Mapping[str, Any],
    moderator: Moderator | None,
    now: datetime,
) -> list[str]:
    """Apply the given settings; each change is audited (who, old, new). Returns the
    names of the settings that changed."""
    changed = []
    for name in SETTING_FIELDS:
        if name not in values:
            continue
        old, new = getattr(site, name), values[name]
        if name == "thresholds":
            new = {
                label: {k: v for k, v in limits.items() if v is not None}
                for label, limits in new.items()
            }
        if old == new:
            continue
        setattr(site, name, new)
        session.add(
            SettingsChange(
                site_id=site.id,
                moderator_id=moderator.id if moderator else None,
                field=name,
                old_value=old.value if hasattr(old, "value") else old,
                new_value=new.value if hasattr(new, "value") else new,
                created_at=now,
            )
        )
        changed.append(name)
    session.flush()
    return changed


def settings_history(session: Session, site: Site, limit: int = 50) -> list[SettingsChange]:
    """The site's latest settings changes, newest first."""
    return list(
        session.scalars(
            select(SettingsChange)
            .where(SettingsChange.site_id == site.id)
            .order_by(SettingsChange.id.desc())
            .limit(limit)
        )
    )
