"""Detoxify through its real loading and predict code, offline, from operator-supplied
files; and the ONNX fast path exported from it."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from moderation.scoring import LITE_FALLBACK_WARNING, ScorerUnavailable, choose_scorer, load_scorer
from moderation.scoring.detoxify import DetoxifyScorer
from moderation.scoring.export import export_onnx
from moderation.scoring.onnx import OnnxScorer
from tests.tiny_detoxify import TinyDetoxify

REPO = Path(__file__).resolve().parents[2]
DETOXIFY_LABELS = (
    "toxicity", "severe_toxicity", "obscene", "threat", "insult", "identity_attack",
)  # fmt: skip
TEXTS = [
    "you are a stupid idiot",
    "thanks for the great post, i agree",
    "nice",
    "well written and clear, " * 40,  # a long one, in the middle of short ones
    "shut up you pathetic moron",
    "an interesting idea",
]


def settings(tiny: TinyDetoxify, **extra: Any) -> dict[str, Any]:
    values = {"DETOXIFY_MODEL": "original", "DETOXIFY_CHECKPOINT": str(tiny.checkpoint),
              "DETOXIFY_CONFIG_DIR": str(tiny.config_dir)}  # fmt: skip
    values.update(extra)
    return values


@pytest.fixture(scope="module")
def detoxify_scorer(tiny_detoxify: TinyDetoxify) -> DetoxifyScorer:
    scorer = load_scorer("detoxify", settings(tiny_detoxify))
    assert isinstance(scorer, DetoxifyScorer)
    return scorer


def test_loads_offline_from_supplied_files_with_detoxify_labels(
    detoxify_scorer: DetoxifyScorer, tiny_detoxify: TinyDetoxify
) -> None:
    assert detoxify_scorer.labels == DETOXIFY_LABELS
    sha = hashlib.sha256(tiny_detoxify.checkpoint.read_bytes()).hexdigest()
    assert detoxify_scorer.version == f"original+sha256:{sha}"
    toxic, kind = detoxify_scorer.score(["you stupid idiot", "thanks, a lovely post"])
    assert toxic["toxicity"] > 0.8 and toxic["insult"] > 0.8
    assert kind["toxicity"] < 0.2
    assert set(toxic) == set(DETOXIFY_LABELS)


def test_the_operators_checkpoint_is_not_rewritten_and_the_hub_is_not_left_offline(
    tiny_detoxify: TinyDetoxify,
) -> None:
    before = tiny_detoxify.checkpoint.read_bytes()
    mtime = tiny_detoxify.checkpoint.stat().st_mtime_ns
    assert "HF_HUB_OFFLINE" not in os.environ
    load_scorer("detoxify", settings(tiny_detoxify))
    assert tiny_detoxify.checkpoint.read_bytes() == before
    assert tiny_detoxify.checkpoint.stat().st_mtime_ns == mtime
    assert "HF_HUB_OFFLINE" not in os.environ


def test_buckets_give_the_same_scores_as_detoxify_predict_in_input_order(
    detoxify_scorer: DetoxifyScorer,
) -> None:
    ours = detoxify_scorer.score(TEXTS)
    for text, scores in zip(TEXTS, ours, strict=True):
        theirs = detoxify_scorer.detoxify.predict([text])
        for label in DETOXIFY_LABELS:
            assert scores[label] == pytest.approx(theirs[label], abs=1e-5)


def test_texts_longer_than_512_tokens_are_truncated_not_refused(
    detoxify_scorer: DetoxifyScorer,
) -> None:
    [scores] = detoxify_scorer.score(["you stupid idiot " * 400])
    assert 0 <= scores["toxicity"] <= 1
    assert detoxify_scorer.token_lengths(["a " * 2000]) == [512]


def test_an_explicit_detoxify_setting_without_weights_fails_with_what_to_do() -> None:
    with pytest.raises(ScorerUnavailable, match="MODERATION_DETOXIFY_CHECKPOINT"):
        choose_scorer({"SCORER": "detoxify"})
    with pytest.raises(ScorerUnavailable, match="config.json"):
        choose_scorer({"SCORER": "detoxify", "DETOXIFY_CHECKPOINT": __file__})


def test_a_file_that_is_not_a_detoxify_checkpoint_is_refused(
    tmp_path: Path, tiny_detoxify: TinyDetoxify
) -> None:
    import torch

    bogus = tmp_path / "bogus.ckpt"
    torch.save({"weights": [1, 2, 3]}, bogus)
    with pytest.raises(ScorerUnavailable, match="not a Detoxify checkpoint"):
        load_scorer("detoxify", settings(tiny_detoxify, DETOXIFY_CHECKPOINT=str(bogus)))


def test_auto_takes_detoxify_when_weights_are_supplied(tiny_detoxify: TinyDetoxify) -> None:
    choice = choose_scorer(settings(tiny_detoxify, SCORER="auto"))
    assert choice.scorer.name == "detoxify" and choice.warning is None


def test_auto_falls_back_to_lite_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    # No checkpoint, and no network here: Detoxify's download fails.
    choice = choose_scorer({"SCORER": "auto"})
    assert choice.scorer.name == "lite"
    assert choice.warning == LITE_FALLBACK_WARNING
    assert LITE_FALLBACK_WARNING in caplog.text


def test_auto_falling_back_to_lite_never_imports_torch(tmp_path: Path) -> None:
    # torch alone is +240 MiB in every web process; without weights it is of no use.
    program = (
        "import sys\n"
        "from moderation.scoring import choose_scorer\n"
        "choice = choose_scorer({'SCORER': 'auto'})\n"
        "print(choice.scorer.name, 'torch' in sys.modules)\n"
    )
    environment = {**os.environ, "TORCH_HOME": str(tmp_path)}  # an empty cache
    result = subprocess.run([sys.executable, "-c", program], cwd=REPO, capture_output=True,
                            text=True, timeout=120, check=True, env=environment)  # fmt: skip
    assert result.stdout.strip() == "lite False", result.stderr


@pytest.fixture(scope="module")
def exported(detoxify_scorer: DetoxifyScorer, tmp_path_factory: pytest.TempPathFactory
             ) -> dict[str, Path]:  # fmt: skip
    folder = tmp_path_factory.mktemp("onnx")
    export_onnx(detoxify_scorer, folder / "fp32")
    export_onnx(detoxify_scorer, folder / "int8", int8=True)
    return {"fp32": folder / "fp32", "int8": folder / "int8"}


@pytest.mark.parametrize("kind", ["fp32", "int8"])
def test_onnx_scorer_matches_the_torch_model_within_0_01(
    detoxify_scorer: DetoxifyScorer, exported: dict[str, Path], kind: str
) -> None:
    onnx_scorer = OnnxScorer(str(exported[kind]))
    assert onnx_scorer.labels == detoxify_scorer.labels
    assert onnx_scorer.version == detoxify_scorer.version + ("+onnx-int8" if kind == "int8"
                                                             else "+onnx")  # fmt: skip
    for ours, torch_scores in zip(onnx_scorer.score(TEXTS), detoxify_scorer.score(TEXTS),
                                  strict=True):  # fmt: skip
        for label in DETOXIFY_LABELS:
            assert ours[label] == pytest.approx(torch_scores[label], abs=0.01)


def test_int8_model_is_smaller(exported: dict[str, Path]) -> None:
    assert (exported["int8"] / "model.int8.onnx").stat().st_size < (
        exported["fp32"] / "model.onnx"
    ).stat().st_size / 2


def test_the_onnx_scorer_runs_without_importing_torch(exported: dict[str, Path]) -> None:
    program = (
        "import sys\n"
        "from moderation.scoring import load_scorer\n"
        f"scorer = load_scorer('onnx', {{'ONNX_MODEL_DIR': {str(exported['int8'])!r}}})\n"
        "[scores] = scorer.score(['you stupid idiot'])\n"
        "assert scores['toxicity'] > 0.5, scores\n"
        "print('torch' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", program], cwd=REPO, capture_output=True,
                            text=True, timeout=120, check=True)  # fmt: skip
    assert result.stdout.strip() == "False"


def test_auto_prefers_a_configured_onnx_model(exported: dict[str, Path]) -> None:
    choice = choose_scorer({"SCORER": "auto", "ONNX_MODEL_DIR": str(exported["int8"])})
    assert choice.scorer.name == "onnx"


def test_onnx_without_an_exported_folder_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ScorerUnavailable, match="export-onnx"):
        load_scorer("onnx", {"ONNX_MODEL_DIR": str(tmp_path)})
    with pytest.raises(ScorerUnavailable, match="MODERATION_ONNX_MODEL_DIR"):
        load_scorer("onnx", {})
