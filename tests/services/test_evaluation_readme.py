"""README's "How well it moderates" table: the lite model and the default policy on the
sets in shared/data/toxicity. This keeps every figure in it true (a change of the default
policy or thresholds changes them, and README with them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.default import DEFAULT_SUSPECT_WORDS
from moderation.models import Site
from moderation.scoring.lite import LiteScorer
from moderation.services import evaluation
from moderation.types import CommentStatus, ModerationMode

REPO = Path(__file__).resolve().parents[2]
TOXICITY = REPO.parent / "shared" / "data" / "toxicity"


def percent(count: int, total: int) -> str:
    value = 100 * count / total
    return f"{value:.1f} %".replace(".0 %", " %")


@pytest.mark.parametrize(
    "name",
    [
        "detoxify_jigsaw_dummy_train.csv",
        "detoxify_jigsaw_dummy_test.csv",
        "ibm_max_jigsaw_test_examples.csv",
        "davidson_labeled_data.csv",
    ],
)
def test_readme_states_the_default_policys_figures(name: str) -> None:
    demo = Site(slug="demo", moderation_mode=ModerationMode.POST, thresholds={},
                banned_words=[], suspect_words=list(DEFAULT_SUSPECT_WORDS))  # fmt: skip
    scorer = LiteScorer()
    data = evaluation.read_labelled(TOXICITY / name)
    result = evaluation.evaluate(data, scorer.score(data.texts), demo, scorer)
    any_label = next(f for f in result.figures if f.label == evaluation.ANY)
    acceptable, abusive = result.outcomes["acceptable"], result.outcomes["abusive"]
    held, hidden = CommentStatus.HELD.value, CommentStatus.HIDDEN.value
    n_ok, n_bad = sum(acceptable.values()), sum(abusive.values())
    cells = [
        f"{any_label.roc_auc:.3f}",
        f"{percent(acceptable[held], n_ok)} ({acceptable[held]:,})",
        percent(acceptable[hidden], n_ok),
        f"{percent(abusive[held], n_bad)} ({abusive[held]:,})",
        percent(abusive[hidden], n_bad),
    ]
    (row,) = [line for line in (REPO / "README.md").read_text().splitlines()
              if line.startswith(f"| {name} |")]  # fmt: skip
    columns = [c.strip() for c in row.strip("|").split("|")]
    assert columns[1].startswith(f"{len(data.texts):,} ({n_bad:,} abusive")
    assert columns[2:7] == cells
