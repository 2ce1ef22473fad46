"""Scoring throughput and memory: Detoxify called naively versus our worker path.

    .venv/bin/python bench/scoring.py [--comments 256] [--claim 128]

Over the same comments (texts of shared/data/toxicity/*.csv, a fixed sample) and a
bert-base-geometry model, it times in this one process:
  (a) Detoxify.predict, one comment at a time;
  (b) Detoxify.predict, in batches of 32 (in the order the comments arrive);
  (c) our worker path: claims of --claim comments, sorted into length buckets, ONNX int8;
and prints comments/second, the ratios c/a and c/b, and each path's peak RSS.

Each path runs in a fresh child process, one after the other, in this one run: a worker
on the fast path never imports torch, and after (a) and (b) torch's OpenMP threads keep
spinning and take the cores from onnxruntime (measured here: (c) ran ~5x slower in the
process that had just run (b)), which would measure the benchmark, not the worker.

The model is Detoxify's real checkpoint when MODERATION_DETOXIFY_CHECKPOINT and
MODERATION_DETOXIFY_CONFIG_DIR are set; otherwise a randomly initialised model of the same
shape (BERT base: 12 layers, 768 wide, 30,522-token vocabulary built from the corpus),
which costs the same compute per token; the output says which."""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
TOXICITY = REPO.parent / "shared" / "data" / "toxicity"


