"""The embedded scorer: alt-profanity-check's TF-IDF + linear SVM (calibrated), shipped
inside its wheel, so it works offline and scores thousands of comments a second on a CPU.
It produces one label, ``toxicity``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import version as package_version
from typing import Any

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
        from profanity_check import predict_prob, profanity_check

        self._predict_prob: Callable[[list[str]], Any] = predict_prob
        fast = _CalibratedLinearModel.of(profanity_check.model)
        if fast is not None:
            vectorize = profanity_check.vectorizer.transform
            self._predict_prob = lambda texts: fast.probabilities(vectorize(texts))
        self.version = f"alt-profanity-check=={package_version('alt-profanity-check')}"

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        if not texts:
            return []
        probabilities = self._predict_prob(list(texts))
        return [{"toxicity": float(p)} for p in probabilities]


class _CalibratedLinearModel:
    """alt-profanity-check's model, a CalibratedClassifierCV of linear SVMs each with a
    sigmoid calibration, evaluated with scikit-learn's own arithmetic, in the same
    order, but without its per-call checks: about 6 ms of CPU per call (most of an
    inline-scored post) become 0.1 ms. ``of`` returns None for a model of another shape,
    which is then called as published."""

    def __init__(self, coef: Any, intercept: Any, a: Any, b: Any) -> None:
        self.coef, self.intercept, self.a, self.b = coef, intercept, a, b

    @classmethod
    def of(cls, model: Any) -> _CalibratedLinearModel | None:
        import numpy as np

        folds = getattr(model, "calibrated_classifiers_", None)
        if not folds or list(getattr(model, "classes_", [])) != [0, 1]:
            return None
        for fold in folds:
            if fold.method != "sigmoid" or len(fold.calibrators) != 1:
                return None
            if getattr(fold.estimator, "coef_", None) is None or fold.estimator.coef_.shape[0] != 1:
                return None
        return cls(
            coef=np.stack([fold.estimator.coef_[0] for fold in folds], axis=1),
            intercept=np.array([fold.estimator.intercept_[0] for fold in folds]),
            a=np.array([fold.calibrators[0].a_ for fold in folds]),
            b=np.array([fold.calibrators[0].b_ for fold in folds]),
        )

    def probabilities(self, features: Any) -> Any:
        import numpy as np
        from scipy.special import expit

        # LinearSVC.decision_function, then each fold's _SigmoidCalibration.predict.
        decisions = np.asarray(features @ self.coef) + self.intercept
        calibrated = expit(-(self.a * decisions + self.b))
        calibrated[(1.0 < calibrated) & (calibrated <= 1.0 + 1e-5)] = 1.0
        # CalibratedClassifierCV.predict_proba: the folds' mean, summed in order.
        mean = np.zeros(calibrated.shape[0])
        for fold in range(calibrated.shape[1]):
            mean += calibrated[:, fold]
        return mean / calibrated.shape[1]
