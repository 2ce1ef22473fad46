"""Committed defaults. Every key can be overridden by an environment variable
``MODERATION_<KEY>`` (values are parsed as JSON when they look like JSON), and tests
pass a mapping to ``create_app``. Secrets never live here."""

# SQLite in the instance folder unless MODERATION_DATABASE_URL says otherwise.
DATABASE_URL = "sqlite:///moderation.db"

# Signs sessions and keys the hash of client IPs. Set MODERATION_SECRET_KEY in
# production; when unset, a random key is generated once into instance/secret_key.
SECRET_KEY = None

# Which scorer scores comments: "auto" (the ONNX model if ONNX_MODEL_DIR is set, else
# Detoxify if its weights can be had, else "lite" with a warning), "lite" (embedded,
# offline), "detoxify" or "onnx". An explicit name fails at start-up rather than fall back.
SCORER = "auto"
# Detoxify: model type (original, unbiased, multilingual, original-small, unbiased-small).
# Offline, the operator supplies the checkpoint (.ckpt, a pickle: only this file is loaded)
# and the base model's config.json + tokenizer files.
DETOXIFY_MODEL = "original"
DETOXIFY_CHECKPOINT = None
DETOXIFY_CONFIG_DIR = None
DETOXIFY_DEVICE = "cpu"
# A folder written by `flask moderation model export-onnx --out DIR [--int8]`.
ONNX_MODEL_DIR = None
# Texts per model call (length buckets) and onnxruntime threads (None: all cores).
SCORER_BATCH_SIZE = 16
SCORER_THREADS = None

# How long the submit request may spend scoring inline before answering `pending`.
SCORE_BUDGET_MS = 300

# The worker thread inside a web process (`make run`: in one of its web processes).
# Production runs `flask moderation worker` processes instead and sets this to false.
WORKER_IN_PROCESS = True
WORKER_BATCH_SIZE = 32
WORKER_POLL_SECONDS = 0.5
# A claimed comment goes back to the pool when its worker has not finished it by then.
WORKER_LEASE_SECONDS = 60
# After this many failed scoring attempts a comment is held for a moderator.
WORKER_MAX_ATTEMPTS = 5

# Webhooks: the workers deliver them. Loopback, link-local and private addresses are
# refused (a webhook must not reach the service's own network) unless this is true.
WEBHOOK_ALLOW_PRIVATE = False

# Mail to moderators about held comments (each chooses immediate, hourly, daily or off on
# "My notifications"). SMTP_URL: smtp://host:port, smtps://host (TLS from the start) or
# smtp+starttls://host:587; a user and password in the URL, or in SMTP_USER/SMTP_PASSWORD.
# Unset: mail is written to the log instead of sent.
SMTP_URL = None
SMTP_USER = None
SMTP_PASSWORD = None
SMTP_TIMEOUT_SECONDS = 10
MAIL_FROM = "moderation@localhost"
# The service's address as moderators' browsers reach it: the links in mails start with it.
PUBLIC_URL = "http://127.0.0.1:5000"

# Largest request body accepted (413 above it). Field limits live in moderation/api/schemas.py.
MAX_CONTENT_LENGTH = 64 * 1024

# Number of reverse proxies in front of the service whose X-Forwarded-For is trusted.
TRUSTED_PROXIES = 0

# The demo site `make run` creates.
DEMO_SITE_SLUG = "demo"
DEMO_SITE_ORIGINS = ["http://localhost:*", "http://127.0.0.1:*"]

# Suspect words a new site starts with: none. Threats, veiled threats, insults aimed at
# someone and attacks on groups are rules of the policy (services/targeting.py) that look at
# who is targeted; the single words that used to stand in for them ("kill", "die",
# "shoot"…) held reports of wars and films and bought nothing the rules miss (README,
# "How well it moderates"). Sites add their own phrases and /patterns/.
DEFAULT_SUSPECT_WORDS: list[str] = []

# Replies nest at most this deep (deeper chains would only be unreadable, and JSON
# encoders have recursion limits).
MAX_REPLY_DEPTH = 200

