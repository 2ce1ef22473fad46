"""Coalescing concurrent scoring requests into one model call: a Scorer decorator.

Each request thread hands its texts to one scoring thread and waits. While the model works
on a batch, the requests that arrive queue up, and the next model call takes all of them
(up to ``max_texts``): no request waits for company it does not need, and under load the
model runs on batches, where it does more texts per second than one text at a time."""

from __future__ import annotations

import queue
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future

from moderation.scoring import LabelThresholds, Scorer

_Job = tuple[list[str], "Future[list[dict[str, float]]]"]


class CoalescingScorer:
    """A Scorer that forwards to ``scorer`` from a single daemon thread, coalescing the
    texts of concurrent ``score`` calls into batches. Safe to call from any number of
    threads."""

    def __init__(self, scorer: Scorer, max_texts: int = 64) -> None:
        self.scorer = scorer
        self.name = scorer.name
        self.version = scorer.version
        self.labels: tuple[str, ...] = scorer.labels
        self.default_thresholds: Mapping[str, LabelThresholds] = scorer.default_thresholds
        self.max_texts = max_texts
        self.batches = 0  # model calls made, for tests and benchmarks
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        if not texts:
            return []
        self._ensure_thread()
        future: Future[list[dict[str, float]]] = Future()
        self._jobs.put((list(texts), future))
        return future.result()

    def _ensure_thread(self) -> None:
        # Started on first use, so a forked server process gets its own thread.
        if self._thread is None or not self._thread.is_alive():
            with self._start_lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._run, name="coalescing-scorer", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        while True:
            jobs = [self._jobs.get()]
            size = len(jobs[0][0])
            while size < self.max_texts:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                jobs.append(job)
                size += len(job[0])
            self._score(jobs)

    def _score(self, jobs: list[_Job]) -> None:
        texts = [text for job_texts, _ in jobs for text in job_texts]
        try:
            results = self.scorer.score(texts)
        except BaseException as exc:  # every waiting request gets the model's error
            for _, future in jobs:
                future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        finally:
            self.batches += 1
        start = 0
        for job_texts, future in jobs:
            future.set_result(results[start : start + len(job_texts)])
            start += len(job_texts)
