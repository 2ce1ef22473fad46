"""How well a scorer and a site's policy moderate a labelled set of texts.

Reads a labelled file (Jigsaw's six label columns, Davidson's ``class``, or a plain
``text,label``), scores every text, and measures: per-label ROC-AUC and PR-AUC, precision,
recall and F1 at the site's hold and hide thresholds, and what the real policy
(``policy.decide``, suspect and banned words included) does with each text, by label.
Pure functions over texts and labels: no database, no Flask."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from moderation.models import Site
from moderation.scoring import LabelThresholds, Scorer
from moderation.services import policy
from moderation.types import CommentStatus

JIGSAW_LABELS = ("toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate")
DAVIDSON_CLASSES = {"0": "hate", "1": "offensive"}  # "2" is neither
SIMPLE_LABELS = {"0": False, "1": True, "acceptable": False, "abusive": True}
ANY = "any"  # the row for "abusive by any label" against the highest score

# Which scorer label measures which data label, where the scorer has it (Detoxify does);
# a scorer without it (the lite model has only ``toxicity``) is measured by toxicity.
SCORER_LABEL = {
    "toxic": "toxicity",
    "severe_toxic": "severe_toxicity",
    "obscene": "obscene",
    "threat": "threat",
    "insult": "insult",
    "identity_hate": "identity_attack",
    "hate": "identity_attack",
    "offensive": "toxicity",
    "abusive": "toxicity",
}
FORMATS_HELP = (
    "expected Jigsaw's comment_text + toxic, severe_toxic, obscene, threat, insult, "
    "identity_hate; Davidson's tweet + class; or text + label"
)


class LabelledSetError(ValueError):
    """The file cannot be read as a labelled set; the message names the file and why."""


@dataclass(frozen=True)
class LabelledSet:
    """Texts with their labels: ``labels[name][i]`` says whether text ``i`` has that label.
    A text with no label is acceptable; with any, abusive."""

    path: str
    format: str  # jigsaw, davidson or simple
    texts: list[str]
    labels: dict[str, list[bool]]
    skipped: int = 0  # rows without labels (Jigsaw's -1)

    @property
    def abusive(self) -> list[bool]:
        return [any(flags) for flags in zip(*self.labels.values(), strict=True)]


def _records(path: Path) -> tuple[list[str], list[dict[str, object]]]:
    """The file's column names and its rows, from CSV, TSV or JSON Lines."""
    if not path.is_file():
        raise LabelledSetError(f"{path}: no such file")
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            content = fh.read()
    except UnicodeDecodeError as error:
        raise LabelledSetError(
            f"{path}: not UTF-8 text (byte {error.start}); save it as UTF-8 and try again"
        ) from None
    except OSError as error:
        raise LabelledSetError(f"{path}: cannot be read ({error.strerror})") from None
    if not content.strip():
        raise LabelledSetError(f"{path}: the file is empty")
    if content.lstrip().startswith("{"):
        rows: list[dict[str, object]] = []
        for number, line in enumerate(content.splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise LabelledSetError(f"{path}: line {number} is not JSON ({error.msg})") from None
            if not isinstance(record, dict):
                raise LabelledSetError(f"{path}: line {number} is not a JSON object")
            rows.append(record)
        return list(rows[0]), rows
    first_line = content.split("\n", 1)[0]
    delimiter = "\t" if path.suffix.lower() == ".tsv" or "\t" in first_line else ","
    # From the text as read (newline=""), so quoted fields keep their own line breaks.
    reader = csv.DictReader(io.StringIO(content), delimiter=delimiter)
    columns = [c for c in reader.fieldnames or [] if c is not None]
    return columns, [dict(r) for r in reader]


def _label_value(path: Path, number: int, column: str, value: object) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise LabelledSetError(
            f"{path}: row {number}: {column} is {value!r}, not a number"
        ) from None


def read_labelled(path: str | Path) -> LabelledSet:
    """Read a labelled set, recognising its format from its columns. Jigsaw rows labelled
    -1 (unlabelled) are skipped and counted. Raises LabelledSetError naming the file and
    the columns it found when it is none of the three formats."""
    path = Path(path)
    columns, rows = _records(path)
    found = set(columns)
    texts: list[str] = []
    labels: dict[str, list[bool]]
    skipped = 0
    if {"comment_text", *JIGSAW_LABELS} <= found:
        kind = "jigsaw"
        labels = {name: [] for name in JIGSAW_LABELS}
        for number, row in enumerate(rows, 1):
            marks = {n: _label_value(path, number, n, row.get(n)) for n in JIGSAW_LABELS}
            if any(v < 0 for v in marks.values()):
                skipped += 1
                continue
            texts.append(str(row.get("comment_text") or ""))
            for name, mark in marks.items():
                labels[name].append(mark > 0)
    elif {"tweet", "class"} <= found:
        kind = "davidson"
        labels = {name: [] for name in DAVIDSON_CLASSES.values()}
        for number, row in enumerate(rows, 1):
            value = str(row.get("class", "")).strip()
            if value not in ("0", "1", "2"):
                raise LabelledSetError(f"{path}: row {number}: class is {value!r}, not 0, 1 or 2")
            texts.append(str(row.get("tweet") or ""))
            for code, name in DAVIDSON_CLASSES.items():
                labels[name].append(value == code)
    elif {"text", "label"} <= found:
        kind = "simple"
        labels = {"abusive": []}
        for number, row in enumerate(rows, 1):
            value = str(row.get("label", "")).strip().lower()
            if value not in SIMPLE_LABELS:
                raise LabelledSetError(
                    f"{path}: row {number}: label is {row.get('label')!r}, "
                    "not 0, 1, acceptable or abusive"
                )
            texts.append(str(row.get("text") or ""))
            labels["abusive"].append(SIMPLE_LABELS[value])
    else:
        shown = ", ".join(columns) if columns else "none"
        raise LabelledSetError(f"{path}: unknown format: columns {shown}; {FORMATS_HELP}")
    if not texts:
        raise LabelledSetError(f"{path}: no labelled rows")
    return LabelledSet(str(path), kind, texts, labels, skipped)


# ------------------------------------------------------------------ metrics


def roc_auc(scores: Sequence[float], truth: Sequence[bool]) -> float | None:
    """Area under the ROC curve: the chance that a random positive scores above a random
    negative (ties count half). None when the set has only one class."""
    positives = sum(truth)
    negatives = len(truth) - positives
    if not positives or not negatives:
        return None
    # Mann-Whitney U from average ranks, so tied scores share their rank.
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and scores[order[end + 1]] == scores[order[start]]:
            end += 1
        for k in range(start, end + 1):
            ranks[order[k]] = (start + end) / 2 + 1
        start = end + 1
    rank_sum = sum(r for r, t in zip(ranks, truth, strict=True) if t)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def _by_threshold(scores: Sequence[float], truth: Sequence[bool]) -> list[tuple[float, int, int]]:
    """(threshold, true positives, false positives) flagging scores ≥ threshold, for each
    distinct score from the highest down."""
    pairs = sorted(zip(scores, truth, strict=True), key=lambda p: -p[0])
    steps: list[tuple[float, int, int]] = []
    tp = fp = 0
    for i, (score, positive) in enumerate(pairs):
        tp += positive
        fp += not positive
        if i + 1 == len(pairs) or pairs[i + 1][0] != score:
            steps.append((score, tp, fp))
    return steps


def pr_auc(scores: Sequence[float], truth: Sequence[bool]) -> float | None:
    """Area under the precision-recall curve as average precision: the precision at each
    threshold weighted by the recall it adds. None without positives."""
    positives = sum(truth)
    if not positives:
        return None
    area = 0.0
    previous_recall = 0.0
    for _, tp, fp in _by_threshold(scores, truth):
        recall = tp / positives
        area += (recall - previous_recall) * tp / (tp + fp)
        previous_recall = recall
    return area


def roc_curve(scores: Sequence[float], truth: Sequence[bool]) -> list[tuple[float, float]]:
    """(false positive rate, true positive rate) points from (0, 0) to (1, 1)."""
    positives = sum(truth) or 1
    negatives = (len(truth) - sum(truth)) or 1
    return [(0.0, 0.0)] + [
        (fp / negatives, tp / positives) for _, tp, fp in _by_threshold(scores, truth)
    ]


def pr_curve(scores: Sequence[float], truth: Sequence[bool]) -> list[tuple[float, float]]:
    """(recall, precision) points, from the highest threshold down."""
    positives = sum(truth) or 1
    return [(tp / positives, tp / (tp + fp)) for _, tp, fp in _by_threshold(scores, truth)]


@dataclass(frozen=True)
class AtThreshold:
    threshold: float
    flagged: int
    precision: float | None  # None when nothing was flagged
    recall: float | None  # None when there are no positives
    f1: float | None


def at_threshold(flagged: Sequence[bool], truth: Sequence[bool], threshold: float) -> AtThreshold:
    """Precision, recall and F1 of flagging ``flagged`` against ``truth``."""
    tp = sum(f and t for f, t in zip(flagged, truth, strict=True))
    n_flagged, positives = sum(flagged), sum(truth)
    precision = tp / n_flagged if n_flagged else None
    recall = tp / positives if positives else None
    f1 = (
        2 * precision * recall / (precision + recall)
        if precision is not None and recall is not None and precision + recall
        else None
    )
    return AtThreshold(threshold, n_flagged, precision, recall, f1)


# ------------------------------------------------------------------ evaluation


@dataclass(frozen=True)
class LabelFigures:
    label: str  # a data label, or ANY
    scored_by: str  # the scorer label measured against it ("top" for the highest)
    positives: int
    roc_auc: float | None
    pr_auc: float | None
    hold: AtThreshold | None  # flagging at the hold threshold(s); None when there is none
    hide: AtThreshold | None
    roc: list[tuple[float, float]]
    pr: list[tuple[float, float]]


@dataclass(frozen=True)
class WrongText:
    text: str
    labels: tuple[str, ...]
    status: CommentStatus
    reason: str
    top_score: float


@dataclass
class Evaluation:
    path: str
    format: str
    scorer: str
    n: int
    skipped: int
    figures: list[LabelFigures]
    # label (data labels, "acceptable", "abusive") -> status value -> count
    outcomes: dict[str, dict[str, int]]
    missed: list[WrongText] = field(default_factory=list)  # abusive, left visible
    false_alarms: list[WrongText] = field(default_factory=list)  # acceptable, held/hidden
    missed_count: int = 0
    false_alarm_count: int = 0


def score_texts(
    scorer: Scorer,
    texts: Sequence[str],
    batch_size: int = 64,
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, float]]:
    """Every text's label scores, scored in batches; ``progress`` hears each batch's size."""
    scores: list[dict[str, float]] = []
    for start in range(0, len(texts), batch_size):
        batch = list(texts[start : start + batch_size])
        scores.extend(scorer.score(batch))
        if progress is not None:
            progress(len(batch))
    return scores


