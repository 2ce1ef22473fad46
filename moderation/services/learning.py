"""Learning each site's standards from its moderators.

Every standing decision is a label: approving (or restoring, or keeping) a comment says
"acceptable here", hiding it says "not here"; undone decisions, and replies hidden with
their thread (not judged on their own), say nothing. ``learn`` fits a logistic regression
on a site's labels: its inputs are the scorer's stored probabilities (as logits) and the
policy's rules that fired for the comment as the site's settings stand, so any rule the
policy gains becomes a feature by itself; its output is the probability that *this
site's* moderators would hide the comment.

It is cross-validated on the site's own decisions against the plain thresholds, and goes
live only if it is at least as good on both counts and better on one: fewer comments held
that moderators then approved at the same recall of the ones they hid (a site whose
thresholds over-hold), or more of the hidden ones held at no more false alarms (a site
stricter than the policy's rules: the rules cannot tighten themselves, the calibration can
hold what they let pass). Live and switched on (``Site.learned_policy``), the policy uses it in
place of the labels' hold thresholds (policy.decide's ``learned``); banned words, hide
thresholds, bans and the other rules stay as they are.

Fitting imports scikit-learn (the CLI and the worker); applying a calibration is a dot
product on the stored coefficients (``Calibration``), so web processes never load it."""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from moderation.models import (
    Comment,
    ModerationAction,
    Moderator,
    Score,
    SettingsChange,
    Site,
    SiteCalibration,
    Thread,
)
from moderation.scoring import LabelThresholds
from moderation.services import policy, sites
from moderation.types import Actor, CommentStatus, LearnOutcome, Rule

FOLDS = 5
# A probability is read through its logit: the scorer's 0.97 and 0.999 are far apart for
# a linear model only on that scale. Clipped so that 0 and 1 stay finite.
_EPSILON = 1e-4
# Rules that are no reason of their own: what "nothing fired" and trust look like, and
# the calibration's own rule.
_NOT_FEATURES = frozenset({Rule.PASSED_POLICY, Rule.AUTHOR_TRUSTED, Rule.LEARNED_HOLD})


# ---------------------------------------------------------------- the moderators' labels


def _is_undo(detail: dict[str, Any] | None) -> bool:
    detail = detail or {}
    return detail.get("action") == "undo" or "undoes" in detail


def standing_decisions(actions: Sequence[tuple[int, dict[str, Any] | None]]) -> set[int]:
    """The ids of the moderators' ``(id, detail)`` actions that are decisions still in
    force: not undos (``review.undo`` writes ``{"action": "undo", "undone_action": id}``),
    and not undone by an undo that stands itself (an undo may be undone in turn)."""
    undone_by: dict[int, int] = {}
    for action_id, detail in actions:
        undone = (detail or {}).get("undone_action")
        if _is_undo(detail) and undone is not None:
            undone_by[int(undone)] = action_id

    def stands(action_id: int) -> bool:
        undo = undone_by.get(action_id)
        return undo is None or not stands(undo)

    return {
        action_id for action_id, detail in actions if not _is_undo(detail) and stands(action_id)
    }


def moderators_verdicts(
    session: Session, site_ids: Collection[int] | None
) -> dict[int, CommentStatus]:
    """Comment id → what its moderators decided, as it stands: ``visible`` (acceptable
    here) or ``hidden`` (not here), the last standing decision winning. ``site_ids``:
    only these sites' comments (None: all). Replies hidden with their thread were not
    judged on their own and are left out. The dashboard's agreement card and ``learn``
    read the same labels from here."""
    site_filter = [] if site_ids is None else [Thread.site_id.in_(site_ids)]
    actions = session.execute(
        select(
            ModerationAction.id,
            ModerationAction.detail,
            ModerationAction.comment_id,
            ModerationAction.to_status,
        )
        .join(Comment, Comment.id == ModerationAction.comment_id)
        .join(Thread, Thread.id == Comment.thread_id)
        .where(ModerationAction.actor == Actor.MODERATOR, *site_filter)
        .order_by(ModerationAction.created_at, ModerationAction.id)
    ).all()
    standing = standing_decisions([(a.id, a.detail) for a in actions])
    verdicts: dict[int, CommentStatus] = {}
    for action in actions:
        if action.id not in standing or "under" in (action.detail or {}):
            continue
        if action.to_status in (CommentStatus.VISIBLE, CommentStatus.HIDDEN):
            verdicts[action.comment_id] = action.to_status  # the last standing one wins
    return verdicts