def corpus() -> list[str]:
    texts: list[str] = []
    for path in sorted(TOXICITY.glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                text = row.get("comment_text") or row.get("tweet") or ""
                if text.strip():
                    texts.append(text.strip())
    return texts


def sample(count: int) -> list[str]:
    return random.Random(42).sample(corpus(), count)


def random_bert_base(folder: Path) -> tuple[Path, Path]:
    """A Detoxify-format checkpoint of bert-base's shape with random weights, and a config
    folder whose vocab.txt holds the corpus's most frequent words plus word pieces."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    config_dir = folder / "bert-base-random"
    config_dir.mkdir(parents=True, exist_ok=True)
    config = BertConfig(num_labels=6)  # bert-base-uncased's geometry
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    pieces = [chr(c) for c in range(33, 127)]
    pieces += ["##" + p for p in pieces]
    counts = Counter(w for t in corpus() for w in re.findall(r"\w+|[^\w\s]", t.lower()))
    words = [w for w, _ in counts.most_common(config.vocab_size) if w not in pieces]
    vocab = list(dict.fromkeys(specials + pieces + words))[: config.vocab_size]
    (config_dir / "vocab.txt").write_text("\n".join(vocab) + "\n")
    config.vocab_size = len(vocab)
    config.save_pretrained(config_dir)
    torch.manual_seed(0)
    model = BertForSequenceClassification(config).eval()
    checkpoint = folder / "bert-base-random.ckpt"
    torch.save(
        {
            "config": {
                "arch": {"args": {"model_type": "bert-base-uncased",
                                  "model_name": "BertForSequenceClassification",
                                  "tokenizer_name": "BertTokenizer", "num_classes": 6}},
                "dataset": {"args": {"classes": ["toxic", "severe_toxic", "obscene", "threat",
                                                 "insult", "identity_hate"]}},
            },
            "state_dict": model.state_dict(),
        },
        checkpoint,
    )  # fmt: skip
    return checkpoint, config_dir


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_path(path: str, texts: list[str], model: dict[str, str], claim: int) -> float:
    """Score ``texts`` by ``path``; returns comments per second."""
    if path in ("a", "b"):
        from moderation.scoring.detoxify import DetoxifyScorer

        detox = DetoxifyScorer("original", model["checkpoint"], model["config_dir"]).detoxify
        detox.predict(texts[:2])  # warm-up
        started = time.perf_counter()
        if path == "a":
            for text in texts:
                detox.predict(text)
        else:
            for i in range(0, len(texts), 32):
                detox.predict(texts[i : i + 32])
        return len(texts) / (time.perf_counter() - started)

    from moderation.scoring.onnx import OnnxScorer

    scorer = OnnxScorer(model["onnx_dir"])  # the worker's defaults
    scorer.score(texts[:2])
    started = time.perf_counter()
    for i in range(0, len(texts), claim):
        scorer.score(texts[i : i + claim])
    return len(texts) / (time.perf_counter() - started)


def child(args: argparse.Namespace) -> None:
    model = json.loads(args.model)
    texts = sample(args.comments)
    rate = run_path(args.child, texts, model, args.claim)
    torch_loaded = "torch" in sys.modules
    print(json.dumps({"rate": rate, "rss_mb": peak_rss_mb(), "torch": torch_loaded}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--comments", type=int, default=256)
    parser.add_argument("--claim", type=int, default=128, help="comments per worker claim")
    parser.add_argument("--child", choices=["a", "b", "c"], help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    import torch

    from moderation.scoring.detoxify import DetoxifyScorer
    from moderation.scoring.export import export_onnx

    workdir = Path(tempfile.mkdtemp(prefix="bench-scoring-"))
    checkpoint = os.environ.get("MODERATION_DETOXIFY_CHECKPOINT")
    config_dir = os.environ.get("MODERATION_DETOXIFY_CONFIG_DIR")
    if checkpoint and config_dir:
        source = f"Detoxify checkpoint {checkpoint}"
    else:
        checkpoint, config_dir = map(str, random_bert_base(workdir))
        source = ("random weights of bert-base's shape (no real checkpoint configured; "
                  "same compute per token)")  # fmt: skip
    scorer = DetoxifyScorer("original", checkpoint, config_dir)
    onnx_dir = workdir / "onnx-int8"
    export_onnx(scorer, onnx_dir, int8=True)
    del scorer
    model = {"checkpoint": checkpoint, "config_dir": config_dir, "onnx_dir": str(onnx_dir)}

    texts = sample(args.comments)
    from moderation.scoring.onnx import OnnxScorer

    lengths = [len(e.ids) for e in OnnxScorer(str(onnx_dir)).tokenizer.encode_batch(texts)]
    print(f"model: {source}")
    print(f"comments: {len(texts)} from shared/data/toxicity (seed 42); tokens per comment: "
          f"mean {sum(lengths) / len(lengths):.0f}, max {max(lengths)}")  # fmt: skip
    print(f"machine: {os.cpu_count()} cores; torch {torch.__version__} with "
          f"{torch.get_num_threads()} threads")  # fmt: skip

    rss: dict[str, dict[str, float]] = {}
    for path in ("a", "b", "c"):
        out = subprocess.run(
            [sys.executable, __file__, "--child", path, "--model", json.dumps(model),
             "--comments", str(args.comments), "--claim", str(args.claim)],
            capture_output=True, text=True, check=True, cwd=REPO,
        )  # fmt: skip
        rss[path] = json.loads(out.stdout.strip().splitlines()[-1])
    rates = {path: float(rss[path]["rate"]) for path in rss}

    names = {
        "a": "Detoxify.predict, one at a time",
        "b": "Detoxify.predict, batches of 32",
        "c": f"worker path: claims of {args.claim}, length buckets, ONNX int8",
    }
    print(f"\n{'path':52s} {'comments/s':>10s} {'peak RSS':>9s}  torch loaded")
    for path in ("a", "b", "c"):
        print(f"({path}) {names[path]:48s} {rates[path]:10.1f} {rss[path]['rss_mb']:7.0f} MB"
              f"  {rss[path]['torch']}")  # fmt: skip
    print(f"\nc/a = {rates['c'] / rates['a']:.2f}   (goal ≥ 3)")
    print(f"c/b = {rates['c'] / rates['b']:.2f}   (goal ≥ 1.5)")
    print(f"worker RSS = {rss['c']['rss_mb']:.0f} MB   (goal ≤ 600)")


if __name__ == "__main__":
    main()