def _scorer_label(label: str, scorer_labels: Sequence[str]) -> str:
    wanted = SCORER_LABEL.get(label, "toxicity")
    if wanted in scorer_labels:
        return wanted
    return "toxicity" if "toxicity" in scorer_labels else scorer_labels[0]


def _flag(values: Sequence[float], threshold: float | None) -> list[bool] | None:
    return None if threshold is None else [v >= threshold for v in values]


def evaluate(
    data: LabelledSet,
    scores: Sequence[Mapping[str, float]],
    site: Site,
    scorer: Scorer,
    examples: int = 5,
) -> Evaluation:
    """Measure ``scores`` (one per text of ``data``, from ``scorer``) and ``site``'s policy
    against the labels. ``examples`` texts of each kind of mistake are kept."""
    thresholds = policy.effective_thresholds(site, scorer.default_thresholds)
    labels = list(scorer.labels)
    figures = []
    for name, truth in data.labels.items():
        used = _scorer_label(name, labels)
        values = [s.get(used, 0.0) for s in scores]
        limits = thresholds.get(used, LabelThresholds(hold=None))
        hold = _flag(values, limits.hold)
        hide = _flag(values, limits.hide)
        figures.append(
            LabelFigures(
                label=name,
                scored_by=used,
                positives=sum(truth),
                roc_auc=roc_auc(values, truth),
                pr_auc=pr_auc(values, truth),
                hold=None if hold is None else at_threshold(hold, truth, limits.hold or 0.0),
                hide=None if hide is None else at_threshold(hide, truth, limits.hide or 0.0),
                roc=roc_curve(values, truth),
                pr=pr_curve(values, truth),
            )
        )
    abusive = data.abusive
    if len(data.labels) > 1:
        # Abusive by any label, against the highest label score; "flagged at hold" means
        # some label reached its own hold (or hide) threshold, as the policy reads them.
        top = [max(s.values(), default=0.0) for s in scores]

        def reaches(kind: str) -> list[bool]:
            return [
                any(
                    (limit := getattr(thresholds.get(k), kind, None)) is not None and v >= limit
                    for k, v in s.items()
                )
                for s in scores
            ]

        toxicity = thresholds.get("toxicity", LabelThresholds(hold=None))
        figures.append(
            LabelFigures(
                label=ANY,
                scored_by="top",
                positives=sum(abusive),
                roc_auc=roc_auc(top, abusive),
                pr_auc=pr_auc(top, abusive),
                hold=at_threshold(reaches("hold"), abusive, toxicity.hold or 0.0),
                hide=(
                    at_threshold(reaches("hide"), abusive, toxicity.hide)
                    if toxicity.hide is not None
                    else None
                ),
                roc=roc_curve(top, abusive),
                pr=pr_curve(top, abusive),
            )
        )

    groups = (
        ["acceptable", "abusive", *data.labels]
        if len(data.labels) > 1
        else [
            "acceptable",
            "abusive",
        ]
    )
    outcomes = {g: {s.value: 0 for s in _OUTCOMES} for g in groups}
    result = Evaluation(data.path, data.format, scorer.name, len(data.texts), data.skipped,
                        figures, outcomes)  # fmt: skip
    rescore = policy.rescorer(scorer)
    for i, (text, text_scores) in enumerate(zip(data.texts, scores, strict=True)):
        decision = policy.decide(
            site, text, text_scores, scorer.default_thresholds, rescore=rescore
        )
        status = decision.status.value
        own = tuple(name for name, flags in data.labels.items() if flags[i])
        outcomes["abusive" if own else "acceptable"][status] += 1
        if len(data.labels) > 1:
            for name in own:
                outcomes[name][status] += 1
        wrong = WrongText(text, own, decision.status, decision.reason,
                          max(text_scores.values(), default=0.0))  # fmt: skip
        if own and decision.status == CommentStatus.VISIBLE:
            result.missed_count += 1
            if len(result.missed) < examples:
                result.missed.append(wrong)
        elif not own and decision.status != CommentStatus.VISIBLE:
            result.false_alarm_count += 1
            if len(result.false_alarms) < examples:
                result.false_alarms.append(wrong)
    return result


_OUTCOMES = (CommentStatus.VISIBLE, CommentStatus.HELD, CommentStatus.HIDDEN)


def share(outcome: Mapping[str, int], *statuses: CommentStatus) -> float | None:
    """The fraction of a group's texts that ended in any of ``statuses``."""
    total = sum(outcome.values())
    return sum(outcome[s.value] for s in statuses) / total if total else None