def policy_flags(decision: policy.Decision) -> bool:
    """Whether the policy would hold or hide the comment by what it says, leaving out
    premoderation: on a premoderated site everything is held, which says nothing."""
    if decision.status == CommentStatus.HIDDEN:
        return True
    passing = (Rule.PREMODERATION, Rule.PASSED_POLICY, Rule.PROFANITY_NOT_AIMED)
    return any(f.rule not in passing for f in decision.fired)


def features(decision: policy.Decision) -> set[Rule]:
    """The rules that fired for a comment under the plain thresholds: the calibration's
    rule features, the same set ``policy.decide`` hands it."""
    return {f.rule for f in decision.fired if f.rule not in _NOT_FEATURES}


def _forced(decision: policy.Decision) -> bool:
    """Whether the comment is held or hidden whatever the calibration says: hidden by a
    rule, or held by one other than the labels' hold thresholds (premoderation aside)."""
    if decision.status == CommentStatus.HIDDEN:
        return True
    skip = (
        Rule.PREMODERATION,
        Rule.PASSED_POLICY,
        Rule.LABEL_OVER_HOLD,
        Rule.AUTHOR_TRUSTED,
        Rule.PROFANITY_NOT_AIMED,
    )
    return any(f.rule not in skip for f in decision.fired)


# ---------------------------------------------------------------- applying a calibration


def _logit(probability: float) -> float:
    p = min(max(probability, _EPSILON), 1 - _EPSILON)
    return math.log(p / (1 - p))


@dataclass(frozen=True)
class Calibration:
    """A live calibration as the policy applies it: no scikit-learn, plain arithmetic."""

    id: int
    labels: tuple[str, ...]
    rules: tuple[str, ...]
    coefficients: tuple[float, ...]  # one per label, then one per rule
    intercept: float
    threshold: float

    def probability(self, scores: Mapping[str, float], rules: Collection[Rule]) -> float:
        """The probability that the site's moderators would hide a comment with these
        label ``scores`` for which these ``rules`` fired."""
        fired = {str(rule) for rule in rules}
        inputs = [_logit(scores.get(label, 0.0)) for label in self.labels]
        inputs += [1.0 if rule in fired else 0.0 for rule in self.rules]
        z = self.intercept + sum(c * x for c, x in zip(self.coefficients, inputs, strict=True))
        return 1 / (1 + math.exp(-z)) if z > -700 else 0.0

    @classmethod
    def from_row(cls, row: SiteCalibration) -> Calibration:
        assert row.intercept is not None and row.threshold is not None  # noqa: S101 (live)
        return cls(
            row.id,
            tuple(row.labels),
            tuple(row.rules),
            tuple(row.coefficients),
            row.intercept,
            row.threshold,
        )


def latest(session: Session, site_ids: Collection[int] | None) -> dict[int, SiteCalibration]:
    """Site id → its newest learning run (the one in force), for ``site_ids`` (None: all)."""
    newest = select(SiteCalibration.site_id, func.max(SiteCalibration.id).label("id")).group_by(
        SiteCalibration.site_id
    )
    if site_ids is not None:
        newest = newest.where(SiteCalibration.site_id.in_(site_ids))
    sub = newest.subquery()
    rows = session.scalars(select(SiteCalibration).join(sub, SiteCalibration.id == sub.c.id))
    return {row.site_id: row for row in rows}


def live_calibration(session: Session, site: Site, scorer_name: str) -> Calibration | None:
    """The calibration the policy uses for ``site``: its newest run, if that went live,
    was fitted on this scorer's probabilities, and the site has not switched it off."""
    if not site.learned_policy:
        return None
    # Asked for each comment scored, in every post: kept in this process's memory as the
    # site itself is (sites.SiteCache). A calibration written in this process (by the
    # worker thread of `make run`, in the process that runs it) empties the cache at once
    # (sites._site_written); one written by another (`make run`'s other web process, a
    # worker process of its own, the command line) is used here within SITE_CACHE_SECONDS.
    return _calibrations.read(
        session,
        (site.id, scorer_name),
        lambda: _read_live_calibration(session, site.id, scorer_name),
    )


_calibrations: sites.SiteCache[tuple[int, str], Calibration | None] = sites.SiteCache()


