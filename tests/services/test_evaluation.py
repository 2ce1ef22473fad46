"""Measuring a scorer and a policy on a labelled set: reading the three formats, the
metrics against hand-computed values, and what the real policy does with each text."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from moderation.models import Site
from moderation.scoring import load_scorer
from moderation.scoring.lite import LiteScorer
from moderation.services import evaluation
from moderation.services.evaluation import LabelledSetError, read_labelled
from moderation.types import ModerationMode


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------ formats


def test_jigsaw_columns_give_six_labels_and_unlabelled_rows_are_skipped(tmp_path: Path) -> None:
    data = read_labelled(write(tmp_path / "j.csv", (
        "id,comment_text,toxic,severe_toxic,obscene,threat,insult,identity_hate\n"
        'a,"thanks, friend",0,0,0,0,0,0\n'
        "b,i will hurt you,1,0,0,1,0,0\n"
        "c,not labelled,-1,-1,-1,-1,-1,-1\n"
    )))  # fmt: skip
    assert data.format == "jigsaw" and data.skipped == 1
    assert data.texts == ["thanks, friend", "i will hurt you"]
    assert data.labels["threat"] == [False, True] and data.labels["insult"] == [False, False]
    assert data.abusive == [False, True]


def test_davidson_classes_are_hate_offensive_and_neither(tmp_path: Path) -> None:
    data = read_labelled(write(tmp_path / "d.csv", (
        ",count,hate_speech,offensive_language,neither,class,tweet\n"
        "0,3,3,0,0,0,hateful\n1,3,0,3,0,1,offensive\n2,3,0,0,3,2,fine\n"
    )))  # fmt: skip
    assert data.format == "davidson"
    assert data.labels == {"hate": [True, False, False], "offensive": [False, True, False]}
    assert data.abusive == [True, True, False]


def test_simple_text_label_as_tsv_and_json_lines(tmp_path: Path) -> None:
    tsv = read_labelled(write(tmp_path / "s.tsv", "text\tlabel\nnice, thanks\tacceptable\n"
                                                  "you idiot\tABUSIVE\n"))  # fmt: skip
    assert tsv.format == "simple" and tsv.texts == ["nice, thanks", "you idiot"]
    assert tsv.abusive == [False, True]
    rows = [{"text": "fine", "label": 0}, {"text": "vile", "label": 1}]
    jsonl = read_labelled(write(tmp_path / "s.jsonl", "\n".join(map(json.dumps, rows)) + "\n"))
    assert jsonl.texts == ["fine", "vile"] and jsonl.abusive == [False, True]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.csv", "body,verdict\nhello,1\n",
         "bad.csv: unknown format: columns body, verdict; expected Jigsaw's"),
        ("empty.csv", "", "empty.csv: the file is empty"),
        ("label.csv", "text,label\nhello,maybe\n",
         "label.csv: row 1: label is 'maybe', not 0, 1, acceptable or abusive"),
        ("class.csv", "tweet,class\nhello,7\n", "class.csv: row 1: class is '7', not 0, 1 or 2"),
        ("header.csv", "text,label\n", "header.csv: no labelled rows"),
        ("broken.jsonl", '{"text": "a", "label": 1}\n{"text": \n',
         "broken.jsonl: line 2 is not JSON"),
    ],
)  # fmt: skip
def test_a_file_that_is_no_labelled_set_is_refused_naming_it(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    with pytest.raises(LabelledSetError) as error:
        read_labelled(write(tmp_path / name, content))
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(LabelledSetError, match=r"nowhere\.csv: no such file"):
        read_labelled(tmp_path / "nowhere.csv")


# ------------------------------------------------------------------ metrics


def test_roc_auc_of_a_perfect_a_reversed_and_a_tied_ranking() -> None:
    truth = [False, False, True, True]
    assert evaluation.roc_auc([0.1, 0.2, 0.8, 0.9], truth) == 1.0
    assert evaluation.roc_auc([0.9, 0.8, 0.2, 0.1], truth) == 0.0
    assert evaluation.roc_auc([0.5, 0.5, 0.5, 0.5], truth) == 0.5
    # One positive (0.35) below one negative (0.4): 3 of the 4 pairs in order.
    assert evaluation.roc_auc([0.1, 0.4, 0.35, 0.8], truth) == 0.75
    assert evaluation.roc_auc([0.1, 0.2], [False, False]) is None


def test_pr_auc_is_average_precision() -> None:
    # Ranked 0.8 (+), 0.4 (-), 0.35 (+): precision 1 at recall 1/2, 2/3 at recall 1.
    assert evaluation.pr_auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == pytest.approx(
        0.5 * 1 + 0.5 * 2 / 3
    )
    assert evaluation.pr_auc([0.1, 0.9], [True, False]) == 0.5  # found only after a miss
    assert evaluation.pr_auc([0.1], [False]) is None


def test_metrics_agree_with_scikit_learn_on_tied_random_scores() -> None:
    rng = random.Random(7)
    truth = [rng.random() < 0.3 for _ in range(500)]
    scores = [round(rng.random() * 0.6 + 0.4 * t, 1) for t in truth]  # many ties
    assert evaluation.roc_auc(scores, truth) == pytest.approx(roc_auc_score(truth, scores))
    assert evaluation.pr_auc(scores, truth) == pytest.approx(average_precision_score(truth, scores))


def test_precision_recall_and_f1_at_a_threshold() -> None:
    scores, truth = [0.9, 0.6, 0.4, 0.2], [True, False, True, False]
    at = evaluation.at_threshold([s >= 0.5 for s in scores], truth, 0.5)
    assert (at.flagged, at.precision, at.recall, at.f1) == (2, 0.5, 0.5, 0.5)
    nothing = evaluation.at_threshold([False] * 4, truth, 0.95)
    assert nothing.precision is None and nothing.recall == 0.0 and nothing.f1 is None


def test_curves_run_from_the_strictest_threshold_to_flagging_everything() -> None:
    truth = [False, True, True]
    assert evaluation.roc_curve([0.1, 0.5, 0.9], truth) == [(0, 0), (0, 0.5), (0, 1), (1, 1)]
    assert evaluation.pr_curve([0.1, 0.5, 0.9], truth) == [(0.5, 1), (1, 1), (1, 2 / 3)]


# ------------------------------------------------------------------ the policy


def site(**settings: object) -> Site:
    values: dict[str, object] = {
        "slug": "s",
        "moderation_mode": ModerationMode.POST,
        "thresholds": {},
        "banned_words": [],
        "suspect_words": [],
    }
    values.update(settings)
    return Site(**values)


def test_the_real_policy_decides_each_text_suspect_and_banned_words_included() -> None:
    data = evaluation.LabelledSet(
        "set.csv",
        "simple",
        ["a fine remark", "this will kill the battery", "you absolute idiot", "polite menace",
         "a banned slur here"],
        {"abusive": [False, False, True, True, True]},
    )  # fmt: skip
    scores = [{"toxicity": v} for v in (0.05, 0.1, 0.9, 0.2, 0.1)]
    result = evaluation.evaluate(
        data, scores, site(suspect_words=["kill"], banned_words=["slur"],
                           thresholds={"toxicity": {"hold": 0.5, "hide": 0.95}}), LiteScorer()
    )  # fmt: skip
    assert result.outcomes == {
        "acceptable": {"visible": 1, "held": 1, "hidden": 0},
        "abusive": {"visible": 1, "held": 1, "hidden": 1},
    }
    assert [w.text for w in result.missed] == ["polite menace"]
    assert [(w.text, w.reason) for w in result.false_alarms] == [
        ("this will kill the battery", "suspect word: 'kill'")
    ]
    (figures,) = result.figures
    assert figures.scored_by == "toxicity" and figures.roc_auc == pytest.approx(5.5 / 6)
    assert figures.hold is not None and figures.hold.threshold == 0.5
    assert (figures.hold.precision, figures.hold.recall) == (1.0, pytest.approx(1 / 3))
    assert figures.hide is not None and figures.hide.flagged == 0


def test_with_several_labels_each_is_measured_and_any_label_against_the_top_score() -> None:
    data = evaluation.LabelledSet(
        "j.csv", "jigsaw", ["a", "b", "c"],
        {"threat": [False, True, False], "insult": [False, False, True]},
    )  # fmt: skip
    scores = [{"toxicity": v} for v in (0.1, 0.2, 0.95)]
    result = evaluation.evaluate(data, scores, site(), LiteScorer())
    by_label = {f.label: f for f in result.figures}
    assert set(by_label) == {"threat", "insult", "any"}
    assert by_label["insult"].roc_auc == 1.0 and by_label["any"].roc_auc == 1.0
    assert by_label["any"].hold is not None and by_label["any"].hold.recall == 0.5
    assert result.outcomes["threat"] == {"visible": 1, "held": 0, "hidden": 0}
    assert result.outcomes["insult"] == {"visible": 0, "held": 1, "hidden": 0}


def test_scoring_goes_in_batches_and_reports_progress() -> None:
    seen: list[int] = []
    scores = evaluation.score_texts(LiteScorer(), ["hello"] * 5, batch_size=2,
                                    progress=seen.append)  # fmt: skip
    assert seen == [2, 2, 1] and len(scores) == 5 and set(scores[0]) == {"toxicity"}
    assert scores[0]["toxicity"] < 0.35


def test_a_scorer_with_several_labels_is_measured_label_by_label(tiny_detoxify: Any) -> None:
    """Detoxify's own labels measure Jigsaw's (identity_hate by identity_attack, threat by
    threat); the "any" row reads every label at its own threshold."""
    settings = {
        "DETOXIFY_MODEL": "original",
        "DETOXIFY_CHECKPOINT": str(tiny_detoxify.checkpoint),
        "DETOXIFY_CONFIG_DIR": str(tiny_detoxify.config_dir),
    }
    scorer = load_scorer("detoxify", settings)
    data = evaluation.LabelledSet(
        "j.csv",
        "jigsaw",
        ["you are a stupid idiot", "thanks for the great post", "shut up you pathetic moron"],
        {name: [name in ("toxic", "insult"), False, name == "toxic"]
         for name in evaluation.JIGSAW_LABELS},
    )  # fmt: skip
    scores = evaluation.score_texts(scorer, data.texts)
    result = evaluation.evaluate(data, scores, site(), scorer)
    used = {f.label: f.scored_by for f in result.figures}
    assert used == {"toxic": "toxicity", "severe_toxic": "severe_toxicity", "obscene": "obscene",
                    "threat": "threat", "insult": "insult", "identity_hate": "identity_attack",
                    "any": "top"}  # fmt: skip
    by_label = {f.label: f for f in result.figures}
    assert by_label["threat"].positives == 0 and by_label["threat"].roc_auc is None
    assert by_label["toxic"].roc_auc is not None
    assert sum(result.outcomes["abusive"].values()) == 2


def test_a_quoted_text_keeps_its_line_breaks(tmp_path: Path) -> None:
    data = read_labelled(write(tmp_path / "m.csv", 'text,label\n"first line\nsecond line",0\n'))
    assert data.texts == ["first line\nsecond line"]
