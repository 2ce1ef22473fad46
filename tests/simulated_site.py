"""Simulated sites for tests of learning from moderators: a stream of comments from
templates, scored by the real lite model through the worker, and a "moderator" who decides
through the real review service by the site's own standard (which kinds it hides).

Under the default policy the text rules already do much of what moderators teach: swearing
aimed at no one passes (profanity_not_aimed), insults aimed at someone are held
(insult_aimed). What is left to learn, measured here (README, "Learning from your
moderators"):
- NEWS: a site whose admin lowered the toxicity hold threshold to 0.5; the lite model
  scores heated but harmless complaints ("I hate the train, it is the worst.") over it,
  the moderators approve them and hide insults: false alarms should fall, recall hold.
- FAMILY: a site on the defaults, premoderated while it learns, whose moderators hide
  swearing too, which the rules let pass, and approve plain remarks: once it moves to
  post-moderation, recall should rise at no more false alarms."""

from __future__ import annotations

import zlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from moderation.current_scorer import get_scorer
from moderation.models import Comment, Moderator, Site
from moderation.services import review, worker
from moderation.types import CommentStatus, ModerationMode, utcnow
from tests import factories
from tests.conftest import make_site

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
# Heated complaints about things, nobody addressed, no swear word: the lite model scores
# most of them over 0.5 (not over the default 0.9).
HEATED = [
    "I hate the {x}, it is the worst.",
    "The {x} drove me crazy today.",
    "The {x} is insane, I hate it.",
    "What a ridiculous {x}, honestly.",
    "Worst {x} of my life, I hated it.",
    "The {x} was awful and I hate it.",
]
# Plain remarks: nothing any site would hide.
CLEAN = [
    "Thanks for the write-up on the {x}.",
    "I enjoyed reading about the {x}.",
    "Interesting point about the {x}.",
    "The {x} was a complete disaster from start to finish.",
    "This {x} is a joke.",
    "The {x} made me furious.",
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


KINDS = {"heated": HEATED, "clean": CLEAN, "swearing": SWEARING, "insult": INSULTS}


@dataclass(frozen=True)
class Standard:
    """A site as the simulation sets it up: its hold thresholds, the kinds of comment its
    readers write, and the kinds its moderators hide (they approve the others)."""

    slug: str
    thresholds: dict[str, dict[str, float]]
    kinds: tuple[str, ...]
    hides: frozenset[str]
    mode: ModerationMode = ModerationMode.POST


NEWS = Standard("news", {"toxicity": {"hold": 0.5}}, ("heated", "swearing", "insult"),
                frozenset({"insult"}))  # fmt: skip
# Premoderated while its moderators teach it (they see, and decide, every comment).
FAMILY = Standard("family", {}, ("clean", "swearing", "insult"),
                  frozenset({"swearing", "insult"}), ModerationMode.PRE)  # fmt: skip


@dataclass(frozen=True)
class Posted:
    comment: Comment
    kind: str


def stream(subjects: Sequence[str], kinds: Collection[str]) -> list[tuple[str, str]]:
    """Texts with their kind, interleaved as they would arrive."""
    texts = [(t.format(x=x), kind) for kind in kinds for x in subjects for t in KINDS[kind]]
    return sorted(texts, key=lambda item: zlib.crc32(item[0].encode()))  # a fixed shuffle


def make(session: Session, standard: Standard) -> Site:
    return make_site(session, standard.slug, thresholds=standard.thresholds,
                     moderation_mode=standard.mode)  # fmt: skip


def post_and_score(session: Session, site: Site, items: Sequence[tuple[str, str]]) -> list[Posted]:
    """Submit every text as a reader would, then let a worker score them with the app's
    (lite) scorer and the site's policy."""
    posted = [
        Posted(comments_submit(session, site, text, n), kind)
        for n, (text, kind) in enumerate(items)
    ]
    while worker.process_batch(
        session, get_scorer(), "sim", batch_size=64, lease_seconds=60, max_attempts=3
    ).claimed:
        pass
    session.expire_all()
    return posted


def comments_submit(session: Session, site: Site, text: str, n: int) -> Comment:
    return factories.submit(session, site, text, thread=f"t{n % 7}", author=f"reader {n}")


def moderate(
    session: Session, moderator: Moderator, posted: Sequence[Posted], hides: Collection[str]
) -> None:
    """The site's moderator: approves held comments of the kinds it accepts, hides the
    kinds in ``hides`` (held ones from the queue, visible ones as readers report them)."""
    approve = [p.comment for p in posted
               if p.kind not in hides and p.comment.status == CommentStatus.HELD]  # fmt: skip
    hide = [p.comment for p in posted
            if p.kind in hides and p.comment.status != CommentStatus.HIDDEN]  # fmt: skip
    scope = review.scope_of(moderator)
    for action, chosen in ((review.Action.APPROVE, approve), (review.Action.HIDE, hide)):
        if chosen:
            review.decide(session, moderator, scope, [(c.id, c.version) for c in chosen],
                          action, utcnow(), None)  # fmt: skip
    session.commit()


def decided(session: Session, standard: Standard, subjects: Sequence[str] = EARLIER) -> Site:
    """The site with its moderator's decisions on the stream about ``subjects``."""
    site = make(session, standard)
    posted = post_and_score(session, site, stream(subjects, standard.kinds))
    moderate(session, factories.moderator(session, "editor@example.org"), posted, standard.hides)
    return site


@dataclass(frozen=True)
class Tally:
    """What the policy did with a stream, against the moderators' standard."""

    false_alarms: int  # held (or hidden) and of a kind the moderators approve
    approved: int
    caught: int  # held or hidden, of a kind they hide: waiting for them (or gone)
    hidden: int

    @property
    def recall(self) -> float:
        return self.caught / self.hidden


def tally(statuses: Sequence[tuple[CommentStatus, str]], hides: Collection[str]) -> Tally:
    """``(status, kind)`` of each comment → the tally under a site that hides ``hides``."""
    flagged = [kind for status, kind in statuses if status != CommentStatus.VISIBLE]
    return Tally(
        false_alarms=sum(kind not in hides for kind in flagged),
        approved=sum(kind not in hides for _, kind in statuses),
        caught=sum(kind in hides for kind in flagged),
        hidden=sum(kind in hides for _, kind in statuses),
    )
