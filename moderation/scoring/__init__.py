"""Scorers: texts in, per-label probabilities out. Pure: no database, no HTTP.

Every scorer has a ``name``, a ``version`` (recorded on each Score row), the ``labels`` it
produces and ``default_thresholds`` calibrated for it, because 0.8 from one model means
something else from another."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)


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


SCORER_NAMES = ("auto", "lite", "detoxify", "onnx")
LITE_FALLBACK_WARNING = "scoring with the lite model: Detoxify weights unavailable"


@dataclass(frozen=True)
class ScorerChoice:
    scorer: Scorer
    warning: str | None = None  # set when ``auto`` fell back to the lite model


def load_scorer(name: str, settings: Mapping[str, Any] | None = None) -> Scorer:
    """Build the scorer ``name`` (lite, detoxify or onnx) from ``settings`` (the
    application's config: DETOXIFY_*, ONNX_MODEL_DIR, SCORER_*). Raises
    ScorerUnavailable with what to do when it cannot run here."""
    settings = settings or {}
    batch_size = int(settings.get("SCORER_BATCH_SIZE") or 16)
    if name == "lite":
        from moderation.scoring.lite import LiteScorer

        return LiteScorer()
    if name == "detoxify":
        from moderation.scoring.detoxify import DetoxifyScorer

        return DetoxifyScorer(
            model_type=settings.get("DETOXIFY_MODEL") or "original",
            checkpoint=settings.get("DETOXIFY_CHECKPOINT") or None,
            config_dir=settings.get("DETOXIFY_CONFIG_DIR") or None,
            device=settings.get("DETOXIFY_DEVICE") or "cpu",
            batch_size=batch_size,
        )
    if name == "onnx":
        from moderation.scoring.onnx import OnnxScorer

        model_dir = settings.get("ONNX_MODEL_DIR")
        if not model_dir:
            raise ScorerUnavailable(
                "MODERATION_SCORER=onnx needs MODERATION_ONNX_MODEL_DIR, a folder made by "
                "`flask moderation model export-onnx --out DIR`"
            )
        threads = settings.get("SCORER_THREADS")
        return OnnxScorer(str(model_dir), threads=int(threads) if threads else None,
                          batch_size=batch_size)  # fmt: skip
    raise ScorerUnavailable(
        f"unknown scorer {name!r}: MODERATION_SCORER must be one of {', '.join(SCORER_NAMES)}"
    )


def choose_scorer(settings: Mapping[str, Any]) -> ScorerChoice:
    """The scorer MODERATION_SCORER asks for. ``auto`` takes the exported ONNX model when
    one is configured, else Detoxify when its weights can be had (supplied files, the
    download cache, or a download), else the lite model with a warning. An explicit
    name never falls back: it raises ScorerUnavailable."""
    name = str(settings.get("SCORER") or "auto")
    if name != "auto":
        return ScorerChoice(load_scorer(name, settings))
    reasons = []
    candidates = ["onnx"] if settings.get("ONNX_MODEL_DIR") else []
    candidates.append("detoxify")
    for candidate in candidates:
        try:
            return ScorerChoice(load_scorer(candidate, settings))
        except ScorerUnavailable as exc:
            reasons.append(f"{candidate}: {exc}")
    warning = f"{LITE_FALLBACK_WARNING} ({'; '.join(reasons)})"
    log.warning(warning)
    return ScorerChoice(load_scorer("lite", settings), warning=LITE_FALLBACK_WARNING)


class ScorerSlot:
    """Loads the configured scorer once, on first use, thread-safely. Commands that never
    score (``flask db upgrade``) then never pay for importing torch; servers and workers
    call ``get()`` at start-up so a misconfigured scorer fails there, loudly."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self._settings = dict(settings)
        self._choice: ScorerChoice | None = None
        self._lock = threading.Lock()

    def get(self) -> ScorerChoice:
        if self._choice is None:
            with self._lock:
                if self._choice is None:
                    self._choice = choose_scorer(self._settings)
        return self._choice
