"""Scorers: texts in, per-label probabilities out. Pure: no database, no HTTP.

Every scorer has a ``name``, a ``version`` (recorded on each Score row), the ``labels`` it
produces and ``default_thresholds`` calibrated for it, because 0.8 from one model means
something else from another."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class LabelThresholds:
    """A label reaching ``hold`` sends the comment to review; reaching ``hide`` hides it.
    ``None`` turns that rule off."""

    hold: float | None
    hide: float | None = None


class Scorer(Protocol):
    name: str
    version: str
    labels: tuple[str, ...]
    default_thresholds: Mapping[str, LabelThresholds]

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """One dict per text, each with every label's probability in 0..1."""
        ...


class ScorerUnavailable(RuntimeError):
    """The configured scorer cannot run here; the message says why and what to do."""


SCORER_NAMES = ("lite",)


def load_scorer(name: str) -> Scorer:
    """Build the scorer named by the MODERATION_SCORER setting."""
    if name == "lite":
        from moderation.scoring.lite import LiteScorer

        return LiteScorer()
    raise ScorerUnavailable(
        f"unknown scorer {name!r}: MODERATION_SCORER must be one of {', '.join(SCORER_NAMES)}"
    )
