"""The fast path: a Detoxify model exported to ONNX (``flask moderation model export-onnx``,
optionally int8-quantized), run with onnxruntime and the ``tokenizers`` package. Nothing
here imports torch, so a worker running it stays small."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from moderation.scoring import LabelThresholds, ScorerUnavailable
from moderation.scoring.detoxify import DETOXIFY_THRESHOLDS
from moderation.scoring.length_buckets import MAX_TOKENS, length_buckets

METADATA_FILE = "moderation-model.json"


class OnnxScorer:
    name = "onnx"

    def __init__(self, model_dir: str, threads: int | None = None, batch_size: int = 16) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        folder = Path(model_dir)
        try:
            meta: dict[str, Any] = json.loads((folder / METADATA_FILE).read_text())
        except (OSError, ValueError) as exc:
            raise ScorerUnavailable(
                f"{model_dir} is not an exported model folder ({METADATA_FILE}: {exc}); "
                "create one with `flask moderation model export-onnx --out DIR`"
            ) from exc
        self.meta = meta
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.max_length = int(meta.get("max_length", MAX_TOKENS))
        self.tokenizer.enable_truncation(max_length=self.max_length)
        self.tokenizer.no_padding()
        self.pad_id = int(meta["pad_token_id"])

        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            str(folder / meta["model_file"]), options, providers=["CPUExecutionProvider"]
        )
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.batch_size = batch_size
        self.labels: tuple[str, ...] = tuple(meta["labels"])
        suffix = "onnx-int8" if meta.get("int8") else "onnx"
        self.version = f"{meta['model_type']}+sha256:{meta['source_sha256']}+{suffix}"
        self.default_thresholds: Mapping[str, LabelThresholds] = {
            label: DETOXIFY_THRESHOLDS.get(label, LabelThresholds(hold=0.7))
            for label in self.labels
        }

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        if not texts:
            return []
        encodings = self.tokenizer.encode_batch(list(texts))
        lengths = [len(e.ids) for e in encodings]
        results: list[dict[str, float]] = [{} for _ in texts]
        for bucket in length_buckets(lengths, self.batch_size):
            width = max(lengths[i] for i in bucket)
            input_ids = np.full((len(bucket), width), self.pad_id, dtype=np.int64)
            attention_mask = np.zeros((len(bucket), width), dtype=np.int64)
            token_type_ids = np.zeros((len(bucket), width), dtype=np.int64)
            for row, index in enumerate(bucket):
                encoding = encodings[index]
                n = lengths[index]
                input_ids[row, :n] = encoding.ids
                attention_mask[row, :n] = 1
                token_type_ids[row, :n] = encoding.type_ids
            feed = {
                "input_ids": input_ids,
                "attention_mask": attention_mask,
                "token_type_ids": token_type_ids,
            }
            [probabilities] = self.session.run(None, {k: feed[k] for k in self.input_names})
            for row, index in enumerate(bucket):
                row_probabilities = probabilities[row]
                results[index] = {
                    label: float(row_probabilities[i]) for i, label in enumerate(self.labels)
                }
        return results
