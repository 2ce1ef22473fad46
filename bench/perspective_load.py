"""Load on the Perspective-compatible endpoint: N concurrent clients on loopback.

    .venv/bin/python bench/perspective_load.py [--clients 8] [--seconds 10]
        [--scorers lite,onnx] [--batching on|off|both] [--onnx-dir DIR]

For each scorer it serves the application as `make run` does (gunicorn with
config/gunicorn.conf.py: two processes of one request thread on two cores; SQLite),
creates a site and a scoring key, then runs --clients client threads, each on its own
keep-alive connection, posting comments:analyze for TOXICITY with texts of
../shared/data/toxicity (a fixed shuffled sample) for --seconds after a short warm-up. It
prints requests/second and the p50/p99 latency per scorer (and per batching setting with
--batching both).

Scorers: ``lite``; ``onnx`` is an int8 ONNX export of a Detoxify model of bert-base's
geometry: the folder given by --onnx-dir (or MODERATION_ONNX_MODEL_DIR) if it holds an
export, else built the way bench/scoring.py builds one (Detoxify's checkpoint when
MODERATION_DETOXIFY_CHECKPOINT/_CONFIG_DIR are set, otherwise random weights of the same
shape: same compute per token) and written to --onnx-dir when given. Coral waits 800 ms
for Perspective before letting a comment through unscored: p99 must stay well under."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from scoring import corpus, random_bert_base  # noqa: E402  (bench/scoring.py)

CORAL_BUDGET_MS = 800
MAX_TEXT_BYTES = 20 * 1024


@dataclass
class Result:
    label: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def texts(count: int = 4000) -> list[str]:
    usable = [t for t in corpus() if len(t.encode()) <= MAX_TEXT_BYTES]
    return random.Random(42).sample(usable, min(count, len(usable)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def onnx_model(onnx_dir: str | None, workdir: Path) -> str:
    """A folder with an int8 ONNX export of a bert-base-shaped Detoxify model: ``onnx_dir``
    if it holds one, else one built now (into ``onnx_dir`` when given, to reuse)."""
    if onnx_dir and (Path(onnx_dir) / "moderation-model.json").is_file():
        return onnx_dir
    import shutil

    from moderation.scoring.detoxify import DetoxifyScorer
    from moderation.scoring.export import export_onnx

    checkpoint = os.environ.get("MODERATION_DETOXIFY_CHECKPOINT")
    config_dir = os.environ.get("MODERATION_DETOXIFY_CONFIG_DIR")
    source = workdir / "source"
    if not (checkpoint and config_dir):
        print("building a random-weight bert-base Detoxify model (no checkpoint configured)")
        checkpoint, config_dir = map(str, random_bert_base(source))
    target = Path(onnx_dir) if onnx_dir else workdir / "onnx-int8"
    print(f"exporting it to ONNX int8 in {target}")
    export_onnx(DetoxifyScorer("original", checkpoint, config_dir), target, int8=True)
    shutil.rmtree(source, ignore_errors=True)  # the 0.4 GB torch checkpoint
    return str(target)


def prepare_database(url: str) -> str:
    """Tables, a site and a scoring key (fast enough never to be the limit); the key."""
    from app import create_app
    from moderation.db import db
    from moderation.services.perspective import create_key
    from moderation.services.sites import ensure_site
    from moderation.types import utcnow

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SCORER": "lite", "SECRET_KEY": "bench"})
    with app.app_context():
        db.drop_all()
        db.create_all()
        ensure_site(db.session(), "bench", "Bench")
        _, key = create_key(db.session(), "bench", "load", 10_000, now=utcnow())
        db.session.commit()
        db.engine.dispose()
    return key


class Server:
    """gunicorn with the project's config (`make run`'s processes), in its own process."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = open(log, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [str(REPO / ".venv/bin/gunicorn"), "-c", "config/gunicorn.conf.py",
             "--access-logfile", "/dev/null", "app:create_app()"],
            cwd=REPO, env={**os.environ, **env, "PORT": str(self.port)},
            stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"server exited:\n{log.read_text()[-3000:]}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise SystemExit(f"server did not start:\n{log.read_text()[-3000:]}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)
        self.log.close()