def _read_live_calibration(session: Session, site_id: int, scorer_name: str) -> Calibration | None:
    row = session.scalars(
        select(SiteCalibration)
        .where(SiteCalibration.site_id == site_id)
        .order_by(SiteCalibration.id.desc())
        .limit(1)
    ).first()
    if row is None or row.outcome != LearnOutcome.LIVE or row.scorer != scorer_name:
        return None
    return Calibration.from_row(row)


def set_learned_policy(
    session: Session, site: Site, on: bool, moderator: Moderator | None, now: datetime
) -> bool:
    """Switch the site's use of its learned calibration on or off, audited like its other
    settings. Returns whether it changed."""
    if site.learned_policy == on:
        return False
    session.add(
        SettingsChange(
            site_id=site.id,
            moderator_id=moderator.id if moderator else None,
            field="learned_policy",
            old_value=site.learned_policy,
            new_value=on,
            created_at=now,
        )
    )
    site.learned_policy = on
    session.flush()
    return True


# ---------------------------------------------------------------- learning


@dataclass(frozen=True)
class Settings:
    """When and how strictly to learn (MODERATION_LEARN_*, config/default.py)."""

    every: int = 50  # the worker learns again after this many moderators' actions; 0: never
    check_seconds: float = 60.0  # how often the worker looks
    minimum: int = 50  # decisions of each kind needed to fit anything
    recall_tolerance: float = 0.02  # how much lower a recall still counts as equal

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        return cls(
            every=int(config.get("LEARN_EVERY", cls.every)),
            check_seconds=float(config.get("LEARN_CHECK_SECONDS", cls.check_seconds)),
            minimum=int(config.get("LEARN_MIN_DECISIONS", cls.minimum)),
            recall_tolerance=float(config.get("LEARN_RECALL_TOLERANCE", cls.recall_tolerance)),
        )


@dataclass
class Example:
    """One decided comment: its stored scores, the plain policy's view of it, the label."""

    scores: dict[str, float]
    rules: set[Rule]
    flagged: bool  # the plain thresholds hold or hide it
    forced: bool  # held or hidden whatever a calibration says
    hidden: bool  # what its moderators decided


def examples(
    session: Session,
    site: Site,
    scorer_name: str,
    scorer_defaults: Mapping[str, LabelThresholds],
    rescore: policy.Rescore | None = None,
) -> list[Example]:
    """The site's decided comments with a current score from ``scorer_name``, each under
    the site's policy as it stands now (thresholds, word lists; ``rescore``: the scorer,
    for the policy's rule 6, as the worker decides)."""
    verdicts = moderators_verdicts(session, [site.id])
    if not verdicts:
        return []
    rows = session.execute(
        select(Comment.id, Comment.body, Score.labels)
        .join(Thread, Thread.id == Comment.thread_id)
        .join(Score, and_(Score.comment_id == Comment.id, Score.superseded_at.is_(None)))
        .where(Thread.site_id == site.id, Score.scorer == scorer_name)
        .order_by(Comment.id)
    ).all()
    found = []
    for comment_id, body, labels in rows:
        verdict = verdicts.get(comment_id)
        if verdict is None or not labels:
            continue
        decision = policy.decide(site, body, labels, scorer_defaults, rescore=rescore)
        found.append(
            Example(
                scores=dict(labels),
                rules=features(decision),
                flagged=policy_flags(decision),
                forced=_forced(decision),
                hidden=verdict == CommentStatus.HIDDEN,
            )
        )
    return found


