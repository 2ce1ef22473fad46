"""Reader reports. Enough of them send a visible comment back to the moderators."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from moderation.models import Flag, ModerationAction
from moderation.services.comments import change_status, get_visible_comment
from moderation.types import Actor, CommentStatus, FlagReason


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
    comment.flag_count += 1
    session.flush()

    last_decision = session.scalar(
        select(func.max(ModerationAction.created_at)).where(
            ModerationAction.comment_id == comment.id,
            ModerationAction.actor == Actor.MODERATOR,
        )
    )
    # One reader (one address) counts once, however often they report the same comment.
    readers = func.count(func.distinct(Flag.ip_hash)) + func.count(Flag.id).filter(
        Flag.ip_hash.is_(None)
    )
    recent = select(readers).where(Flag.comment_id == comment.id)
    if last_decision is not None:
        recent = recent.where(Flag.created_at > last_decision)
    count = session.scalar(recent) or 0
    threshold = comment.thread.site.flags_to_hold
    # Conditional on the version read above: a moderator's decision that lands meanwhile
    # wins, and the report stays recorded without moving the comment.
    if threshold and count >= threshold:
        change_status(
            session,
            comment,
            comment.version,
            CommentStatus.HELD,
            actor=Actor.SYSTEM,
            reason=f"reported by {count} readers (site holds at {threshold})",
            now=now,
        )
        session.flush()
    return flag
