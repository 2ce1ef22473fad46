"""Outbound HTTP to addresses people configure (webhooks): only to public addresses unless
allowed, only to the very address that was checked, and within a total deadline.

Checking a host's addresses and then letting an HTTP client resolve it again would let a
DNS answer that changes in between (rebinding) reach the service's own network. So the
host is resolved once, every address it has is checked, and the connection goes to the
checked address, with the URL's host name kept for the Host header, TLS SNI and the
certificate check."""

from __future__ import annotations

import ipaddress
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3

from moderation.services.deliveries import Outcome
from moderation.services.errors import Invalid

SOCKET_TIMEOUT_SECONDS = 5.0  # connect, and each read
DEADLINE_SECONDS = 10.0  # the whole attempt, however the receiver dribbles its answer
MAX_RESPONSE_BYTES = 64 * 1024  # read and dropped: only the status matters

# Sends run here so that the caller can stop waiting at the deadline. A send past it is
# abandoned (its sockets time out on their own); the pool bounds how many can linger.
_senders = ThreadPoolExecutor(max_workers=16, thread_name_prefix="outbound")


@dataclass(frozen=True)
class Target:
    """A URL, with the address its connection goes to."""

    url: str
    scheme: str
    host: str
    port: int
    path: str
    address: str


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def is_public(address: str) -> bool:
    """Whether an address is on the public internet: not loopback, private, link-local
    (cloud metadata), shared (100.64/10), reserved, multicast or unspecified, nor an IPv6
    address carrying such an IPv4 address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None and not inner.is_global:
            return False
    return bool(ip.is_global) and not ip.is_multicast


def resolve(url: str, allow_private: bool) -> Target:
    """Check ``url`` (http or https, a host, no credentials, a valid port) and resolve
    its host; unless ``allow_private`` every address must be public. Raises Invalid
    (field ``url``) saying what is wrong."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("must be an http:// or https:// URL with a host", field="url")
    if parts.username or parts.password:
        raise Invalid("must not carry a user or password", field="url")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Invalid("has a port that is not a number from 1 to 65535", field="url") from None
    if port == 0:
        raise Invalid("has a port that is not a number from 1 to 65535", field="url")
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Invalid(f"its host {parts.hostname!r} does not resolve", field="url") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not allow_private:
        blocked = [a for a in addresses if not is_public(a)]
        if blocked:
            raise Invalid(
                f"its host {parts.hostname!r} is a private, loopback or link-local address "
                f"({', '.join(blocked)}); set MODERATION_WEBHOOK_ALLOW_PRIVATE=true to allow it",
                field="url",
            )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(url.strip(), parts.scheme, parts.hostname, port, path, addresses[0])


def _post(target: Target, headers: dict[str, str], body: bytes, deadline: float) -> Outcome:
    started = time.perf_counter()
    timeout = urllib3.Timeout(connect=SOCKET_TIMEOUT_SECONDS, read=SOCKET_TIMEOUT_SECONDS)
    pool: urllib3.HTTPConnectionPool
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
        )
    else:
        pool = urllib3.HTTPConnectionPool(
            target.address, target.port, timeout=timeout, retries=False, maxsize=1
        )
    default_port = 443 if target.scheme == "https" else 80
    host = target.host if target.port == default_port else f"{target.host}:{target.port}"
    if ":" in target.host and not target.host.startswith("["):
        host = f"[{target.host}]" + ("" if target.port == default_port else f":{target.port}")
    try:
        with pool:
            response = pool.urlopen(
                "POST",
                target.path,
                body=body,
                headers={**headers, "Host": host},
                redirect=False,
                retries=False,
                preload_content=False,
            )
            read = 0
            while read < MAX_RESPONSE_BYTES and time.monotonic() < deadline:
                chunk = response.read(4096)
                if not chunk:
                    break
                read += len(chunk)
            response.release_conn()
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        elapsed = (time.perf_counter() - started) * 1000
        return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:500], elapsed)
    elapsed = (time.perf_counter() - started) * 1000
    ok = 200 <= response.status < 300
    return Outcome(ok, response.status, None if ok else f"answered {response.status}", elapsed)


def post(target: Target, headers: dict[str, str], body: str) -> Outcome:
    """POST ``body`` to the checked address of ``target``; redirects are not followed (a
    redirect could lead anywhere). An answer not complete within DEADLINE_SECONDS is a
    failure, whatever the receiver does."""
    started = time.perf_counter()
    deadline = time.monotonic() + DEADLINE_SECONDS
    future = _senders.submit(_post, target, headers, body.encode(), deadline)
    try:
        return future.result(timeout=DEADLINE_SECONDS + 0.5)
    except FutureTimeout:
        elapsed = (time.perf_counter() - started) * 1000
        return Outcome(False, None, f"no complete answer within {DEADLINE_SECONDS:g} s", elapsed)
