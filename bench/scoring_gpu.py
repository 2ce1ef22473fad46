"""Detoxify on a GPU: comments per second, naive calls versus the worker's scorer.

    python bench/scoring_gpu.py [--comments 1024] [--texts FILE.json] [--device cuda]

Needs a CUDA machine with torch, transformers and detoxify (CI never has one; this is run
by hand where the project is lent a GPU). Over the same comments (a JSON list of texts, by
default a sample of ../shared/data/toxicity as bench/scoring.py takes) and a
bert-base-geometry Detoxify model (random weights unless MODERATION_DETOXIFY_CHECKPOINT and
MODERATION_DETOXIFY_CONFIG_DIR name a real one: the same compute per token), it times on
``--device``:
  (a) Detoxify.predict, one comment at a time;
  (b) Detoxify.predict, batches of 32 in arrival order;
  (d) the worker's scorer (DetoxifyScorer: claims of 128, length buckets) with
      MODERATION_SCORER_BATCH_SIZE 16 (the default) and 64;
after one warm-up call each, with torch.cuda.synchronize() around the timing."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=1024)
    parser.add_argument("--texts", help="a JSON list of texts (default: shared/data sample)")
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()

    import scoring  # bench/scoring.py
    import torch
    from scoring import random_bert_base, sample

    from moderation.scoring.detoxify import DetoxifyScorer

    if args.texts:
        pool = json.loads(Path(args.texts).read_text())
        texts = [pool[i % len(pool)] for i in range(args.comments)]
        scoring.corpus = lambda: pool  # the random model's vocabulary comes from these texts
    else:
        texts = sample(args.comments)
    checkpoint = os.environ.get("MODERATION_DETOXIFY_CHECKPOINT")
    config_dir = os.environ.get("MODERATION_DETOXIFY_CONFIG_DIR")
    if not (checkpoint and config_dir):
        checkpoint, config_dir = map(str, random_bert_base(Path(tempfile.mkdtemp())))
        source = "random weights of bert-base's shape (same compute per token)"
    else:
        source = f"Detoxify checkpoint {checkpoint}"

    def timed(run: object) -> float:
        torch.cuda.synchronize() if args.device.startswith("cuda") else None
        started = time.perf_counter()
        run()  # type: ignore[operator]
        torch.cuda.synchronize() if args.device.startswith("cuda") else None
        return len(texts) / (time.perf_counter() - started)

    rates: dict[str, float] = {}
    scorer = DetoxifyScorer("original", checkpoint, config_dir, device=args.device)
    detox = scorer.detoxify
    detox.predict(texts[:2])
    rates["(a) Detoxify.predict, one at a time"] = timed(lambda: [detox.predict(t) for t in texts])
    rates["(b) Detoxify.predict, batches of 32"] = timed(
        lambda: [detox.predict(texts[i : i + 32]) for i in range(0, len(texts), 32)]
    )
    for batch in (16, 64):
        scorer.batch_size = batch
        scorer.score(texts[:2])
        rates[f"(d) worker scorer, claims of 128, buckets of ≤{batch}"] = timed(
            lambda: [scorer.score(texts[i : i + 128]) for i in range(0, len(texts), 128)]
        )

    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else args.device
    print(f"model: {source}")
    print(f"device: {name}; torch {torch.__version__}; comments: {len(texts)}")
    for label, rate in rates.items():
        print(f"{label:52s} {rate:10.1f} comments/s")
    if args.device.startswith("cuda"):
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
