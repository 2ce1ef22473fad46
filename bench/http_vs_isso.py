"""HTTP load, side by side: our `make run` against Isso (the peer) under the same load.

    .venv/bin/python bench/http_vs_isso.py [--seconds 10] [--clients 8,32]
        [--scorer auto|lite] [--only ours|isso] [--phases post,thread,counts]
        [--web-processes N] [--connection-per-request] [--keep]

Isso 0.14.0 is installed from PyPI into a virtualenv of its own, bench/.venv-isso
(gitignored, made on the first run), and served by gunicorn with 2 sync workers, SQLite,
moderation off and its rate limits ("guard") off. Ours is `make run PORT=<free port>` with a
fresh SQLite database, MODERATION_RATELIMIT_ENABLED=false (Flask-Limiter's switch: the
posting limit of 10/minute would otherwise answer 429 after ten posts) and the scorer
--scorer (default: `auto`, what `make run` does). Both servers run on this machine, one at a
time, each driven by the same asyncio client (plain HTTP/1.1 keep-alive connections, in
this process) on loopback.

Phases, each --seconds long after one second of warm-up, at each --clients concurrency:
  post    POST a comment (a unique text) to one of 50 pages
  thread  GET a page with 200 comments (100 comments, each with one reply)
  counts  the comment counts of 50 pages in one request
Then every POST answer is checked: each returned id is read back through the API (Isso
`GET /id/<id>` with the comment's cookie; ours `GET /api/v1/comments/<id>` with the
author token) and must hold the text that was posted (else a "wrong id"), and every text
acknowledged with 201/202 must be in the server's database exactly once (else "lost").
It prints one table: requests/s and p50/p99 latency per phase, ours / Isso, and each
server's RSS and PSS (all its processes) at the end."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ISSO_VERSION = "0.14.0"
ISSO_VENV = REPO / "bench" / ".venv-isso"
GUNICORN_VERSION = "27.0.1"  # the one requirements.txt pins
PAGES = 50
THREAD_ROOTS = 100  # each with one reply: 200 comments
THREAD_KEY = "popular-article"
# The load's connections: True (the default), each client keeps its connection, which
# then stays with the web process that accepted it; False (--connection-per-request), as
# nginx talks to the server behind it unless told otherwise (Isso's sync workers close
# every connection anyway). Measured: keep-alive gave ours more requests/s, not fewer.
KEEP_ALIVE = True


# ---------------------------------------------------------------- a small HTTP/1.1 client


class Connection:
    """One connection, kept alive (``keep_alive``) and reopened when the server closes it
    (Isso's sync workers answer `Connection: close`), or closed after each answer."""

    def __init__(self, port: int, keep_alive: bool = True) -> None:
        self.port = port
        self.keep_alive = keep_alive
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        if not self.keep_alive:
            lines.append("Connection: close")
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b""))
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        response_headers: dict[str, str] = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                response_headers.setdefault(name.strip().lower(), value.strip())
        length = int(response_headers.get("content-length", "0"))
        data = await self.reader.readexactly(length) if length else b""
        if not self.keep_alive or response_headers.get("connection", "").lower() == "close":
            self.close()
        return status, response_headers, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


# ---------------------------------------------------------------- the two servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(children.get(current, []))
    return found


def process_tree_rss_mib(pid: int, field: str = "VmRSS:", file: str = "status") -> float:
    """RSS of ``pid`` and all its descendants (with ``field="Pss:", file="smaps_rollup"``:
    their PSS, where a page that forked processes share counts once in all, not once in
    each)."""
    total_kib = 0
    for process in process_tree(pid):
        try:
            for line in Path(f"/proc/{process}/{file}").read_text().splitlines():
                if line.startswith(field):
                    total_kib += int(line.split()[1])
        except OSError:
            pass
    return total_kib / 1024


def describe_memory(pid: int) -> str:
    """One process's RSS and PSS, and its command line, for the run's log."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return f"pid {pid}: gone"
    rss = sum(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024
    pss = sum(int(line.split()[1]) for line in rollup if line.startswith("Pss:")) / 1024
    return f"pid {pid}: RSS {rss:.0f} MiB, PSS {pss:.0f} MiB: {command[:90]}"


def process_tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by ``pid`` and all its descendants."""
    ticks = 0
    for process in process_tree(pid):
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    database: Path

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


