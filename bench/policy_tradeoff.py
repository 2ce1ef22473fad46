"""The lite model's hold threshold under the whole default policy: at each threshold, the
share of acceptable comments held (false alarms) and of abusive ones held or hidden.

    .venv/bin/python bench/policy_tradeoff.py [FILE ...]

Default files: the policy's development set (tests/data/policy_dev.csv), and the labelled
Jigsaw rows and Davidson's tweets of shared/data/toxicity (the lite model's training data:
optimistic). About two minutes, most of it Davidson's 24,783 tweets. The
held-out set is left out on purpose: thresholds are chosen without looking at it. Each
row of the table runs the real policy (services.policy.decide, targeting rules and all)
with only the toxicity hold threshold changed; "old suspect words" adds the suspect-word
list sites started with before, to show what it still buys."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

THRESHOLDS = (0.35, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 1.01)
OLD_SUSPECT_WORDS = (
    "kill", "killed", "murder", "shoot", "stab", "hurt you", "find you", "beat you", "rape",
    "burn", "lynch", "hang", "die", "subhuman", "vermin", "go back to",
)  # fmt: skip


def main(files: list[str]) -> None:
    from moderation.models import Site
    from moderation.scoring.lite import LiteScorer
    from moderation.services import evaluation, policy
    from moderation.services.policy import decide
    from moderation.types import CommentStatus, ModerationMode

    scorer = LiteScorer()
    rescore = policy.rescorer(scorer)  # as the worker and the POST decide
    default = scorer.default_thresholds["toxicity"].hold
    toxicity = REPO.parent / "shared" / "data" / "toxicity"
    paths = [Path(f) for f in files] or [
        REPO / "tests" / "data" / "policy_dev.csv",
        toxicity / "detoxify_jigsaw_dummy_train.csv",
        toxicity / "ibm_max_jigsaw_test_examples.csv",
        toxicity / "davidson_labeled_data.csv",
    ]
    sets = []
    for path in paths:
        data = evaluation.read_labelled(path)
        abusive = [any(flags[i] for flags in data.labels.values()) for i in range(len(data.texts))]
        sets.append((path.name, data.texts, abusive, scorer.score(data.texts)))

    def outcome(threshold: float, words: tuple[str, ...], texts, abusive, scores) -> str:  # type: ignore[no-untyped-def]
        thresholds = {"toxicity": {"hold": threshold}}
        site = Site(slug="t", moderation_mode=ModerationMode.POST, banned_words=[],
                    suspect_words=list(words), thresholds=thresholds)  # fmt: skip
        flagged = [
            decide(site, text, score, scorer.default_thresholds, rescore=rescore).status
            != CommentStatus.VISIBLE
            for text, score in zip(texts, scores, strict=True)
        ]
        n_bad = sum(abusive)
        ok_held = sum(f and not bad for f, bad in zip(flagged, abusive, strict=True))
        bad_held = sum(f and bad for f, bad in zip(flagged, abusive, strict=True))
        return (f"{100 * ok_held / (len(abusive) - n_bad):.1f} % ({ok_held}) | "
                f"{100 * bad_held / n_bad:.1f} % ({bad_held})")  # fmt: skip

    print(f"scorer {scorer.version}; acceptable held | abusive held or hidden, per file")
    print("| hold at | " + " | ".join(f"{name}: acceptable held | abusive held"
                                       for name, *_ in sets) + " |")  # fmt: skip
    print("|---:|" + "---:|---:|" * len(sets))
    for threshold in THRESHOLDS:
        shown = "off" if threshold > 1 else f"{threshold:.2f}"
        mark = " (default)" if threshold == default else ""
        cells = " | ".join(outcome(threshold, (), *rest) for _, *rest in sets)
        print(f"| {shown}{mark} | {cells} |")
    assert default is not None
    cells = " | ".join(outcome(default, OLD_SUSPECT_WORDS, *rest) for _, *rest in sets)
    print(f"| {default:.2f} + the old suspect words | {cells} |")


if __name__ == "__main__":
    main(sys.argv[1:])
