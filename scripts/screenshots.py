"""Screenshots of the moderator pages for the README.

Seeds a demo database (two sites, three threads with replies, real toxic comments from
../shared/data/toxicity scored by the lite model through the worker, reader reports and
two weeks of moderators' decisions), serves the application on a free loopback port,
signs in with Debian's Chromium and saves docs/screenshots/queue.png, item.png and
dashboard.png.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--database demo.db]

Without --database the demo database lives in a temporary folder and is thrown away.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from flask import Flask  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from app import create_app  # noqa: E402
from moderation.current_scorer import get_scorer  # noqa: E402
from moderation.db import db  # noqa: E402
from moderation.models import Comment, Moderator  # noqa: E402
from moderation.services import comments, flags, moderators, review, sites, worker  # noqa: E402
from moderation.services.review import Action  # noqa: E402
from moderation.types import FlagReason, Role, utcnow  # noqa: E402

TOXICITY = REPO.parent / "shared" / "data" / "toxicity"
CHROMIUM = "/usr/bin/chromium"
ADMIN, MODERATOR, PASSWORD = "ada@harbourtimes.example", "bo@harbourtimes.example", "demo-password"

# Real Jigsaw rows (Wikipedia talk-page comments, CC0/CC BY-SA), by their ids.
JIGSAW_TRAIN = {
    "fool": "00afb4dec99a231f",
    "shut_up_kid": "0036621e4c7e10b5",
    "lazy_wimp": "00686325bcc16080",
    "bias": "00ab65775c601cf9",
    "tosser": "0007e25b2121310b",
    "last_warning": "003217c3eb469ba9",
    "lawyers": "00637960a7ec3436",
}


def jigsaw_texts() -> dict[str, str]:
    wanted = {row_id: key for key, row_id in JIGSAW_TRAIN.items()}
    found: dict[str, str] = {}
    with open(TOXICITY / "detoxify_jigsaw_dummy_train.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["id"] in wanted:
                found[wanted[row["id"]]] = row["comment_text"].strip().strip('"').strip()
    with open(TOXICITY / "ibm_max_jigsaw_test_examples.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["comment_text"].startswith("if you don't know any better then shut up"):
                found["know_better"] = row["comment_text"].strip()
    missing = {*JIGSAW_TRAIN, "know_better"} - found.keys()
    if missing:
        raise SystemExit(f"rows missing from {TOXICITY}: {sorted(missing)}")
    return found


THREADS = {
    # key: (site, title, url)
    "council-budget": (
        "harbour-times",
        "Council budget: where the 4% rates rise goes",
        "https://harbourtimes.example/2026/council-budget",
    ),
    "ferry-timetable": (
        "harbour-times",
        "Evening ferry sailings cut from March",
        "https://harbourtimes.example/2026/ferry-timetable",
    ),
    "sourdough-starter": (
        "kitchen-notes",
        "A sourdough starter in five days",
        "https://kitchennotes.example/sourdough-starter",
    ),
}


@dataclass
class Post:
    key: str
    thread: str
    author: str
    body: str
    parent: str | None = None


@dataclass
class Report:
    key: str
    reason: FlagReason
    note: str | None = None


@dataclass
class Decision:
    who: str
    keys: list[str]
    action: Action
    reason: str | None = None


def timeline(toxic: dict[str, str]) -> list[tuple[float, Post | Report | Decision]]:
    """(days ago, event), oldest first."""
    budget, ferry, bread = "council-budget", "ferry-timetable", "sourdough-starter"
    return [
        (13.6, Post("b1", budget, "Alan Whitcombe", "Four percent on top of last year's six. "
                    "Pensioners on the east side are going to feel this.")),
        (13.5, Post("b2", budget, "Priya Nair", "The breakdown in the article helps, though: "
                    "most of it is the **sea wall repairs**, which have to happen.", "b1")),
        (13.4, Post("b10", budget, "Kate Munro", "My mother is on the east side and she's "
                    "already had to give up the car.", "b1")),
        (13.2, Post("b6", budget, "Lena Fischer", "Could the Times publish the full budget "
                    "document? The summary leaves out the harbour dredging contract.")),
        (12.7, Post("b3", budget, "Tom Reilly", toxic["fool"], "b2")),
        (12.6, Post("b7", budget, "Pieter Smit (Harbour Times)", "We've added a link to the "
                    "full PDF at the bottom of the article.", "b6")),
        (12.4, Post("b5", budget, "sam_w", toxic["shut_up_kid"])),
        (12.1, Decision(MODERATOR, ["b3"], Action.APPROVE, "harsh but about the figures")),
        (12.05, Decision(MODERATOR, ["b5"], Action.HIDE, "personal attack")),
        (11.5, Post("b4", budget, "Priya Nair", "Happy to be corrected: which figure do you "
                    "think is wrong?", "b2")),
        (11.3, Report("b3", FlagReason.ABUSIVE, "calls another reader a fool")),
        (11.2, Report("b3", FlagReason.OFFENSIVE)),
        (11.1, Report("b3", FlagReason.ABUSIVE, "not the first time")),
        (10.8, Post("b8", budget, "Marco", toxic["bias"], "b7")),
        (10.2, Decision(MODERATOR, ["b8"], Action.HIDE, "off topic, abusive")),
        (9.7, Post("a1", ferry, "Marta Kowalski", "I take the 21:40 back from the mainland "
                   "twice a week after my shift. With that gone I'm looking at a taxi fare "
                   "I can't afford.")),
        (9.6, Post("a2", ferry, "Dev Patel", "Same here. Did the operator say why? The "
                   "evening boats always look full to me.", "a1")),
        (9.5, Post("a3", ferry, "Pieter Smit (Harbour Times)", "According to the "
                   "consultation paper it's crew hours, not passenger numbers. Page 14 has "
                   "the figures.", "a2")),
        (9.4, Post("a4", ferry, "Jonas Berg", "Has anyone started a petition? I'd sign it "
                   "today.")),
        (9.3, Post("a5", ferry, "Ruth Okafor", "There's one on the council site, about 800 "
                   "signatures so far.", "a4")),
        (9.0, Post("a7", ferry, "Gwen Harris", "The 07:10 is already standing room only. "
                   "Cutting evenings will push even more people onto the morning boats.")),
        (8.6, Post("a6", ferry, "anon1987", toxic["lazy_wimp"], "a3")),
        (8.4, Post("a8", ferry, "Ewan Doyle", "Agreed, this piece is lazy. Where is the "
                   "operator's side of it?")),
        (8.1, Decision(ADMIN, ["a6"], Action.HIDE, "personal attack on staff")),
        (7.9, Decision(ADMIN, ["a8"], Action.APPROVE, "criticism of the article is fine")),
        (7.6, Post("c1", bread, "Hannah Lee", "Day three and mine smells like nail polish "
                   "remover. Is that normal?")),
        (7.5, Post("c2", bread, "Aisha (author)", "Completely normal: it's hungry. Feed it "
                   "twice a day for a couple of days and the smell goes.", "c1")),
        (7.3, Post("c4", bread, "Oliver Grant", "Rye flour made a huge difference for me, it "
                   "got going in half the time.")),
        (7.1, Post("c5", bread, "BestDeals", "Great recipe!! Get replica watches at 90% off, "
                   "visit my profile")),
        (6.9, Post("c9", bread, "Fatima Zahra", "Could you do a version for gluten-free "
                   "flour?")),
        (6.6, Decision(ADMIN, ["c5"], Action.HIDE, "spam")),
        (6.2, Post("c3", bread, "Hannah Lee", "That fixed it, thank you! Baked my first loaf "
                   "on Sunday.", "c2")),
        (6.1, Post("c7", bread, "Paul Mercer", "Do you mix rye and white or go all rye?", "c4")),
        (6.0, Post("c8", bread, "Oliver Grant", "Half and half for the first week, then all "
                   "white.", "c7")),
        (5.8, Post("c6", bread, "Nina", toxic["tosser"], "c9")),
        (5.1, Post("a9", ferry, "Ferry Watcher", "I hope the ferry sinks with the whole board "
                   "on it.")),
        (4.9, Report("a9", FlagReason.ABUSIVE, "wishing people dead")),
        (4.8, Report("a9", FlagReason.ABUSIVE)),
        (4.6, Report("a9", FlagReason.OTHER, "this is a threat")),
        (4.2, Decision(MODERATOR, ["a9"], Action.HIDE, "threat")),
        (3.9, Decision(ADMIN, ["c6"], Action.HIDE, "insult")),
        (3.5, Post("b11", budget, "Gareth Price", toxic["lawyers"])),
        (3.4, Post("b9", budget, "Rob Dunn", toxic["know_better"], "b4")),
        (3.3, Post("b12", budget, "Alan Whitcombe", "The sea wall is the one thing everyone "
                   "agrees on. It's the consultants' fees I'd like explained.", "b2")),
        (2.9, Report("b11", FlagReason.SPAM)),
        (2.8, Report("b11", FlagReason.OTHER, "shouting, threatens legal action")),
        (2.6, Report("b11", FlagReason.OFFENSIVE)),
        (2.4, Post("c10", bread, "starter_hater", toxic["last_warning"])),
        (2.2, Post("c11", bread, "Lucía Romero", "Mine rose beautifully with the 1:5:5 "
                   "feeding. Thanks for the clear photos.")),
        (1.8, Post("a10", ferry, "Dev Patel", "Update: the council meets the operator on the "
                   "14th. Worth writing to your councillor before then.", "a4")),
        (1.5, Post("a11", ferry, "harbour_rat", "so... where's jazza and his footballing "
                   "pigs")),
        (1.1, Decision(MODERATOR, ["a11"], Action.APPROVE, "nonsense but harmless")),
        (0.9, Post("b13", budget, "Sam Whitfield", "You are a clown and your opinion is "
                   "worthless", "b12")),
        (0.5, Post("b14", budget, "Mei Chen", "The council's own FAQ says the rise is "
                   "capped at 4% for three years. Good to have it in writing.", "b6")),
        (0.2, Post("a12", ferry, "Jonas Berg", "Go back to school, moron.", "a8")),
    ]  # fmt: skip


def seed(session: Session) -> dict[str, Comment]:
    """Run the timeline through the services, with the clock set to each event's time."""
    now = utcnow()
    scorer = get_scorer()
    news, _ = sites.ensure_site(session, "harbour-times", "The Harbour Times",
                                ["https://harbourtimes.example"])  # fmt: skip
    sites.ensure_site(session, "kitchen-notes", "Kitchen Notes", ["https://kitchennotes.example"],
                      suspect_words=["replica", "casino"])  # fmt: skip
    people: dict[str, Moderator] = {}
    people[ADMIN], _ = moderators.ensure_admin(session, ADMIN, PASSWORD)
    people[MODERATOR], _ = moderators.create_moderator(
        session, MODERATOR, Role.MODERATOR, [news], PASSWORD
    )
    session.commit()

    posted: dict[str, Comment] = {}
    for days_ago, event in timeline(jigsaw_texts()):
        at = now - timedelta(days=days_ago)
        if isinstance(event, Post):
            _, title, url = THREADS[event.thread]
            parent = posted[event.parent] if event.parent else None
            comment = comments.submit(
                session,
                site_slug=THREADS[event.thread][0],
                thread_key=event.thread,
                thread_title=title,
                thread_url=url,
                author_name=event.author,
                body=event.body,
                now=at,
                parent_id=parent.id if parent else None,
            )
            session.commit()
            posted[event.key] = comment
            scored_at = at + timedelta(seconds=2)
            worker.process_batch(session, scorer, "screenshots", batch_size=10,
                                 lease_seconds=60, max_attempts=3,
                                 clock=lambda moment=scored_at: moment)  # fmt: skip
        elif isinstance(event, Report):
            flags.flag_comment(session, posted[event.key].id, event.reason, event.note,
                               None, at)  # fmt: skip
            session.commit()
        else:
            person = people[event.who]
            targets = [(posted[k].id, posted[k].version) for k in event.keys]
            review.decide(session, person, review.scope_of(person), targets, event.action, at,
                          reason=event.reason)  # fmt: skip
            session.commit()
    return posted


