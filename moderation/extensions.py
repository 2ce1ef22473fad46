"""Flask extensions, created unbound and bound to an application in ``wiring.init_app``."""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf import CSRFProtect

login_manager = LoginManager()
csrf = CSRFProtect()
# Limits are declared on the views that need them (posting, flagging, signing in...);
# storage comes from RATELIMIT_STORAGE_URI (memory:// by default, redis://... to share).
limiter = Limiter(key_func=get_remote_address, default_limits=[])
