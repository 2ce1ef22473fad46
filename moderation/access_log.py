"""gunicorn's access log, written for less: the same line, built from the few fields it
shows.

gunicorn formats each access line from a dictionary of every field any format could ask
for (each request and response header, each WSGI environ variable), about a tenth of the
server's CPU for a cheap request such as the comment counts (README, Performance). With
gunicorn's default format, the one `make run` uses, this logger writes the identical
line from those fields alone; any other ``access_log_format`` is left to gunicorn. (The
record's ``args`` are then the line's fields in order, not gunicorn's dictionary: a
logging configuration that reads ``record.args["s"]`` needs gunicorn's logger.)"""

from __future__ import annotations

import time
import traceback
from datetime import timedelta
from typing import Any

from gunicorn import glogging
from gunicorn.config import AccessLogFormat


class AccessLog(glogging.Logger):  # type: ignore[misc] # gunicorn has no type hints
    """gunicorn's ``logger_class`` for `make run` (config/gunicorn.conf.py)."""

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        if self.cfg.access_log_format != AccessLogFormat.default:
            super().access(resp, req, environ, request_time)
            return
        if not self.access_log_enabled:
            return
        try:
            status = resp.status
            if isinstance(status, str):
                status = status.split(None, 1)[0]
            sent = getattr(resp, "sent", None)
            # '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"', each text
            # with its double quotes escaped as gunicorn's SafeAtoms does.
            self.access_log.info(
                '%s - %s %s "%s %s %s" %s %s "%s" "%s"',
                *(
                    value.replace('"', '\\"') if isinstance(value, str) else value
                    for value in (
                        environ.get("REMOTE_ADDR", "-"),
                        self._get_user(environ) or "-",
                        time.strftime("[%d/%b/%Y:%H:%M:%S %z]"),
                        environ["REQUEST_METHOD"],
                        environ["RAW_URI"],
                        environ["SERVER_PROTOCOL"],
                        status,
                        str(sent) if sent is not None else "-",
                        environ.get("HTTP_REFERER", "-"),
                        environ.get("HTTP_USER_AGENT", "-"),
                    )
                ),
            )
        except Exception:
            self.error(traceback.format_exc())
