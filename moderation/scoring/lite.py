"""The embedded scorer: alt-profanity-check's TF-IDF + linear SVM (calibrated), shipped
inside its wheel, so it works offline and scores thousands of comments a second on a CPU.
It produces one label, ``toxicity``.

The model is evaluated here, with scikit-learn's arithmetic in scikit-learn's order (the
scores are bit-identical: tests/scoring/test_lite.py), from its numbers alone: the
vocabulary, the idf weights, five linear models and their sigmoid calibrations. They are
read out of the published pickle once, by a child process, into a JSON file in the user's
cache; a server then never imports scikit-learn, SciPy or NumPy (about 130 MiB of memory
per process) and scores a comment in some 50 µs instead of 8 ms. Where that file cannot be
written, the pickle is loaded in the process as published."""

from __future__ import annotations

import json
import logging
import math
import os
import re
import subprocess
import sys
import tempfile
from array import array
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

from moderation.scoring import LabelThresholds

log = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[2]


class LiteScorer:
    name = "lite"
    labels: tuple[str, ...] = ("toxicity",)
    # Calibrated on the labelled Jigsaw rows of shared/data/toxicity with
    # bench/calibrate_lite.py; README ("The lite scorer") gives precision and recall.
    default_thresholds: Mapping[str, LabelThresholds] = {
        "toxicity": LabelThresholds(hold=0.9, hide=None)
    }

    def __init__(self, model_file: str | os.PathLike[str] | None = None) -> None:
        self.version = f"alt-profanity-check=={package_version('alt-profanity-check')}"
        path = Path(model_file) if model_file else default_model_file(self.version)
        model = LinearTfidfModel.load(path) if path.is_file() else None
        if model is None and _extract_in_child(path):
            model = LinearTfidfModel.load(path)
        self._model = model
        if model is not None:
            self._predict_prob: Callable[[list[str]], Sequence[float]] = model.probabilities
        else:
            self._predict_prob = _published_predict_prob()

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        if not texts:
            return []
        probabilities = self._predict_prob(list(texts))
        return [{"toxicity": float(p)} for p in probabilities]

    def explain(self, text: str, label: str = "toxicity") -> list[tuple[str, float]]:
        """The words of ``text`` that raise its ``label`` score, largest first, each with
        its contribution to the model's decision value (its TF-IDF weight times the
        folds' mean coefficient): exact for a linear model, one pass, no extra scoring."""
        if label != "toxicity":
            return []
        if self._model is None:  # the published pickle is in use: read its numbers here
            self._model = LinearTfidfModel(model_numbers())
        return [(word, weight) for word, weight in self._model.contributions(text) if weight > 0]


def default_model_file(version: str) -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "moderation" / f"lite-{version.replace('==', '-')}.json"


def _published_predict_prob() -> Callable[[list[str]], Sequence[float]]:
    # Imported here so that choosing another scorer never loads scikit-learn.
    from profanity_check import predict_prob

    return predict_prob  # type: ignore[no-any-return]