# Rendered thread pages (GET .../comments), kept by the thread's version so that a change
# is seen by the next read: in each process's memory (THREAD_CACHE_BYTES of them), or in
# Redis when CACHE_URL is set (redis://127.0.0.1:6379/0), shared by every web process and
# instance, each page for THREAD_CACHE_SECONDS.
CACHE_URL = None
THREAD_CACHE_BYTES = 16 * 1024 * 1024
THREAD_CACHE_SECONDS = 600
# The public API takes each site (its policy, its origins) from the process's memory: a
# change made through another process (another web process, the command line) takes
# effect within this many seconds; one made in the same process at once. 0: no cache.
SITE_CACHE_SECONDS = 1.0
# The comment counts of a set of pages are kept by each web process until its next commit
# that writes comments, threads or sites: one made by another process (unless it shares
# COMMIT_COUNT_FILE) is seen within this many seconds. 0: no cache.
COUNTS_CACHE_SECONDS = 1.0
# A file through which the processes of one server count those commits together, so that
# each one's counts see the others' commits at once (`make run` sets it for its web
# processes; db.SharedCount). None: each process counts its own.
COMMIT_COUNT_FILE = None

# Rate limits (Flask-Limiter): in memory for one process; `make run` points its web
# processes at a file they share (config/gunicorn.conf.py, extensions.SQLiteStorage); set
# MODERATION_RATELIMIT_STORAGE=redis://127.0.0.1:6379 when several machines serve.
RATELIMIT_STORAGE = "memory://"
RATELIMIT_ENABLED = True
# A rate-limit storage error lets the request through (logged) instead of failing it:
# limits 5.8.0's memory storage can race when two threads start its expiry timer at once
# (fixed upstream in alisaifee/limits#352, not yet released).
RATELIMIT_SWALLOW_ERRORS = True

# Moderator sessions: cookies are HttpOnly and SameSite=Lax; Secure is set per request
# when it arrived over https (see moderation/wiring.py).
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
REMEMBER_COOKIE_HTTPONLY = True
REMEMBER_COOKIE_SAMESITE = "Lax"

# The Perspective-compatible API (/perspective/v1alpha1). With batching on, concurrent
# requests are scored together in one model call per process (up to this many texts).
# Off by default: on CPUs it gave no gain (bench/perspective_load.py, docs/perspective.md);
# it is meant for a GPU (MODERATION_DETOXIFY_DEVICE=cuda), where batches are what is fast.
PERSPECTIVE_BATCHING = False
PERSPECTIVE_MAX_BATCH = 64

# The comment widget (/embed.js) and the public API it calls. Rate limits count per client
# address and site (Flask-Limiter syntax; storage is RATELIMIT_STORAGE above).
RATELIMIT_POST = "10/minute;60/hour"  # posting, editing and deleting comments
RATELIMIT_CHECK = "30/minute;300/hour"  # checking drafts before posting
RATELIMIT_FLAG = "10/minute;60/hour"  # readers' reports
# The confirm and unsubscribe links of readers' mail (/replies/…), per client address.
RATELIMIT_MAIL_LINKS = "30/minute;300/hour"
# How long an author may edit or delete their comment (with its author token).
AUTHOR_EDIT_WINDOW_SECONDS = 15 * 60
# Checking a draft warns when a label reaches its warn threshold: the site's
# thresholds[label]["warn"], else this mapping's value for the label (label -> score,
# null: no warning), else the label's hold threshold.
DRAFT_WARN_THRESHOLDS: dict[str, float | None] = {}
# How long checking a draft may take before it answers 503 (the widget then posts
# without a warning; the comment is still scored and moderated).
DRAFT_CHECK_BUDGET_MS = 2000

# When the database is unreachable (restarting, failing over, SQLite locked past the busy
# timeout) requests answer 503 with this Retry-After; nothing of theirs was stored.
DATABASE_RETRY_AFTER_SECONDS = 2

# A moderator's sign-in lasts at most this long (then they sign in again), whatever the
# browser keeps: a copied session cookie stops working by itself.
SESSION_LIFETIME_DAYS = 30

# Learning each site's standards from its moderators (README, "Learning from your
# moderators"). The workers learn again for a site after every LEARN_EVERY actions of its
# moderators (0: only `flask moderation learn`), looking at most every LEARN_CHECK_SECONDS.
# Nothing is fitted with fewer than LEARN_MIN_DECISIONS approvals, or as few hides; a fit
# goes live only if, cross-validated, it is no worse than the thresholds on both counts
# (held-then-approved; recall of the hidden ones, LEARN_RECALL_TOLERANCE lower counting as
# equal) and better on one (fewer held-then-approved, or recall higher by more than that).
LEARN_EVERY = 50
LEARN_CHECK_SECONDS = 60
LEARN_MIN_DECISIONS = 50
LEARN_RECALL_TOLERANCE = 0.02

# The worker deletes, once an hour, what is only kept for a while and is older than this
# many days: finished webhook deliveries and moderators' mails, dispatched events, ended
# sign-ins, expired idempotency keys (services/retention.py lists what stays for good).
# 0: keep everything. `flask moderation prune` runs the same pass by hand.
RETENTION_DAYS = 90
