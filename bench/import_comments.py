"""Importing a large WordPress export: rate and peak memory of `flask moderation import`.

Writes a threaded WXR file (``--comments``, default 100,000, on ``--posts`` posts; half
the comments reply to an earlier comment of their post, some several levels deep; a few
unapproved, spam and pingbacks; two paragraphs each, one in five with a link or
emphasis) in a temporary folder, builds an empty database there
(SQLite, or ``--database-url``), and runs the real command in a child process:

    flask moderation import wxr FILE --site demo --no-score

It prints the command's closing lines, its rate (comments/s, wall clock of the child),
and the child's peak RSS (``getrusage(RUSAGE_CHILDREN).ru_maxrss``). Run it at two sizes
to see the reader stream: peak RSS should barely move.

    .venv/bin/python bench/import_comments.py [--comments 100000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

REPO = Path(__file__).resolve().parent.parent
WORDS = ("thanks great post I think the point about this is wrong right interesting "
         "agree disagree because however really good question answer why how").split()  # fmt: skip


def markup(rng: random.Random, post: int) -> str:
    """Most comments are plain text with paragraphs; one in five has a link or emphasis."""
    roll = rng.random()
    if roll < 0.1:
        return f'\n\nsee <a href="https://example.org/{post}">this</a>'
    if roll < 0.2:
        return f"\n\n<em>really</em>, post {post}"
    return f"\n\nsecond paragraph of {post}"


def write_wxr(path: Path, comments: int, posts: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    start = datetime(2014, 1, 1, tzinfo=UTC)
    per_post = max(1, comments // posts)
    written = 0
    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
                  'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
                  'xmlns:wp="http://wordpress.org/export/1.2/">\n<channel>\n'
                  "<title>Bench blog</title>\n<wp:wxr_version>1.2</wp:wxr_version>\n")  # fmt: skip
        post = 0
        while written < comments:
            post += 1
            link = f"https://blog.example/{2014 + post % 10}/post-{post}/"
            out.write(f"<item><title>Post {post} – ünïcode</title><link>{link}</link>"
                      f"<wp:post_id>{post}</wp:post_id>"
                      "<wp:post_type>post</wp:post_type>\n")  # fmt: skip
            ids: list[int] = []
            for _ in range(min(per_post, comments - written)):
                written += 1
                comment_id = written
                parent = rng.choice(ids) if ids and rng.random() < 0.5 else 0
                ids.append(comment_id)
                roll = rng.random()
                approved = "1" if roll < 0.9 else "0" if roll < 0.96 else "spam"
                kind = "pingback" if rng.random() < 0.01 else ""
                text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 60)))
                date = start + timedelta(minutes=comment_id)
                out.write(
                    "<wp:comment>"
                    f"<wp:comment_id>{comment_id}</wp:comment_id>"
                    f"<wp:comment_author>Reader {rng.randint(1, 5000)}</wp:comment_author>"
                    f"<wp:comment_author_email>r{comment_id}@example.org</wp:comment_author_email>"
                    f"<wp:comment_author_IP>192.0.2.{comment_id % 250}</wp:comment_author_IP>"
                    f"<wp:comment_date_gmt>{date:%Y-%m-%d %H:%M:%S}</wp:comment_date_gmt>"
                    f"<wp:comment_content><![CDATA[{escape(text)}{markup(rng, post)}]]>"
                    "</wp:comment_content>"
                    f"<wp:comment_approved>{approved}</wp:comment_approved>"
                    f"<wp:comment_type>{kind}</wp:comment_type>"
                    f"<wp:comment_parent>{parent}</wp:comment_parent>"
                    "</wp:comment>\n"
                )
            out.write("</item>\n")
        out.write("</channel>\n</rss>\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--comments", type=int, default=100_000)
    parser.add_argument("--posts", type=int, default=1_000)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        export = Path(folder) / "export.xml"
        began = time.perf_counter()
        write_wxr(export, args.comments, args.posts)
        size = export.stat().st_size / 1e6
        print(f"wrote {args.comments} comments on {args.posts} posts: {size:.1f} MB "
              f"in {time.perf_counter() - began:.1f} s")  # fmt: skip
        env = dict(os.environ, FLASK_APP="app", MODERATION_WORKER_IN_PROCESS="false",
                   MODERATION_SQLALCHEMY_DATABASE_URI=args.database_url
                   or f"sqlite:///{Path(folder) / 'bench.db'}")  # fmt: skip
        flask = [sys.executable, "-m", "flask"]
        for step in (["db", "upgrade"], ["moderation", "bootstrap"]):
            subprocess.run([*flask, *step], env=env, cwd=REPO, check=True,  # noqa: S603
                           capture_output=True)  # fmt: skip
        # A wrapper process whose only child is the import: its RUSAGE_CHILDREN is the
        # import's own peak RSS, not the migration's.
        wrapper = (
            "import resource, subprocess, sys, time\n"
            "t = time.perf_counter()\n"
            "code = subprocess.run(sys.argv[1:]).returncode\n"
            "print(f'@@ {time.perf_counter() - t:.3f} '\n"
            "      f'{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}', flush=True)\n"
            "sys.exit(code)\n"
        )
        command = [*flask, "moderation", "import", "wxr", str(export), "--site", "demo",
                   "--no-score"]  # fmt: skip
        done = subprocess.run([sys.executable, "-c", wrapper, *command], env=env, cwd=REPO,  # noqa: S603
                              capture_output=True, text=True)  # fmt: skip
        if done.returncode != 0:
            sys.exit(f"import failed:\n{done.stdout}\n{done.stderr[-2000:]}")
        lines = [line for line in done.stdout.splitlines() if not line.startswith("@@")]
        seconds, peak_kib = done.stdout.split("@@ ")[1].split()
        imported = int(lines[0].split()[1])
        print("\n".join(lines))
        backend = "postgresql" if args.database_url else "sqlite"
        print(f"{backend}: {imported} comments in {float(seconds):.1f} s (whole command) = "
              f"{imported / float(seconds):.0f} comments/s; "
              f"peak RSS {int(peak_kib) / 1024:.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
