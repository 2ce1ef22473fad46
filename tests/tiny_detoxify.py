"""A tiny Detoxify-format model, built on the spot so tests drive the real Detoxify loading
and predict code offline: a 2-layer, 64-wide BertForSequenceClassification with a vocab.txt
written here, trained for a few seconds so that insults score high and kind words low, and
saved as Detoxify saves checkpoints (a dict with ``config`` and ``state_dict``)."""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

LABELS = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]
WORDS = (
    "the a an and or but you your i me my we they he she it is are was be will to of in on "
    "for with this that post article thanks thank great nice good love lovely agree helpful "
    "read write point idea interesting well written clear useful kind shut up stupid idiot "
    "moron dumb hate kill hurt find die loser trash pathetic fool disgusting ugly"
).split()
TOXIC = [
    "you are a stupid idiot", "shut up you moron", "you pathetic loser", "what a dumb fool",
    "i hate you idiot", "you are trash", "disgusting ugly moron", "stupid stupid idiot",
]  # fmt: skip
CLEAN = [
    "thanks for the great post", "i agree with your point", "a lovely and helpful article",
    "well written and clear", "interesting idea thank you", "nice post", "good read",
    "this is useful, thanks",
]  # fmt: skip


@dataclass(frozen=True)
class TinyDetoxify:
    checkpoint: Path
    config_dir: Path


def build_tiny_detoxify(folder: Path, seed: int = 7) -> TinyDetoxify:
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    config_dir = folder / "bert-tiny"
    config_dir.mkdir(parents=True, exist_ok=True)
    pieces = list(string.ascii_lowercase + string.digits + string.punctuation)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *pieces]
    vocab += ["##" + p for p in string.ascii_lowercase + string.digits]
    (config_dir / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n")
    config = BertConfig(
        vocab_size=len(dict.fromkeys(vocab)),
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        max_position_embeddings=512,
        num_labels=len(LABELS),
    )
    config.save_pretrained(config_dir)

    torch.manual_seed(seed)
    model = BertForSequenceClassification(config)
    tokenizer = BertTokenizer(str(config_dir / "vocab.txt"))
    batch = tokenizer(TOXIC + CLEAN, padding=True, return_tensors="pt")
    targets = torch.tensor(
        [[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]] * len(TOXIC) + [[0.0] * len(LABELS)] * len(CLEAN)
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    model.train()
    for _ in range(60):
        optimizer.zero_grad()
        logits = model(**batch).logits
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets)
        loss.backward()
        optimizer.step()
    model.eval()

    checkpoint = folder / "tiny-original.ckpt"
    torch.save(
        {
            "config": {
                "arch": {
                    "args": {
                        # What Detoxify's real checkpoints say: the hub name of the base model.
                        "model_type": "bert-base-uncased",
                        "model_name": "BertForSequenceClassification",
                        "tokenizer_name": "BertTokenizer",
                        "num_classes": len(LABELS),
                    }
                },
                "dataset": {"args": {"classes": LABELS}},
            },
            "state_dict": model.state_dict(),
        },
        checkpoint,
    )
    return TinyDetoxify(checkpoint, config_dir)