def _extract_in_child(path: Path) -> bool:
    """Read the model's numbers out of the pickle in a child process (so that this one
    never imports scikit-learn) into ``path``. Returns whether it worked."""
    try:
        subprocess.run(  # noqa: S603 - this interpreter, this module, our own path
            [sys.executable, "-m", "moderation.scoring.lite", str(path)],
            cwd=REPO, check=True, capture_output=True, timeout=300,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        log.warning("lite model: using scikit-learn in process (%s %s)", exc, detail[-300:])
        return False
    return path.is_file()


def model_numbers() -> dict[str, Any]:
    """The published model's numbers, as LinearTfidfModel reads them: plain lists, floats
    and strings (imports scikit-learn: run in a child process, or where the pickle is in
    use anyway)."""
    from profanity_check import profanity_check

    vectorizer, model = profanity_check.vectorizer, profanity_check.model
    params = vectorizer.get_params()
    expected = {"analyzer": "word", "lowercase": True, "ngram_range": (1, 1), "norm": "l2",
                "use_idf": True, "sublinear_tf": False, "binary": False, "strip_accents": None,
                "preprocessor": None, "tokenizer": None}  # fmt: skip
    if any(params[key] != value for key, value in expected.items()):
        raise SystemExit(f"a TF-IDF vectorizer of another kind: {params}")
    folds = getattr(model, "calibrated_classifiers_", None)
    if not folds or list(model.classes_) != [0, 1]:
        raise SystemExit(f"not a binary CalibratedClassifierCV: {model!r}")
    for fold in folds:
        if (
            fold.method != "sigmoid"
            or len(fold.calibrators) != 1
            or fold.estimator.coef_.shape[0] != 1
        ):
            raise SystemExit(f"a calibrated classifier of another kind: {fold!r}")
    words = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
    coefficients = [fold.estimator.coef_[0].tolist() for fold in folds]
    return {
        "words": words,
        "stop_words": sorted(vectorizer.get_stop_words() or ()),
        "token_pattern": params["token_pattern"],
        "idf": vectorizer.idf_.tolist(),
        "coef": [list(column) for column in zip(*coefficients, strict=True)],
        "intercept": [float(fold.estimator.intercept_[0]) for fold in folds],
        "a": [float(fold.calibrators[0].a_) for fold in folds],
        "b": [float(fold.calibrators[0].b_) for fold in folds],
    }


def extract(path: Path) -> None:
    """Write the published model's numbers to ``path`` as JSON (atomically: several
    processes may start at once). JSON writes each double as the shortest text that reads
    back as the same double, and reading it needs no NumPy in the server (~12 MiB less
    in each process)."""
    numbers = model_numbers()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".lite-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(numbers, fh, allow_nan=False)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


class LinearTfidfModel:
    """TfidfVectorizer.transform, each fold's LinearSVC.decision_function and sigmoid
    calibration, and CalibratedClassifierCV's mean, as scikit-learn computes them: the same
    operations on the same doubles in the same order (sums run over the columns in
    ascending order from 0.0, as SciPy's sparse products do; exp is the C library's)."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.words: list[str] = list(data["words"])
        self.columns = {word: column for column, word in enumerate(self.words)}
        self.stop_words = frozenset(data["stop_words"])
        self.token = re.compile(str(data["token_pattern"]))
        # Doubles in arrays, not lists of float objects: 8 bytes each instead of ~32 (each
        # web process loads its own copy, after gunicorn forks it).
        self.idf = array("d", data["idf"])
        self.folds = len(data["intercept"])
        self.coef = array("d", (value for row in data["coef"] for value in row))  # row-major
        self.intercept: list[float] = [float(value) for value in data["intercept"]]
        self.a: list[float] = [float(value) for value in data["a"]]
        self.b: list[float] = [float(value) for value in data["b"]]
        if not (len(self.words) == len(self.idf) == len(self.coef) // self.folds) or not (
            len(self.intercept) == len(self.a) == len(self.b) == len(data["coef"][0])
        ):
            raise ValueError("the model's numbers do not fit together")

    @classmethod
    def load(cls, path: Path) -> LinearTfidfModel | None:
        try:
            with open(path, encoding="utf-8") as fh:
                return cls(json.load(fh))
        except Exception as exc:  # truncated, of another layout: made again from the pickle
            log.warning("lite model file %s unusable (%s); extracting it again", path, exc)
            return None

    def probabilities(self, texts: Sequence[str]) -> list[float]:
        return [self.probability(text) for text in texts]

    def _tfidf(self, text: str) -> tuple[list[int], list[float]]:
        """The text's non-zero TF-IDF columns, ascending, and their L2-normalised values."""
        counts: dict[int, int] = {}
        for token in self.token.findall(text.lower()):
            if token not in self.stop_words and (column := self.columns.get(token)) is not None:
                counts[column] = counts.get(column, 0) + 1
        columns = sorted(counts)
        values = [float(counts[column]) * self.idf[column] for column in columns]
        squares = 0.0
        for value in values:
            squares += value * value
        if squares != 0.0:
            norm = math.sqrt(squares)
            values = [value / norm for value in values]
        return columns, values

    def contributions(self, text: str) -> list[tuple[str, float]]:
        """Each known word of ``text`` with its share of the folds' mean decision value
        (which is these shares plus the mean intercept), largest first."""
        columns, values = self._tfidf(text)
        folds = self.folds
        shares = [
            (
                self.words[column],
                value * sum(self.coef[column * folds : (column + 1) * folds]) / folds,
            )
            for column, value in zip(columns, values, strict=True)
        ]
        return sorted(shares, key=lambda share: share[1], reverse=True)

    def probability(self, text: str) -> float:
        columns, values = self._tfidf(text)
        mean = 0.0
        folds = self.folds
        for fold in range(folds):
            decision = 0.0
            for column, value in zip(columns, values, strict=True):
                decision += value * self.coef[column * folds + fold]
            decision += self.intercept[fold]
            try:  # expit(-(a·d + b)) = 1 / (1 + exp(a·d + b))
                calibrated = 1.0 / (1.0 + math.exp(self.a[fold] * decision + self.b[fold]))
            except OverflowError:
                calibrated = 0.0
            if 1.0 < calibrated <= 1.0 + 1e-5:
                calibrated = 1.0
            mean += calibrated
        return mean / folds


if __name__ == "__main__":
    extract(Path(sys.argv[1]))
