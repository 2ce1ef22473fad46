"""A simulated site for tests of learning from moderators: a stream of comments from
templates, scored by the real lite model through the worker, and a "moderator" who
decides through the real review service. This site's standard: swearing about things is
fine here (approved), insults aimed at people are not (hidden). The lite model scores
both high, so the plain 0.35 hold threshold holds nearly all of the swearing."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from moderation.current_scorer import get_scorer
from moderation.models import Comment, Moderator, Site
from moderation.services import review, worker
from moderation.types import CommentStatus, utcnow
from tests import factories

# Mild profanity about things, events and machines: nobody is addressed.
SWEARING = [
    "This damn {x} again.",
    "What a crap {x}.",
    "The bloody {x} ruined my morning.",
    "Hell, the {x} was late again.",
    "Holy shit, the {x} was brilliant!",
    "Damn, that {x} was something else.",
    "The {x} is a pain in the ass.",
    "Bloody hell, who designed this {x}?",
]
# Insults aimed at the person being answered.
INSULTS = [
    "You are an idiot if you like the {x}.",
    "Only a moron would defend the {x}, you clown.",
    "You pathetic loser, nobody cares about your {x}.",
    "Shut up about the {x}, you stupid fool.",
    "You people are scum, {x} or not.",
    "Go away with your {x}, you ignorant twit.",
]
# Subjects the site's moderators decide on (learning), and later ones (the held-out test).
EARLIER = ["printer", "weather", "match", "traffic", "update", "referee's call", "bus",
           "meeting", "game", "code", "keyboard"]  # fmt: skip
LATER = ["train", "router", "budget meeting", "parking lot", "phone", "film", "laptop",
         "election night", "queue"]  # fmt: skip


@dataclass(frozen=True)
class Posted:
    comment: Comment
    insult: bool


def stream(subjects: Sequence[str]) -> list[tuple[str, bool]]:
    """Texts with whether each is an insult, interleaved as they would arrive."""
    texts = [(t.format(x=x), False) for x in subjects for t in SWEARING]
    texts += [(t.format(x=x), True) for x in subjects for t in INSULTS]
    return sorted(texts, key=lambda item: zlib.crc32(item[0].encode()))  # a fixed shuffle


def post_and_score(session: Session, site: Site, items: Sequence[tuple[str, bool]]) -> list[Posted]:
    """Submit every text as a reader would, then let a worker score them with the app's
    (lite) scorer and the site's policy."""
    posted = [
        Posted(comments_submit(session, site, text, n), insult)
        for n, (text, insult) in enumerate(items)
    ]
    while worker.process_batch(
        session, get_scorer(), "sim", batch_size=64, lease_seconds=60, max_attempts=3
    ).claimed:
        pass
    session.expire_all()
    return posted


def comments_submit(session: Session, site: Site, text: str, n: int) -> Comment:
    return factories.submit(session, site, text, thread=f"t{n % 7}", author=f"reader {n}")


def moderate(session: Session, moderator: Moderator, posted: Sequence[Posted]) -> None:
    """The site's moderator: approves held swearing, hides insults (held ones from the
    queue, visible ones as readers report them)."""
    approve = [p.comment for p in posted if not p.insult and p.comment.status == CommentStatus.HELD]
    hide = [p.comment for p in posted if p.insult and p.comment.status != CommentStatus.HIDDEN]
    scope = review.scope_of(moderator)
    for action, chosen in ((review.Action.APPROVE, approve), (review.Action.HIDE, hide)):
        if chosen:
            review.decide(session, moderator, scope, [(c.id, c.version) for c in chosen],
                          action, utcnow(), None)  # fmt: skip
    session.commit()


@dataclass(frozen=True)
class Tally:
    """What the policy did with a stream, against the moderator's standard."""

    swearing_held: int  # false alarms: the moderator will approve them
    swearing: int
    insults_held: int  # held or hidden: waiting for the moderator (or gone)
    insults: int

    @property
    def recall(self) -> float:
        return self.insults_held / self.insults


def tally(posted: Sequence[Posted]) -> Tally:
    flagged = [p for p in posted if p.comment.status != CommentStatus.VISIBLE]
    return Tally(
        swearing_held=sum(not p.insult for p in flagged),
        swearing=sum(not p.insult for p in posted),
        insults_held=sum(p.insult for p in flagged),
        insults=sum(p.insult for p in posted),
    )
