"""Reader reports. Enough of them send a visible comment back to the moderators."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from moderation.models import Flag
from moderation.services import lifecycle
from moderation.services.comments import get_visible_comment
from moderation.types import FlagReason


def flag_comment(
    session: Session,
    comment_id: int,
    reason: FlagReason,
    note: str | None,
    ip_hash: str | None,
    now: datetime,
) -> Flag:
    """Record a reader's report of a visible comment. When the reports since the last
    moderator decision reach the site's ``flags_to_hold``, the comment goes back to
    ``held`` (a moderator who approved it already saw the earlier ones)."""
    comment = get_visible_comment(session, comment_id)
    flag = Flag(comment=comment, reason=reason, note=note, ip_hash=ip_hash, created_at=now)
    session.add(flag)
    lifecycle.report(session, comment, flag, now)
    return flag