def load(port: int, key: str, sample: list[str], clients: int, seconds: float) -> Result:
    """``clients`` threads posting analyze requests for ``seconds`` (after a warm-up)."""
    path = f"/perspective/v1alpha1/comments:analyze?key={key}"
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    start = threading.Barrier(clients + 1)
    measure_from = [0.0]
    stop_at = [0.0]

    def client(index: int) -> None:
        rng = random.Random(index)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Content-Type": "application/json"}
        warm = 0
        start.wait()
        while True:
            text = sample[rng.randrange(len(sample))]
            body = json.dumps({"comment": {"text": text}, "languages": ["en"],
                               "requestedAttributes": {"TOXICITY": {}}})  # fmt: skip
            began = time.perf_counter()
            if began >= stop_at[0]:
                break
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                status = 0  # counted as an error; a new connection for the next request
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            took = (time.perf_counter() - began) * 1000
            if began < measure_from[0] or warm < 2:
                warm += 1
                continue
            if status != 200:
                errors[index] += 1
            latencies[index].append(took)
        connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    now = time.perf_counter()
    measure_from[0] = now + 1.0  # one second of warm-up
    stop_at[0] = measure_from[0] + seconds
    start.wait()
    for thread in threads:
        thread.join()
    flat = [ms for per_client in latencies for ms in per_client]
    return Result("", len(flat), sum(errors), seconds, flat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured, per run")
    parser.add_argument("--scorers", default="lite,onnx")
    parser.add_argument("--batching", choices=["on", "off", "both"], default="off",
                        help="PERSPECTIVE_BATCHING in the server")  # fmt: skip
    parser.add_argument("--onnx-dir", default=os.environ.get("MODERATION_ONNX_MODEL_DIR"))
    parser.add_argument("--database-url", default=None,
                        help="default: a fresh SQLite file per run, as `make run` has; a "
                        "PostgreSQL database given here is emptied first")  # fmt: skip
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-perspective-") as tmp:
        results = run_all(args, Path(tmp))

    print(f"\n{'scorer':24s} {'req/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} {'errors':>7s}")
    for r in results:
        print(f"{r.label:24s} {r.requests / r.seconds:8.1f} {r.percentile(50):8.1f} "
              f"{r.percentile(99):8.1f} {r.errors:7d}")  # fmt: skip
    print(f"\nCoral's budget: p99 well under {CORAL_BUDGET_MS} ms at {args.clients} clients.")


def run_all(args: argparse.Namespace, workdir: Path) -> list[Result]:
    sample = texts()
    print(f"{len(sample)} texts from shared/data/toxicity (seed 42); {args.clients} clients; "
          f"{args.seconds:g} s per run after 1 s warm-up; {os.cpu_count()} cores")  # fmt: skip
    results: list[Result] = []
    for scorer in args.scorers.split(","):
        env = {"MODERATION_SCORER": scorer, "MODERATION_WORKER_IN_PROCESS": "false"}
        if scorer == "onnx":
            try:
                env["MODERATION_ONNX_MODEL_DIR"] = onnx_model(args.onnx_dir, workdir)
            except Exception as exc:  # no torch/transformers here: report, go on
                print(f"onnx: skipped, no model could be built ({exc})")
                continue
        for batching in ["on", "off"] if args.batching == "both" else [args.batching]:
            url = args.database_url or f"sqlite:///{workdir / f'{scorer}-{batching}.db'}"
            key = prepare_database(url)
            env["MODERATION_DATABASE_URL"] = url
            env["MODERATION_PERSPECTIVE_BATCHING"] = "true" if batching == "on" else "false"
            server = Server(env, workdir / f"{scorer}-{batching}.log")
            try:
                result = load(server.port, key, sample, args.clients, args.seconds)
            finally:
                server.stop()
            result.label = f"{scorer}, batching {batching}"
            results.append(result)
            print(f"  {result.label}: {result.requests / result.seconds:.1f} req/s")

    return results


if __name__ == "__main__":
    main()
