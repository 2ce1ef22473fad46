"""The access log `make run` writes (config/gunicorn.conf.py's logger_class) is gunicorn's
own line, character for character, for any request, and a custom format is gunicorn's."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from gunicorn import glogging
from gunicorn.config import Config

from moderation.access_log import AccessLog


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def access_line(logger_class: type[glogging.Logger], config: Config, environ: dict[str, Any],
                status: str, sent: int | None) -> str:  # fmt: skip
    logger = logger_class(config)
    lines = Lines()
    logger.access_log.addHandler(lines)
    try:
        response = SimpleNamespace(status=status, sent=sent, headers=[("Content-Type", "x")])
        request = SimpleNamespace(headers=[("HOST", "example.org")])
        logger.access(response, request, environ, timedelta(milliseconds=12))
    finally:
        logger.access_log.removeHandler(lines)
    [line] = lines.lines
    return line


ENVIRONS = [
    {"REMOTE_ADDR": "127.0.0.1", "REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1",
     "RAW_URI": "/api/v1/sites/blog/counts?thread=a&thread=b"},
    {"REMOTE_ADDR": "10.0.0.7", "REQUEST_METHOD": "POST", "SERVER_PROTOCOL": "HTTP/1.0",
     "RAW_URI": '/api/v1/sites/blog/comments?q="quoted"', "HTTP_REFERER": "https://blog.example/",
     "HTTP_USER_AGENT": 'Mozilla/5.0 "with quotes"',
     "HTTP_AUTHORIZATION": "Basic bW9kZXJhdG9yOnNlY3JldA=="},
    {"REQUEST_METHOD": "HEAD", "SERVER_PROTOCOL": "HTTP/1.1", "RAW_URI": "/healthz"},
]  # fmt: skip


@pytest.mark.parametrize("environ", ENVIRONS)
@pytest.mark.parametrize(("status", "sent"), [("200 OK", 1234), ("304 Not Modified", None)])
def test_the_access_line_is_gunicorns_own(
    environ: dict[str, Any], status: str, sent: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(time, "strftime", lambda fmt: "[30/Nov/2026:09:00:00 +0000]")
    config = Config()
    config.set("accesslog", "-")
    ours = access_line(AccessLog, config, environ, status, sent)
    assert ours == access_line(glogging.Logger, config, environ, status, sent)
    assert environ["RAW_URI"].replace('"', '\\"') in ours


def test_a_custom_format_is_left_to_gunicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    config = Config()
    config.set("accesslog", "-")
    config.set("access_log_format", "%(m)s %(U)s took %(M)sms for %({host}i)s")
    line = access_line(AccessLog, config, ENVIRONS[0] | {"PATH_INFO": "/x"}, "200 OK", 5)
    assert line == "GET /x took 12ms for example.org"


def test_no_access_log_writes_nothing() -> None:
    logger = AccessLog(Config())  # gunicorn's default: no access log
    lines = Lines()
    logger.access_log.addHandler(lines)
    response = SimpleNamespace(status="200 OK", sent=1, headers=[])
    logger.access(response, SimpleNamespace(headers=[]), ENVIRONS[0], timedelta(0))
    logger.access_log.removeHandler(lines)
    assert lines.lines == []
