"""Sites: the blogs this service moderates, with their policy settings."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.models import Site
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


def origin_allowed(site: Site, origin: str) -> bool:
    """Whether a browser page at ``origin`` may call the API for ``site``. An allowed
    origin may end in ``:*`` to allow any port (``http://localhost:*``)."""
    for allowed in site.allowed_origins or []:
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