def wait_until_up(server: Server, path: str, seconds: float = 240) -> None:
    import http.client

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(f"{server.name} exited:\n{server.log.read_text()[-3000:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=2)
            connection.request("GET", path)
            if connection.getresponse().status < 500:
                return
        except OSError:
            time.sleep(0.3)
    server.stop()
    raise SystemExit(f"{server.name} did not start:\n{server.log.read_text()[-3000:]}")


def ensure_isso() -> Path:
    """bench/.venv-isso with Isso and gunicorn pinned; made once."""
    marker = ISSO_VENV / f".isso-{ISSO_VERSION}"
    if not marker.exists():
        print(f"installing Isso {ISSO_VERSION} into {ISSO_VENV} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(ISSO_VENV)], check=True)
        subprocess.run(
            [str(ISSO_VENV / "bin/pip"), "install", "--quiet", "--disable-pip-version-check",
             f"isso=={ISSO_VERSION}", f"gunicorn=={GUNICORN_VERSION}"],
            check=True,
        )  # fmt: skip
        marker.touch()
    return ISSO_VENV / "bin/gunicorn"


def start_isso(workdir: Path) -> Server:
    gunicorn = ensure_isso()
    port = free_port()
    database = workdir / "isso.db"
    settings = workdir / "isso.cfg"
    settings.write_text(
        f"[general]\ndbpath = {database}\nhost = http://127.0.0.1:{port}/\n"
        "[moderation]\nenabled = false\n"
        "[guard]\nenabled = false\n"
        f"[server]\nlisten = http://127.0.0.1:{port}/\n"
    )
    log = workdir / "isso.log"
    # Isso creates its tables and preferences when its app is made; two workers making it
    # at once on a new database race (UNIQUE constraint failed: preferences.key) and
    # gunicorn stops. Made once here, before the workers start.
    subprocess.run([str(ISSO_VENV / "bin/python"), "-c", "import isso.run"],
                   env={**os.environ, "ISSO_SETTINGS": str(settings)},
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(gunicorn), "--workers", "2", "--bind", f"127.0.0.1:{port}",
             "isso.run:application"],
            env={**os.environ, "ISSO_SETTINGS": str(settings)},
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    server = Server("Isso", port, process, log, database)
    wait_until_up(server, "/info")
    return server


def start_ours(workdir: Path, scorer: str, web_processes: int | None = None) -> Server:
    port = free_port()
    database = workdir / "ours.db"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MODERATION_") and k not in ("PORT", "MAKEFLAGS", "MAKELEVEL")
    }
    env.update(
        MODERATION_DATABASE_URL=f"sqlite:///{database}",
        MODERATION_RATELIMIT_ENABLED="false",
        MODERATION_SECRET_KEY="bench-secret",  # noqa: S106 - a throwaway database
        MODERATION_ADMIN_PASSWORD="bench-password-not-secret",  # noqa: S106
        MODERATION_SCORER=scorer,
    )
    if web_processes is not None:  # else `make run`'s own choice: one per core
        env["MODERATION_WEB_PROCESSES"] = str(web_processes)
    log = workdir / "ours.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["make", "--no-print-directory", "run", f"PORT={port}"], cwd=REPO, env=env,
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    server = Server("ours", port, process, log, database)
    wait_until_up(server, "/healthz")
    return server


# ---------------------------------------------------------------- what each server is asked


@dataclass
class Posted:
    text: str
    status: int
    comment_id: int | None
    proof: dict[str, str]  # what reading it back needs: a cookie or an author token


class Api:
    """The same operations on either server."""

    name: str

    def post(self, page: str, text: str, parent: int | None = None
             ) -> tuple[str, str, bytes, dict[str, str]]:  # fmt: skip
        raise NotImplementedError

    def posted(self, text: str, status: int, headers: dict[str, str], body: bytes) -> Posted:
        raise NotImplementedError

    def thread(self, page: str) -> tuple[str, str, bytes | None]:
        raise NotImplementedError

    def counts(self, pages: list[str]) -> tuple[str, str, bytes | None]:
        raise NotImplementedError

    def read_back(self, posted: Posted) -> tuple[str, str, dict[str, str]]:
        raise NotImplementedError

    def text_of(self, body: bytes) -> str:
        raise NotImplementedError

    def stored_texts(self, database: Path) -> list[str]:
        raise NotImplementedError


class IssoApi(Api):
    name = "Isso"

    def post(self, page: str, text: str, parent: int | None = None
             ) -> tuple[str, str, bytes, dict[str, str]]:  # fmt: skip
        payload = {"text": text, "author": "Bench", "title": page, "parent": parent}
        return "POST", f"/new?uri=%2F{page}", json.dumps(payload).encode(), {}

    def posted(self, text: str, status: int, headers: dict[str, str], body: bytes) -> Posted:
        if status not in (201, 202):
            return Posted(text, status, None, {})
        comment_id = json.loads(body)["id"]
        # The edit cookie, `<id>=<signed value>`: what GET /id/<id> asks for.
        cookie = headers.get("set-cookie", "").split(";", 1)[0]
        return Posted(text, status, comment_id, {"Cookie": cookie})

    def thread(self, page: str) -> tuple[str, str, bytes | None]:
        return "GET", f"/?uri=%2F{page}", None

    def counts(self, pages: list[str]) -> tuple[str, str, bytes | None]:
        return "POST", "/count", json.dumps([f"/{p}" for p in pages]).encode()

    def read_back(self, posted: Posted) -> tuple[str, str, dict[str, str]]:
        return "GET", f"/id/{posted.comment_id}?plain=1", posted.proof

    def text_of(self, body: bytes) -> str:
        return str(json.loads(body)["text"])

    def stored_texts(self, database: Path) -> list[str]:
        with sqlite3.connect(database) as connection:
            return [row[0] for row in connection.execute("SELECT text FROM comments")]


class OurApi(Api):
    name = "ours"

    def post(self, page: str, text: str, parent: int | None = None
             ) -> tuple[str, str, bytes, dict[str, str]]:  # fmt: skip
        payload = {"thread": page, "author_name": "Bench", "body": text, "parent_id": parent}
        return "POST", "/api/v1/sites/demo/comments", json.dumps(payload).encode(), {}

    def posted(self, text: str, status: int, headers: dict[str, str], body: bytes) -> Posted:
        if status not in (201, 202):
            return Posted(text, status, None, {})
        answer = json.loads(body)
        return Posted(text, status, answer["id"], {"X-Author-Token": answer["author_token"]})

    def thread(self, page: str) -> tuple[str, str, bytes | None]:
        return "GET", f"/api/v1/sites/demo/comments?thread={page}&limit=500", None

    def counts(self, pages: list[str]) -> tuple[str, str, bytes | None]:
        query = urllib.parse.urlencode([("thread", p) for p in pages])
        return "GET", f"/api/v1/sites/demo/counts?{query}", None

    def read_back(self, posted: Posted) -> tuple[str, str, dict[str, str]]:
        return "GET", f"/api/v1/comments/{posted.comment_id}", posted.proof

    def text_of(self, body: bytes) -> str:
        return str(json.loads(body)["body_html"])

    def stored_texts(self, database: Path) -> list[str]:
        with sqlite3.connect(database) as connection:
            return [row[0] for row in connection.execute("SELECT body FROM comment")]


# ---------------------------------------------------------------- load


@dataclass
class Phase:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    response_bytes: int = 0
    answered: int = 0  # warm-up included
    cpu_seconds: float = 0.0  # the server's, warm-up included
    client_cpu_seconds: float = 0.0  # this process's (the client's), warm-up included

    @property
    def cpu_ms_per_request(self) -> float:
        return self.cpu_seconds * 1000 / self.answered if self.answered else float("nan")

    @property
    def client_cpu_ms_per_request(self) -> float:
        return self.client_cpu_seconds * 1000 / self.answered if self.answered else float("nan")

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


Request = Callable[[int, int], tuple[str, str, bytes | None, dict[str, str]]]


async def drive(
    server: Server,
    clients: int,
    seconds: float,
    warmup: float,
    make_request: Request,
    on_answer: Callable[[int, int, int, dict[str, str], bytes], None] | None = None,
) -> Phase:
    """``clients`` connections, each sending ``make_request(client, n)`` one after
    another for warm-up + ``seconds``; only answers that started after the warm-up
    count."""
    phase = Phase(seconds=seconds)
    loop = asyncio.get_running_loop()
    measure_from = loop.time() + warmup
    stop_at = measure_from + seconds

    async def client(index: int) -> None:
        connection = Connection(server.port, keep_alive=KEEP_ALIVE)
        n = 0
        while (began := loop.time()) < stop_at:
            method, path, body, headers = make_request(index, n)
            try:
                status, response_headers, data = await connection.request(
                    method, path, body, headers
                )
            except (OSError, asyncio.IncompleteReadError):
                connection.close()
                status, response_headers, data = 0, {}, b""
            if on_answer is not None:
                on_answer(index, n, status, response_headers, data)
            n += 1
            phase.answered += 1
            if began < measure_from:
                continue
            phase.requests += 1
            phase.latencies_ms.append((loop.time() - began) * 1000)
            phase.response_bytes += len(data)
            if not 200 <= status < 300:
                phase.errors += 1
        connection.close()

    cpu_before = process_tree_cpu_seconds(server.process.pid)
    client_before = time.process_time()
    await asyncio.gather(*(client(i) for i in range(clients)))
    phase.cpu_seconds = process_tree_cpu_seconds(server.process.pid) - cpu_before
    phase.client_cpu_seconds = time.process_time() - client_before
    return phase


async def seed_thread(port: int, api: Api) -> None:
    """The popular page: THREAD_ROOTS comments, each with one reply."""
    connection = Connection(port)
    for i in range(THREAD_ROOTS):
        method, path, body, headers = api.post(
            THREAD_KEY, f"Comment {i} on the article, with some words to read."
        )
        status, response_headers, data = await connection.request(method, path, body, headers)
        root = api.posted("", status, response_headers, data)
        assert root.comment_id is not None, (status, data[:300])
        method, path, body, headers = api.post(
            THREAD_KEY,
            f"A reply to comment {i}, agreeing with it politely.",
            parent=root.comment_id,
        )
        status, _, data = await connection.request(method, path, body, headers)
        assert status in (201, 202), (status, data[:300])
    connection.close()


async def wait_for_thread(port: int, api: Api, expected: int, seconds: float = 120) -> int:
    """Until the popular page shows ``expected`` comments (ours scores them first)."""
    connection = Connection(port)
    deadline = time.monotonic() + seconds
    shown = 0
    while time.monotonic() < deadline:
        method, path, body = api.thread(THREAD_KEY)
        _, _, data = await connection.request(method, path, body)
        shown = data.count(b"Comment ") + data.count(b"A reply to comment ")
        if shown >= expected:
            break
        await asyncio.sleep(0.5)
    connection.close()
    return shown


@dataclass
class Verdict:
    acknowledged: int = 0
    wrong_ids: int = 0
    lost: int = 0
    duplicated: int = 0


async def verify(port: int, api: Api, posts: list[Posted], database: Path) -> Verdict:
    verdict = Verdict()
    acknowledged = [p for p in posts if p.comment_id is not None]
    verdict.acknowledged = len(acknowledged)
    queue = list(acknowledged)

    async def reader() -> None:
        connection = Connection(port)
        while queue:
            posted = queue.pop()
            method, path, headers = api.read_back(posted)
            status, _, data = await connection.request(method, path, None, headers)
            if status != 200 or posted.text not in api.text_of(data):
                verdict.wrong_ids += 1
        connection.close()

    await asyncio.gather(*(reader() for _ in range(8)))
    stored: dict[str, int] = {}
    for text in api.stored_texts(database):
        stored[text] = stored.get(text, 0) + 1
    for posted in acknowledged:
        count = stored.get(posted.text, 0)
        verdict.lost += count == 0
        verdict.duplicated += count > 1
    return verdict


@dataclass
class Run:
    phases: dict[str, Phase] = field(default_factory=dict)
    verdict: Verdict | None = None
    rss_mib: float = 0.0
    pss_mib: float = 0.0
    thread_bytes: int = 0


async def measure(server: Server, api: Api, args: argparse.Namespace) -> Run:
    run = Run()
    await seed_thread(server.port, api)
    shown = await wait_for_thread(server.port, api, 2 * THREAD_ROOTS)
    if shown < 2 * THREAD_ROOTS:
        raise SystemExit(f"{api.name}: the popular page shows {shown} of {2 * THREAD_ROOTS}")
    posts: list[Posted] = []
    pages = [f"page-{i}" for i in range(PAGES)]
    for clients in args.clients if "post" in args.phases else ():
        texts: dict[tuple[int, int], str] = {}

        def post(index: int, n: int, clients: int = clients, texts: dict = texts
                 ) -> tuple[str, str, bytes | None, dict[str, str]]:  # fmt: skip
            text = f"Bench comment c{clients}-{index}-{n}: a thoughtful remark on the article."
            texts[index, n] = text
            method, path, body, headers = api.post(pages[(index * 7 + n) % PAGES], text)
            return method, path, body, headers

        def posted(index: int, n: int, status: int, headers: dict[str, str], data: bytes,
                   texts: dict = texts) -> None:  # fmt: skip
            posts.append(api.posted(texts.pop((index, n)), status, headers, data))

        print(f"  {api.name}: post, {clients} clients", flush=True)
        run.phases[f"post/{clients}"] = await drive(
            server, clients, args.seconds, args.warmup, post, posted
        )
    for clients in args.clients if "thread" in args.phases else ():
        print(f"  {api.name}: thread, {clients} clients", flush=True)

        def thread(index: int, n: int) -> tuple[str, str, bytes | None, dict[str, str]]:
            return (*api.thread(THREAD_KEY), {})

        run.phases[f"thread/{clients}"] = phase = await drive(
            server, clients, args.seconds, args.warmup, thread
        )
        run.thread_bytes = phase.response_bytes // max(1, phase.requests)
    for clients in args.clients if "counts" in args.phases else ():
        print(f"  {api.name}: counts, {clients} clients", flush=True)

        def counts(index: int, n: int) -> tuple[str, str, bytes | None, dict[str, str]]:
            return (*api.counts(pages), {})

        run.phases[f"counts/{clients}"] = await drive(
            server, clients, args.seconds, args.warmup, counts
        )
    run.rss_mib = process_tree_rss_mib(server.process.pid)
    run.pss_mib = process_tree_rss_mib(server.process.pid, "Pss:", "smaps_rollup")
    for process in process_tree(server.process.pid):
        print(f"  {api.name}: {describe_memory(process)}", flush=True)
    print(
        f"  {api.name}: reading back {sum(p.comment_id is not None for p in posts)} comments",
        flush=True,
    )
    run.verdict = await verify(server.port, api, posts, server.database)
    return run


# ---------------------------------------------------------------- the table


def table(runs: dict[str, Run], args: argparse.Namespace) -> str:
    names = list(runs)
    both = len(names) == 2
    header = ["", *names] + (["ours / Isso"] if both else [])
    rows: list[list[str]] = []

    def add(label: str, values: list[float], fmt: str, lower_is_better: bool = False) -> None:
        row = [label, *(fmt.format(v) for v in values)]
        if both:
            isso, ours = values[names.index("Isso")], values[names.index("ours")]
            row.append(f"{ours / isso:.2f}" if isso else "-")
        rows.append(row)

    titles = {"post": "POST a comment", "thread": "GET a 200-comment thread",
              "counts": f"counts of {PAGES} pages"}  # fmt: skip
    for kind in args.phases:
        for clients in args.clients:
            key = f"{kind}/{clients}"
            phases = [runs[n].phases[key] for n in names]
            add(f"{titles[kind]}, {clients} clients: req/s", [p.rate for p in phases], "{:.0f}")
            add("    p50 ms", [p.percentile(50) for p in phases], "{:.1f}")
            add("    p99 ms", [p.percentile(99) for p in phases], "{:.1f}")
            add("    server CPU ms per request", [p.cpu_ms_per_request for p in phases], "{:.1f}")
            # The client shares the machine's cores with the server it drives.
            add("    client CPU ms per request", [p.client_cpu_ms_per_request for p in phases],
                "{:.1f}")  # fmt: skip
            if any(p.errors for p in phases):
                add("    errors", [float(p.errors) for p in phases], "{:.0f}")
    add("thread response, KB", [runs[n].thread_bytes / 1000 for n in names], "{:.0f}")
    add("server RSS, MiB", [runs[n].rss_mib for n in names], "{:.0f}")
    add("    PSS (shared pages once), MiB", [runs[n].pss_mib for n in names], "{:.0f}")
    for label, attribute in (("POSTs acknowledged", "acknowledged"), ("wrong ids", "wrong_ids"),
                             ("lost", "lost"), ("stored twice", "duplicated")):  # fmt: skip
        values = [float(getattr(runs[n].verdict, attribute)) for n in names]
        row = [label, *(f"{v:.0f}" for v in values)] + ([""] if both else [])
        rows.append(row)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def phases(text: str) -> list[str]:
    """--phases: some of post, thread and counts, comma-separated."""
    chosen = text.split(",")
    unknown = set(chosen) - {"post", "thread", "counts"}
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown phases {sorted(unknown)}: post,thread,counts")
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured, per phase")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured, per phase")
    parser.add_argument("--clients", type=lambda s: [int(c) for c in s.split(",")], default=[8, 32])
    parser.add_argument("--scorer", default="auto", help="MODERATION_SCORER for ours")
    parser.add_argument("--only", choices=["ours", "isso"])
    parser.add_argument("--phases", type=phases,
                        default=["post", "thread", "counts"],
                        help="some of post,thread,counts (default: all three)")  # fmt: skip
    parser.add_argument("--web-processes", type=int, default=None,
                        help="MODERATION_WEB_PROCESSES for ours (default: make run's)")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the databases and logs")
    parser.add_argument("--connection-per-request", action="store_true",
                        help="a new connection for each request (default: keep-alive)")  # fmt: skip
    args = parser.parse_args()
    global KEEP_ALIVE
    KEEP_ALIVE = not args.connection_per_request

    workdir = Path(tempfile.mkdtemp(prefix="http-vs-isso-"))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    processes = args.web_processes or f"unset: make run uses {min(2, cores or 1)} on {cores} cores"
    print(f"work folder: {workdir}")
    print(
        f"ours: `make run` (MODERATION_SCORER={args.scorer}, SQLite, "
        f"MODERATION_WEB_PROCESSES={processes}, "
        "MODERATION_RATELIMIT_ENABLED=false: rate limits off); "
        f"Isso {ISSO_VERSION}: gunicorn --workers 2, SQLite, moderation off, "
        "guard (rate limits) off"
    )
    print(f"{args.seconds:g} s per phase after {args.warmup:g} s warm-up; "
          f"clients: {args.clients}, "
          f"{'each keeping its connection' if KEEP_ALIVE else 'a connection per request'}; "
          f"machine: {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} at start")  # fmt: skip
    runs: dict[str, Run] = {}
    order = [("isso", start_isso, IssoApi()), ("ours", start_ours, OurApi())]
    for key, _start, api in order:
        if args.only and args.only != key:
            continue
        print(f"starting {api.name} ...", flush=True)
        server = (
            start_ours(workdir, args.scorer, args.web_processes)
            if key == "ours"
            else start_isso(workdir)
        )
        try:
            runs[api.name] = asyncio.run(measure(server, api, args))
        finally:
            server.stop()
            if key == "ours":
                for line in server.log.read_text(errors="replace").splitlines():
                    if "scoring with" in line:
                        print(f"  ours: {line.split(': ', 1)[-1]}")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    print(table(runs, args))
    if not args.keep:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
