"""The lite scorer's precision and recall on its own, per threshold, on the labelled
Jigsaw rows of shared/data/toxicity, and what it misses per label with and without the
policy's targeting rules. The default threshold itself is chosen under the whole policy,
false alarms against catches: bench/policy_tradeoff.py.

    .venv/bin/python bench/calibrate_lite.py

Caveat printed with the figures: alt-profanity-check was trained on Jigsaw and Davidson
data, so these rows are not a held-out set; real precision and recall will be lower."""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
TOXICITY = REPO.parent / "shared" / "data" / "toxicity"
JIGSAW_FILES = (
    "detoxify_jigsaw_dummy_train.csv",
    "detoxify_jigsaw_dummy_test.csv",  # -1 marks unlabelled rows: skipped
    "ibm_max_jigsaw_test_examples.csv",
)
LABELS = ("toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate")


@dataclass(frozen=True)
class Row:
    text: str
    labels: dict[str, int]


def jigsaw_rows() -> list[Row]:
    """Every labelled Jigsaw row in shared/data/toxicity, deduplicated by text."""
    rows: dict[str, Row] = {}
    for name in JIGSAW_FILES:
        with open(TOXICITY / name, newline="", encoding="utf-8") as fh:
            for record in csv.DictReader(fh):
                values = {label: int(record[label]) for label in LABELS}
                if any(v < 0 for v in values.values()):
                    continue
                text = record["comment_text"].strip()
                rows.setdefault(text.lower(), Row(text, values))
    return list(rows.values())


def davidson_rows() -> tuple[list[str], list[bool]]:
    """Davidson et al.'s tweets; class 0 hate and 1 offensive count as toxic."""
    with open(TOXICITY / "davidson_labeled_data.csv", newline="", encoding="utf-8") as fh:
        records = list(csv.DictReader(fh))
    return [r["tweet"] for r in records], [r["class"] != "2" for r in records]


def precision_recall(
    scores: list[float], truth: list[bool], threshold: float
) -> tuple[float, float]:
    flagged = [s >= threshold for s in scores]
    true_pos = sum(f and t for f, t in zip(flagged, truth, strict=True))
    precision = true_pos / max(sum(flagged), 1)
    recall = true_pos / max(sum(truth), 1)
    return precision, recall


def main() -> None:
    from moderation.scoring.lite import LiteScorer
    from moderation.services import targeting

    scorer = LiteScorer()
    rows = jigsaw_rows()
    scores = [s["toxicity"] for s in scorer.score([r.text for r in rows])]
    toxic = [r.labels["toxic"] == 1 for r in rows]
    print(f"{len(rows)} labelled Jigsaw rows, {sum(toxic)} toxic; scorer {scorer.version}")
    print("(not held out: the lite model was trained on Jigsaw and Davidson data)\n")
    print("threshold  precision  recall  F1")
    best = (0.0, 0.0)
    for step in range(5, 100, 5):
        threshold = step / 100
        p, r = precision_recall(scores, toxic, threshold)
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        best = max(best, (f1, threshold))
        print(f"  {threshold:.2f}     {p:.3f}     {r:.3f}  {f1:.3f}")
    default = scorer.default_thresholds["toxicity"].hold
    assert default is not None
    p, r = precision_recall(scores, toxic, default)
    print(
        f"\nbest F1 at {best[1]:.2f}; default hold threshold {default:.2f}: "
        f"precision {p:.3f}, recall {r:.3f}"
    )

    print("\nrecall per label at the default threshold (score only / with targeting rules):")
    for label in LABELS[1:]:
        positives = [(r, s) for r, s in zip(rows, scores, strict=True) if r.labels[label]]
        if not positives:
            continue
        by_score = sum(s >= default for _, s in positives)
        with_words = sum(s >= default or targeting.read(r.text).aimed for r, s in positives)
        print(
            f"  {label:14s} {len(positives):3d} rows: {by_score / len(positives):.2f} / "
            f"{with_words / len(positives):.2f}"
        )
    davidson_texts, davidson_truth = davidson_rows()
    davidson_scores = [s["toxicity"] for s in scorer.score(davidson_texts)]
    p, r = precision_recall(davidson_scores, davidson_truth, default)
    print(
        f"\nDavidson tweets ({len(davidson_texts)}, hate or offensive vs neither) at "
        f"{default:.2f}: precision {p:.3f}, recall {r:.3f} (training data: optimistic)"
    )

    threat = "I will find you and hurt you"
    print(
        f"\n{threat!r} scores {scorer.score([threat])[0]['toxicity']:.2f}; targeting rules "
        f"found: {targeting.threats(threat)}"
    )


if __name__ == "__main__":
    main()
