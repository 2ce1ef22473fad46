"""Checking a draft before it is posted (Coral's pre-posting warning): score the text, store
nothing, and say which of the site's guidelines it may break.

A label warns at its *warn* threshold: the site's ``thresholds[label]["warn"]`` when set
(``null`` turns the warning off for that label), else the service-wide default for the
label, else the label's effective hold threshold. The writer then edits, or posts anyway;
a comment posted anyway is held for a moderator (see ``comments.submit``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from moderation.models import Site
from moderation.scoring import LabelThresholds, Scorer
from moderation.services.policy import effective_thresholds

log = logging.getLogger(__name__)

# What a writer reads when a label reaches its warn threshold: the guideline, not a score.
# Scores stay private so that the check cannot be used to tune text just under a threshold.
GUIDELINES: Mapping[str, str] = {
    "toxicity": "Be respectful: no insults, name-calling or abuse of other people.",
    "severe_toxicity": "Be respectful: no hateful or very aggressive language.",
    "obscene": "Keep it clean: no obscene or vulgar language.",
    "threat": "No threats: never threaten or wish harm on anyone.",
    "insult": "Criticise ideas, not people: no insults.",
    "identity_attack": "No attacks on people for who they are (origin, religion, gender…).",
    "sexual_explicit": "No sexually explicit content.",
}
DEFAULT_GUIDELINE = "Follow the community guidelines of this site."


@dataclass(frozen=True)
class Concern:
    """A guideline the draft may break, and the model label that says so."""

    label: str
    guideline: str


@dataclass(frozen=True)
class DraftCheck:
    concerns: tuple[Concern, ...]

    @property
    def warning(self) -> bool:
        return bool(self.concerns)


class DraftNotChecked(Exception):
    """The model did not answer in time or failed; the writer may post without a check."""


def warn_thresholds(
    site: Site,
    scorer_defaults: Mapping[str, LabelThresholds],
    service_defaults: Mapping[str, float | None] | None = None,
) -> dict[str, float]:
    """Per label, the score at which a draft gets a warning (labels without one are left
    out)."""
    overrides = site.thresholds or {}
    result: dict[str, float] = {}
    for label, limits in effective_thresholds(site, scorer_defaults).items():
        site_override = overrides.get(label) or {}
        if "warn" in site_override:
            value = site_override["warn"]
        elif service_defaults and label in service_defaults:
            value = service_defaults[label]
        else:
            value = limits.hold
        if value is not None:
            result[label] = float(value)
    return result


def concerns_for(scores: Mapping[str, float], thresholds: Mapping[str, float]) -> DraftCheck:
    """The guidelines a text with these ``scores`` may break, strongest score first."""
    reached = sorted(
        (label for label, limit in thresholds.items() if scores.get(label, 0.0) >= limit),
        key=lambda label: -scores[label],
    )
    return DraftCheck(
        tuple(Concern(label, GUIDELINES.get(label, DEFAULT_GUIDELINE)) for label in reached)
    )


# Drafts are scored off the request thread so that a slow model cannot hold the request
# past its budget; the answer then says "not checked" and the writer posts as usual.
_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="draft-check")


def score_within(scorer: Scorer, texts: Sequence[str], budget_ms: float) -> list[dict[str, float]]:
    """``scorer.score(texts)`` if it answers within ``budget_ms``; DraftNotChecked if not."""
    future = _pool.submit(scorer.score, list(texts))
    try:
        return future.result(timeout=max(budget_ms, 1) / 1000)
    except FutureTimeout:
        raise DraftNotChecked(f"the model did not answer within {budget_ms:.0f} ms") from None
    except Exception as exc:
        log.exception("checking a draft failed")
        raise DraftNotChecked(f"the model failed: {type(exc).__name__}") from None


def check_draft(
    site: Site,
    body: str,
    scorer: Scorer,
    budget_ms: float,
    service_defaults: Mapping[str, float | None] | None = None,
) -> DraftCheck:
    """Score ``body`` (nothing is stored) and return the guidelines it may break on
    ``site``. Raises DraftNotChecked when the model fails or runs past ``budget_ms``."""
    [scores] = score_within(scorer, [body], budget_ms)
    thresholds = warn_thresholds(site, scorer.default_thresholds, service_defaults)
    return concerns_for(scores, thresholds)
