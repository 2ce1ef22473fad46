"""The embedded scorer: alt-profanity-check's TF-IDF + linear SVM (calibrated), shipped
inside its wheel, so it works offline and scores thousands of comments a second on a CPU.
It produces one label, ``toxicity``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib.metadata import version as package_version

from moderation.scoring import LabelThresholds


class LiteScorer:
    name = "lite"
    labels: tuple[str, ...] = ("toxicity",)
    # Calibrated on the labelled Jigsaw rows of shared/data/toxicity with
    # bench/calibrate_lite.py; README ("The lite scorer") gives precision and recall.
    default_thresholds: Mapping[str, LabelThresholds] = {
        "toxicity": LabelThresholds(hold=0.35, hide=None)
    }

    def __init__(self) -> None:
        # Imported here so that choosing another scorer never loads scikit-learn.
        from profanity_check import predict_prob

        self._predict_prob = predict_prob
        self.version = f"alt-profanity-check=={package_version('alt-profanity-check')}"

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        if not texts:
            return []
        probabilities = self._predict_prob(list(texts))
        return [{"toxicity": float(p)} for p in probabilities]