def demo_app(database: Path) -> Flask:
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
            "SECRET_KEY": "screenshots-only",
            "WORKER_IN_PROCESS": False,
            "SCORER": "lite",
            "RATELIMIT_ENABLED": False,
        }
    )


def sign_in(page: Page, base: str) -> None:
    page.goto(base + "/moderation/login")
    page.get_by_label("Email").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base + "/moderation/")


def open_details(page: Page) -> None:
    for summary in page.locator("main details > summary").all():
        summary.click()


def take(base: str, out: Path, item: Comment) -> list[str]:
    """Save the three screenshots; returns the console errors the pages logged."""
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        sign_in(page, base)
        page.screenshot(path=out / "queue.png", full_page=True)
        page.goto(f"{base}/moderation/comments/{item.id}")
        open_details(page)
        page.screenshot(path=out / "item.png", full_page=True)
        page.goto(base + "/moderation/dashboard")
        page.screenshot(path=out / "dashboard.png", full_page=True)
        browser.close()
    return errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--database", type=Path, help="keep the demo database here")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory() as scratch:
        database = (args.database or Path(scratch) / "demo.db").resolve()
        database.unlink(missing_ok=True)
        app = demo_app(database)
        with app.app_context():
            db.create_all()
            posted = seed(db.session)  # type: ignore[arg-type]
            item = posted["b3"]  # held, approved, reported again: a long history
            server = make_server("127.0.0.1", 0, app, threaded=True)
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            try:
                errors = take(f"http://127.0.0.1:{server.server_port}", args.out, item)
            finally:
                server.shutdown()
                db.session.remove()
                db.engine.dispose()
    for name in ("queue.png", "item.png", "dashboard.png"):
        print(args.out / name)
    if errors:
        raise SystemExit("console errors:\n" + "\n".join(errors))


if __name__ == "__main__":
    main()
