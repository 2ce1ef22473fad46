"""The embedded scorer, for real: no stand-in model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from moderation.scoring import ScorerUnavailable, load_scorer
from moderation.scoring.lite import LiteScorer
from tests.conftest import REPO, SHARED_DATA


def test_lite_scores_abuse_high_and_friendly_text_low() -> None:
    scorer = load_scorer("lite")
    friendly, abusive = scorer.score(
        [
            "Thanks for the write-up, the second chart cleared it up for me.",
            "shut up you stupid fucking idiot",
        ]
    )
    assert friendly["toxicity"] < 0.2
    assert abusive["toxicity"] > 0.9
    assert scorer.score([]) == []


def test_lite_names_its_label_version_and_calibrated_threshold() -> None:
    scorer = load_scorer("lite")
    assert scorer.labels == ("toxicity",)
    assert scorer.version.startswith("alt-profanity-check==1.")
    assert scorer.default_thresholds["toxicity"].hold is not None


def test_an_unknown_scorer_is_refused_with_the_choices() -> None:
    with pytest.raises(ScorerUnavailable, match="must be one of"):
        load_scorer("perspective")


def test_lite_gives_exactly_the_published_models_probabilities(tmp_path: Path) -> None:
    # The scorer evaluates the model from its numbers, without scikit-learn (~120 MiB
    # less per process, 400x less CPU per post); the scores must be the ones the
    # published package computes, to the last bit.
    import csv

    from profanity_check import predict_prob

    texts: list[str] = []
    for path in sorted((SHARED_DATA / "toxicity").glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                text = (row.get("comment_text") or row.get("tweet") or "").strip()
                if text:
                    texts.append(text)
    texts = texts[::7][:3000] + ["", "the and of", "ÀÉÎ Ünïcödé wörds", "a" * 10_000]
    assert len(texts) > 1000
    scorer = LiteScorer(model_file=tmp_path / "lite.json")
    assert (tmp_path / "lite.json").is_file()  # extracted by a child process
    ours = [s["toxicity"] for s in scorer.score(texts)]
    assert ours == [float(p) for p in predict_prob(texts)]
    # One at a time, as a post is scored, gives the same as in a batch.
    assert [scorer.score([t])[0]["toxicity"] for t in texts[:50]] == ours[:50]


def test_a_server_scoring_with_lite_never_imports_scikit_learn_or_numpy(tmp_path: Path) -> None:
    program = (
        "import sys\n"
        "from moderation.scoring import load_scorer\n"
        "[scores] = load_scorer('lite').score(['shut up you stupid idiot'])\n"
        "assert scores['toxicity'] > 0.9, scores\n"
        "print(sorted(m for m in ('sklearn', 'scipy', 'numpy') if m in sys.modules))\n"
    )
    environment = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    for _ in range(2):  # the first start extracts the model's numbers, the second reads them
        result = subprocess.run(
            [sys.executable, "-c", program], cwd=REPO, env=environment,
            capture_output=True, text=True, timeout=300, check=True,
        )  # fmt: skip
        assert result.stdout.strip() == "[]", result.stderr
    assert list((tmp_path / "moderation").glob("lite-*.json"))


def test_a_damaged_model_file_is_made_again(tmp_path: Path) -> None:
    damaged = tmp_path / "lite.json"
    damaged.write_bytes(b'{"words": ["cut short by a full disk')
    [scores] = LiteScorer(model_file=damaged).score(["shut up you stupid idiot"])
    assert scores["toxicity"] > 0.9
    assert damaged.stat().st_size > 100_000
