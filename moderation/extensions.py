"""Flask extensions, created unbound and bound to an application in ``wiring.init_app``."""

from __future__ import annotations

import math
import time

from flask import Response
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf import CSRFProtect

login_manager = LoginManager()
csrf = CSRFProtect()
# Limits are declared on the views that need them (posting, flagging, signing in...);
# storage comes from RATELIMIT_STORAGE_URI (memory:// by default, redis://... to share).
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def retry_after_seconds() -> int | None:
    """How long the request's breached rate limit still refuses: the real wait rounded
    up, at least 1 second. None when no limit applied to the request."""
    current = limiter.current_limit
    if current is None:
        return None
    return max(1, math.ceil(current.window.reset_time - time.time()))


def retry_after_header(response: Response) -> Response:
    """A 429's ``Retry-After``: the wait, rounded up. Flask-Limiter writes ``int(reset -
    now)``, which a wait under a second (a limit per second, the end of any window) makes
    ``Retry-After: 0``, and clients retry at once. Registered before the limiter, so that
    it runs after the limiter's own after-request hook (Flask runs them in reverse)."""
    if response.status_code == 429:
        try:
            seconds = retry_after_seconds()
        except Exception:  # storage unreachable: the limiter's own value stands
            return response
        if seconds is not None:
            response.headers["Retry-After"] = str(seconds)
    return response
