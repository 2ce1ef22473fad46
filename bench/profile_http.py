"""Where the server's CPU goes in one phase of bench/http_vs_isso.py, by py-spy.

    .venv/bin/python bench/profile_http.py post|thread|counts [--clients 1] [--seconds 10]
        [--gil] [--idle] [--web-processes 1] [--scorer lite] [--out profile.txt]

Starts `make run` as the HTTP bench does (SQLite, rate limits off), seeds the 200-comment
page, then drives one phase while `py-spy record` samples the gunicorn worker (with --gil:
only the thread holding the GIL, i.e. where Python spends CPU). Prints requests/s, the
server's CPU per request, and the functions with the largest share of samples, inclusive of
what they call; the raw collapsed stacks go to --out."""

from __future__ import annotations

import argparse
import asyncio
import collections
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import http_vs_isso as bench  # noqa: E402  (bench/http_vs_isso.py)

PY_SPY = Path(sys.executable).parent / "py-spy"


def summary(raw: Path, top: int) -> str:
    """The functions with the largest inclusive share of the samples in ``raw``."""
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        total += int(count)
        frames = {re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")}
        for frame in frames:
            inclusive[frame] += int(count)
    return "\n".join(
        f"{share / total * 100:5.1f}%  {frame}" for frame, share in inclusive.most_common(top)
    )


async def profile(args: argparse.Namespace, out: Path) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="profile-http-"))
    # By default one web process, which then also runs the scoring worker: all of the
    # server's work is in the one process sampled (with more, the last one started).
    server = bench.start_ours(workdir, args.scorer, web_processes=args.web_processes)
    api = bench.OurApi()
    try:
        await bench.seed_thread(server.port, api)
        await bench.wait_for_thread(server.port, api, 2 * bench.THREAD_ROOTS)
        # make -> gunicorn master -> the worker: the deepest process of the tree.
        worker = bench.process_tree(server.process.pid)[-1]
        pages = [f"page-{i}" for i in range(bench.PAGES)]

        def request(index: int, n: int) -> tuple[str, str, bytes | None, dict[str, str]]:
            if args.phase == "post":
                return api.post(pages[(index * 7 + n) % bench.PAGES], f"Comment {index}-{n}.")
            if args.phase == "thread":
                return (*api.thread(bench.THREAD_KEY), {})
            return (*api.counts(pages), {})

        command = [str(PY_SPY), "record", "--pid", str(worker), "--duration",
                   str(int(args.seconds)), "--rate", "250", "--format", "raw",
                   "--output", str(out), "--nonblocking"]  # fmt: skip
        if args.gil:
            command.append("--gil")
        if args.idle:
            command.append("--idle")
        spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        phase = await bench.drive(server, args.clients, args.seconds, 0.5, request)
        spy.wait(timeout=60)
        print(
            f"{args.phase}, {args.clients} clients: {phase.rate:.0f} req/s, "
            f"p50 {phase.percentile(50):.1f} ms, p99 {phase.percentile(99):.1f} ms, "
            f"server CPU {phase.cpu_ms_per_request:.1f} ms per request, {phase.errors} errors"
        )
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("phase", choices=["post", "thread", "counts"])
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--gil", action="store_true", help="sample only the GIL's holder")
    parser.add_argument("--scorer", default="lite")
    parser.add_argument("--web-processes", type=int, default=1)
    parser.add_argument("--idle", action="store_true",
                        help="sample waiting threads too (locks, SQLite's waits)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--top", type=int, default=60)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="profile-http-")) / f"{args.phase}.txt"
    asyncio.run(profile(args, out))
    print(f"raw stacks: {out}")
    print(summary(out, args.top))


if __name__ == "__main__":
    main()
