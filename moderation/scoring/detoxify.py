"""Detoxify (unitary.ai's BERT/RoBERTa/XLM-R toxicity models) through its own loading and
``predict`` code, with offline loading from operator-supplied files and length buckets.

Offline: ``checkpoint`` (the .ckpt Detoxify publishes) and ``config_dir`` (the base model's
config.json and tokenizer files). Detoxify 0.5.4 calls ``from_pretrained(model_type)`` even
when given ``huggingface_config_path``, which reaches for the Hugging Face hub; so the
checkpoint's ``config.arch.args.model_type`` is pointed at ``config_dir`` in memory (the
operator's file is never rewritten). Checkpoints are pickles: only the configured file is
ever loaded."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from moderation.scoring import LabelThresholds, ScorerUnavailable
from moderation.scoring.length_buckets import MAX_TOKENS, length_buckets

log = logging.getLogger(__name__)

MODEL_TYPES = ("original", "unbiased", "multilingual", "original-small", "unbiased-small")

# Starting points, not calibrations: Detoxify's weights cannot be fetched on the machines
# this was built on. Threats and identity attacks hold at lower probabilities because a
# missed one costs more than a moderator's glance. Sites tune these per label.
DETOXIFY_THRESHOLDS: Mapping[str, LabelThresholds] = {
    "toxicity": LabelThresholds(hold=0.7),
    "severe_toxicity": LabelThresholds(hold=0.3),
    "obscene": LabelThresholds(hold=0.8),
    "threat": LabelThresholds(hold=0.3),
    "insult": LabelThresholds(hold=0.7),
    "identity_attack": LabelThresholds(hold=0.3),
    "sexual_explicit": LabelThresholds(hold=0.6),
}


def file_sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# Where Detoxify 0.5.4 downloads each model's weights from (detoxify.detoxify.MODEL_URLS,
# which cannot be read without importing torch).
DOWNLOAD_HOST = "github.com"
CHECKPOINT_FILES = {
    "original": "toxic_original-c1212f89.ckpt",
    "unbiased": "toxic_debiased-c7548aa0.ckpt",
    "multilingual": "multilingual_debiased-0b549669.ckpt",
    "original-small": "original-albert-0e1d6498.ckpt",
    "unbiased-small": "unbiased-albert-c8519128.ckpt",
}


def cached_checkpoint(model_type: str) -> Path:
    """Where torch hub keeps the downloaded weights (torch.hub.get_dir(), computed as
    torch does, without importing it)."""
    cache = os.environ.get("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    torch_home = os.path.expanduser(os.environ.get("TORCH_HOME", os.path.join(cache, "torch")))
    return Path(torch_home) / "hub" / "checkpoints" / CHECKPOINT_FILES.get(model_type, "-")


def _download_host_unreachable(timeout: float = 3.0) -> str | None:
    """Why the weights cannot be downloaded (no name resolution, no route), or None."""
    try:
        with socket.create_connection((DOWNLOAD_HOST, 443), timeout=timeout):
            return None
    except OSError as exc:
        return str(exc)


def load_detoxify(
    model_type: str, checkpoint: str | None, config_dir: str | None, device: str = "cpu"
) -> tuple[Any, str]:
    """A ``detoxify.Detoxify`` and the sha256 of the checkpoint it was built from.

    torch (+240 MiB of memory) is imported only when the weights are there: supplied, in
    torch hub's cache, or downloadable. Otherwise ScorerUnavailable comes first, so that
    `auto` falls back to the lite model in a process that stays small."""
    if checkpoint is None and config_dir is None and model_type in CHECKPOINT_FILES:
        if not cached_checkpoint(model_type).is_file():
            if reason := _download_host_unreachable():
                raise ScorerUnavailable(
                    f"Detoxify weights for {model_type!r} are not cached and could not be "
                    f"downloaded from {DOWNLOAD_HOST} ({reason}); offline, set "
                    "MODERATION_DETOXIFY_CHECKPOINT and MODERATION_DETOXIFY_CONFIG_DIR"
                )
    try:
        import torch
        from detoxify import Detoxify
        from detoxify.detoxify import MODEL_URLS
    except ImportError as exc:  # pragma: no cover - both are in requirements.txt
        raise ScorerUnavailable(f"Detoxify is not installed: {exc}") from exc
    if model_type not in MODEL_TYPES:
        raise ScorerUnavailable(
            f"unknown Detoxify model type {model_type!r}; one of {', '.join(MODEL_TYPES)}"
        )

    if checkpoint is None:
        if config_dir is not None:
            raise ScorerUnavailable(
                "MODERATION_DETOXIFY_CONFIG_DIR is set without MODERATION_DETOXIFY_CHECKPOINT"
            )
        # Online: Detoxify's own download into torch hub's cache. A closed network fails
        # fast or after this timeout instead of hanging start-up.
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(30)
        try:
            detox = Detoxify(model_type, device=device)
        except Exception as exc:
            raise ScorerUnavailable(
                f"Detoxify weights for {model_type!r} could not be downloaded ({exc}); "
                "offline, set MODERATION_DETOXIFY_CHECKPOINT and MODERATION_DETOXIFY_CONFIG_DIR"
            ) from exc
        finally:
            socket.setdefaulttimeout(previous)
        cached = Path(torch.hub.get_dir()) / "checkpoints" / MODEL_URLS[model_type].rsplit("/")[-1]
        return detox, file_sha256(cached)

    path = Path(checkpoint)
    if not path.is_file():
        raise ScorerUnavailable(f"Detoxify checkpoint {checkpoint} does not exist")
    if config_dir is None or not (Path(config_dir) / "config.json").is_file():
        raise ScorerUnavailable(
            "offline Detoxify needs MODERATION_DETOXIFY_CONFIG_DIR: a folder with the base "
            f"model's config.json and tokenizer files (got {config_dir!r})"
        )
    sha256 = file_sha256(path)
    # A pickle: loading runs code from the file. Only the operator's configured file is read.
    loaded = torch.load(path, map_location=device, weights_only=False)  # noqa: S614
    try:
        loaded["config"]["arch"]["args"]["model_type"] = str(config_dir)
    except (KeyError, TypeError) as exc:
        raise ScorerUnavailable(f"{checkpoint} is not a Detoxify checkpoint: {exc}") from exc
    buffer = io.BytesIO()
    torch.save(loaded, buffer)
    del loaded
    buffer.seek(0)
    previous_offline = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        detox = Detoxify(
            model_type, checkpoint=buffer, device=device, huggingface_config_path=str(config_dir)
        )
    except Exception as exc:
        raise ScorerUnavailable(f"could not load Detoxify from {checkpoint}: {exc}") from exc
    finally:
        if previous_offline is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = previous_offline
    return detox, sha256


class DetoxifyScorer:
    """Scores with ``detoxify.Detoxify.predict``, one length bucket at a time."""

    name = "detoxify"

    def __init__(
        self,
        model_type: str = "original",
        checkpoint: str | None = None,
        config_dir: str | None = None,
        device: str = "cpu",
        batch_size: int = 16,
    ) -> None:
        self.model_type = model_type
        self.detoxify, self.checkpoint_sha256 = load_detoxify(
            model_type, checkpoint, config_dir, device
        )
        # Tokenizer folders without tokenizer_config.json have no length limit; the model has.
        tokenizer = self.detoxify.tokenizer
        tokenizer.model_max_length = min(tokenizer.model_max_length or MAX_TOKENS, MAX_TOKENS)
        self.batch_size = batch_size
        self.labels: tuple[str, ...] = tuple(self.detoxify.class_names)
        self.version = f"{model_type}+sha256:{self.checkpoint_sha256}"
        self.default_thresholds: Mapping[str, LabelThresholds] = {
            label: DETOXIFY_THRESHOLDS.get(label, LabelThresholds(hold=0.7))
            for label in self.labels
        }

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        encoded = self.detoxify.tokenizer(list(texts), truncation=True)["input_ids"]
        return [len(ids) for ids in encoded]

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        if not texts:
            return []
        results: list[dict[str, float]] = [{} for _ in texts]
        for bucket in length_buckets(self.token_lengths(texts), self.batch_size):
            # A list (even of one) keeps predict's output a list per label.
            predicted = self.detoxify.predict([texts[i] for i in bucket])
            for label, values in predicted.items():
                values = values if isinstance(values, list) else [values]
                for index, value in zip(bucket, values, strict=True):
                    results[index][label] = float(value)
        return results
