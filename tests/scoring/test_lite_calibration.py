"""README states the lite scorer's precision and recall at its default hold threshold on
the labelled Jigsaw rows of shared/data; this keeps that statement true."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from moderation.scoring.lite import LiteScorer

BENCH = Path(__file__).resolve().parents[2] / "bench" / "calibrate_lite.py"


def test_default_threshold_gives_the_precision_and_recall_readme_states() -> None:
    spec = importlib.util.spec_from_file_location("calibrate_lite", BENCH)
    assert spec is not None and spec.loader is not None
    calibrate = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = calibrate  # dataclasses look their module up there
    spec.loader.exec_module(calibrate)

    rows = calibrate.jigsaw_rows()
    assert len(rows) > 300
    scorer = LiteScorer()
    scores = [s["toxicity"] for s in scorer.score([r.text for r in rows])]
    truth = [r.labels["toxic"] == 1 for r in rows]
    threshold = scorer.default_thresholds["toxicity"].hold
    precision, recall = calibrate.precision_recall(scores, truth, threshold)
    assert (round(precision, 2), round(recall, 2)) == (0.92, 0.53)