@dataclass(frozen=True)
class Figures:
    """How a way of deciding does on the site's decisions."""

    false_alarms: int  # held (or hidden) by it, approved by moderators
    approved: int
    caught: int  # held (or hidden) by it, hidden by moderators
    hidden: int

    @property
    def recall(self) -> float:
        return self.caught / self.hidden if self.hidden else 1.0

    def as_json(self) -> dict[str, Any]:
        return {
            "false_alarms": self.false_alarms,
            "approved": self.approved,
            "caught": self.caught,
            "hidden": self.hidden,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Figures:
        return cls(data["false_alarms"], data["approved"], data["caught"], data["hidden"])


def _figures(flagged: Sequence[bool], hidden: Sequence[bool]) -> Figures:
    return Figures(
        false_alarms=sum(f and not h for f, h in zip(flagged, hidden, strict=True)),
        approved=sum(not h for h in hidden),
        caught=sum(f and h for f, h in zip(flagged, hidden, strict=True)),
        hidden=sum(hidden),
    )


def _threshold_for_recall(
    probabilities: Sequence[float], hidden: Sequence[bool], forced: Sequence[bool], recall: float
) -> float:
    """A probability threshold at which the calibration, with the rules it does not
    replace, holds at least ``recall`` of the hidden comments: the highest such, lowered
    halfway to the next probability below it (any comment's), a margin for comments it
    has not seen that changes nothing on these."""
    needed = math.ceil(recall * sum(hidden) - 1e-9)
    needed -= sum(f and h for f, h in zip(forced, hidden, strict=True))
    candidates = sorted(
        (p for p, h, f in zip(probabilities, hidden, forced, strict=True) if h and not f),
        reverse=True,
    )
    if needed <= 0 or not candidates:
        return 1.0
    lowest = candidates[min(needed, len(candidates)) - 1]
    below = [p for p, f in zip(probabilities, forced, strict=True) if not f and p < lowest]
    return (lowest + max(below)) / 2 if below else lowest


def _threshold_for_false_alarms(
    probabilities: Sequence[float], hidden: Sequence[bool], forced: Sequence[bool], allowed: int
) -> float:
    """The lowest probability threshold at which the calibration, with the rules it does
    not replace, holds at most ``allowed`` approved comments: raised halfway to the next
    probability above the first approved one it must let pass, the same margin."""
    free = allowed - sum(f and not h for f, h in zip(forced, hidden, strict=True))
    approved = sorted(
        (p for p, h, f in zip(probabilities, hidden, forced, strict=True) if not h and not f),
        reverse=True,
    )
    if free >= len(approved):
        return min((p for p, f in zip(probabilities, forced, strict=True) if not f), default=1.0)
    passing = approved[max(free, 0)]  # the highest approved one it must not hold
    above = [p for p, f in zip(probabilities, forced, strict=True) if not f and p > passing]
    return (passing + min(above)) / 2 if above else 1.0


def _threshold(
    probabilities: Sequence[float],
    hidden: Sequence[bool],
    forced: Sequence[bool],
    plain: Figures,
) -> float:
    """The calibration's threshold, chosen on these decisions against the plain
    thresholds' ``plain`` figures: where it holds fewer approved comments at the plain
    recall, that one (false alarms fall, recall holds); otherwise the one that holds the
    most hidden ones at no more false alarms than the plain (recall rises)."""

    def figures(threshold: float) -> Figures:
        flagged = [f or p >= threshold for p, f in zip(probabilities, forced, strict=True)]
        return _figures(flagged, hidden)

    at_recall = _threshold_for_recall(probabilities, hidden, forced, plain.recall)
    if figures(at_recall).false_alarms < plain.false_alarms:
        return at_recall
    at_false_alarms = _threshold_for_false_alarms(probabilities, hidden, forced, plain.false_alarms)
    if figures(at_false_alarms).recall > figures(at_recall).recall:
        return at_false_alarms
    return at_recall


def better(before: Figures, after: Figures, recall_tolerance: float) -> bool:
    """The go-live rule: at least as good as the plain thresholds on both counts (a recall
    at most ``recall_tolerance`` lower counts as equal), and strictly better on one:
    fewer held-then-approved, or a recall higher by more than the tolerance."""
    if after.false_alarms > before.false_alarms:
        return False
    if after.recall < before.recall - recall_tolerance:
        return False
    return (
        after.false_alarms < before.false_alarms or after.recall > before.recall + recall_tolerance
    )


@dataclass(frozen=True)
class Outcome:
    """What a learning run came to: the stored row, and what to tell the person."""

    calibration: SiteCalibration

    @property
    def live(self) -> bool:
        return self.calibration.outcome == LearnOutcome.LIVE


def moderator_actions(session: Session, site: Site) -> int:
    """How many moderators' actions the site has had (undos included): the worker learns
    again every MODERATION_LEARN_EVERY of them."""
    return (
        session.scalar(
            select(func.count(ModerationAction.id))
            .join(Comment, Comment.id == ModerationAction.comment_id)
            .join(Thread, Thread.id == Comment.thread_id)
            .where(Thread.site_id == site.id, ModerationAction.actor == Actor.MODERATOR)
        )
        or 0
    )


def _suggested_thresholds(
    found: Sequence[Example],
    scorer_defaults: Mapping[str, LabelThresholds],
    site: Site,
    recall: float,
) -> tuple[dict[str, Any], Figures]:
    """Per label, the highest hold threshold (raised one label at a time, rounded down to
    a hundredth) at which the plain thresholds keep ``recall`` on the site's decisions:
    what an admin could set by hand instead of the calibration. In-sample figures."""
    limits = policy.effective_thresholds(site, scorer_defaults)
    hidden = [e.hidden for e in found]
    holds = {label: t.hold for label, t in limits.items() if t.hold is not None}

    def flagged(with_holds: Mapping[str, float]) -> list[bool]:
        return [
            e.forced or any(e.scores.get(label, 0.0) >= hold for label, hold in with_holds.items())
            for e in found
        ]

    suggested: dict[str, Any] = {}
    for label in sorted(holds):
        current = holds[label]
        values = sorted({e.scores.get(label, 0.0) for e in found if e.hidden}, reverse=True)
        best = current
        for value in values:  # highest first: the first that keeps recall is the best
            if value <= current:
                break
            candidate = math.floor(value * 100) / 100
            if candidate <= current:
                break
            trial = {**holds, label: candidate}
            if _figures(flagged(trial), hidden).recall >= recall:
                best = candidate
                break
        holds[label] = best
        suggested[label] = {"hold": best, "current": current}
    return suggested, _figures(flagged(holds), hidden)


def learn(
    session: Session,
    site: Site,
    scorer_name: str,
    scorer_defaults: Mapping[str, LabelThresholds],
    *,
    minimum: int,
    recall_tolerance: float,
    now: datetime,
    rescore: policy.Rescore | None = None,
    apart: bool = False,
) -> Outcome:
    """Learn ``site``'s standards from its moderators' decisions and record the run (a
    SiteCalibration row, the newest of the site's: the one in force). With fewer than
    ``minimum`` decisions of either kind it fits nothing. Otherwise it cross-validates
    (``FOLDS`` folds; each fold's threshold chosen on the others) and goes live only if
    it is ``better`` than the thresholds: no more held-then-approved and a recall of
    hidden ones no more than ``recall_tolerance`` below theirs, with fewer of the one or
    a recall higher by more than the tolerance. With ``apart`` the fitting runs in a
    child process (``_fit_apart``). The caller commits."""
    found = examples(session, site, scorer_name, scorer_defaults, rescore)
    hidden = [e.hidden for e in found]
    approved_count, hidden_count = len(found) - sum(hidden), sum(hidden)
    row = SiteCalibration(
        site_id=site.id,
        scorer=scorer_name,
        approved=approved_count,
        hidden=hidden_count,
        actions_seen=moderator_actions(session, site),
        labels=[],
        rules=[],
        coefficients=[],
        fitted_at=now,
    )
    minimum = max(minimum, FOLDS)  # each fold needs a decision of each kind
    if approved_count < minimum or hidden_count < minimum:
        row.outcome = LearnOutcome.TOO_FEW
        row.note = (
            f"too few decisions to learn from: {approved_count} approved and {hidden_count} "
            f"hidden with a {scorer_name} score; it needs {minimum} of each. "
            "Nothing fitted: the thresholds decide."
        )
        session.add(row)
        session.flush()
        return Outcome(row)

    labels = sorted({label for e in found for label in e.scores})
    rules = sorted({str(rule) for e in found for rule in e.rules})
    x = [
        [_logit(e.scores.get(label, 0.0)) for label in labels]
        + [1.0 if Rule(rule) in e.rules else 0.0 for rule in rules]
        for e in found
    ]
    y = [int(h) for h in hidden]
    forced = [e.forced for e in found]
    before = _figures([e.flagged for e in found], hidden)

    fitted = _fit_apart(x, y) if apart else fit(x, y)
    out_of_fold, folds = fitted.out_of_fold, fitted.folds
    flagged_after = [False] * len(found)
    for train, test in folds:
        # The threshold for a fold is chosen on the other folds' predictions, so the
        # figures below never saw the comments they are measured on.
        others = [int(i) for i in train]
        threshold = _threshold(
            [float(out_of_fold[i]) for i in others],
            [hidden[i] for i in others],
            [forced[i] for i in others],
            _figures([found[i].flagged for i in others], [hidden[i] for i in others]),
        )
        for i in test:
            flagged_after[int(i)] = forced[int(i)] or float(out_of_fold[i]) >= threshold
    after = _figures(flagged_after, hidden)

    row.labels, row.rules = labels, rules
    row.coefficients = fitted.coefficients
    row.intercept = fitted.intercept
    row.threshold = _threshold([float(p) for p in out_of_fold], hidden, forced, before)
    suggested, suggested_figures = _suggested_thresholds(
        found, scorer_defaults, site, before.recall
    )
    row.suggested_thresholds = suggested
    row.figures = {
        "before": before.as_json(),
        "after": after.as_json(),
        "suggested": suggested_figures.as_json(),
        "folds": FOLDS,
    }
    live = better(before, after, recall_tolerance)
    row.outcome = LearnOutcome.LIVE if live else LearnOutcome.NOT_BETTER
    if live:
        row.note = (
            f"live: held-then-approved {before.false_alarms} → {after.false_alarms} of "
            f"{before.approved}, recall of hidden {before.recall:.0%} → {after.recall:.0%}"
            + ("" if site.learned_policy else " (switched off for this site: not used)")
        )
    else:
        row.note = (
            f"not live: it does not beat the thresholds (held-then-approved "
            f"{before.false_alarms} → {after.false_alarms} of {before.approved}, recall of "
            f"hidden {before.recall:.0%} → {after.recall:.0%}); the thresholds decide"
        )
    session.add(row)
    session.flush()
    return Outcome(row)


@dataclass(frozen=True)
class Fitted:
    """What the logistic regression gave: each decision's out-of-fold probability, the
    folds (train and test indices), and the model fitted on every decision."""

    out_of_fold: list[float]
    folds: list[tuple[list[int], list[int]]]
    coefficients: list[float]
    intercept: float


def fit(x: list[list[float]], y: list[int]) -> Fitted:
    """Fit on features ``x`` and labels ``y`` (1: hidden), cross-validated over FOLDS.
    Imports scikit-learn (and keeps it loaded, ~100 MiB): never in a web process."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    features, labels = np.array(x), np.array(y, dtype=int)
    out_of_fold = np.zeros(len(y))
    folds = list(StratifiedKFold(FOLDS, shuffle=True, random_state=0).split(features, labels))
    for train, test in folds:
        model = LogisticRegression(max_iter=1000).fit(features[train], labels[train])
        out_of_fold[test] = model.predict_proba(features[test])[:, 1]
    model = LogisticRegression(max_iter=1000).fit(features, labels)
    return Fitted(
        out_of_fold=[float(p) for p in out_of_fold],
        folds=[([int(i) for i in train], [int(i) for i in test]) for train, test in folds],
        coefficients=[float(c) for c in model.coef_[0]],
        intercept=float(model.intercept_[0]),
    )


def _fit_apart(x: list[list[float]], y: list[int]) -> Fitted:
    """``fit`` in a child process that exits after it: the worker of `make run` lives in
    the web process, which must not keep scikit-learn's ~100 MiB for a fit now and then."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        return pool.submit(fit, x, y).result()


def learn_due(
    session: Session,
    scorer_name: str,
    scorer_defaults: Mapping[str, LabelThresholds],
    *,
    every: int,
    minimum: int,
    recall_tolerance: float,
    now: datetime,
    rescore: policy.Rescore | None = None,
    apart: bool = False,
) -> list[Outcome]:
    """Learn again for each site whose moderators took ``every`` actions or more since
    its last run (or since it began). The caller commits."""
    counts = dict(
        session.execute(
            select(Thread.site_id, func.count(ModerationAction.id))
            .join(Comment, Comment.thread_id == Thread.id)
            .join(ModerationAction, ModerationAction.comment_id == Comment.id)
            .where(ModerationAction.actor == Actor.MODERATOR)
            .group_by(Thread.site_id)
        ).all()
    )
    runs = latest(session, list(counts))
    outcomes = []
    for site_id, count in sorted(counts.items()):
        seen = runs[site_id].actions_seen if site_id in runs else 0
        if count - seen >= every:
            site = session.get_one(Site, site_id)
            outcomes.append(
                learn(
                    session,
                    site,
                    scorer_name,
                    scorer_defaults,
                    minimum=minimum,
                    recall_tolerance=recall_tolerance,
                    now=now,
                    rescore=rescore,
                    apart=apart,
                )
            )
    return outcomes
