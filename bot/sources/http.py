"""One HTTP stack for every source: a shared `requests.Session`, timeouts, limits, redirect guards, retries.

`Http.get` fetches a whole body or fails with a `SourceError` naming the query (`Http.call`
retries a caller's own attempt, one `Http.once` and what it makes of the answer, the same way):
- 429 and 5xx answers, timeouts and bodies cut or garbled in transit are retried under the
  one `RetryPolicy` (backoff with jitter, Retry-After honoured: `bot.retry.retrying`, on
  stamina); any other answer, 4xx included, goes back to the caller, who knows what it means.
- A host that does not resolve, refuses the connection or never answers it is asked once
  more, quickly, then the error names the host and says to check the network or proxy (or
  the `*_URL` variable the operator set): retrying a DNS failure for a minute helps nobody.
- Every fetch has a total deadline (default 60 s, however slowly the body drips) and a size
  cap (default 20 MB): past either it stops reading and fails, saying which. The deadline is
  checked as the body arrives; the connection and the headers are bounded by the per-read
  timeout only.
- Only http and https are fetched, redirects included (a redirect to `file:///etc/passwd` is
  refused, whatever adapters are mounted). A redirect into a loopback, private or link-local
  address is refused unless the configured URL is itself on one (a feed on the intranet may
  redirect within it; a public feed may not send litwatch to 169.254.169.254), and no URL on
  a link-local address is fetched at all. A configured *name* that resolves to one is not
  looked up beforehand (a DNS lookup per request would slow every failure on a machine whose
  resolver is down); redirects are checked by their resolved addresses.
- Error bodies never travel in a message: `status_error` says the status code and reason;
  the body goes to the log, trimmed.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.error import URLError
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions

from bot.errors import SourceError
from bot.models import is_web_url
from bot.progress import retry_on_terminal
from bot.retry import (
    RetriesExhausted,
    RetryPolicy,
    RetryReport,
    TransientError,
    Unreachable,
    parse_retry_after,
    retrying,
)

if TYPE_CHECKING:
    from bot.config import Environment
    from bot.registry import SourceSpec

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_DEADLINE = 60.0  # seconds for one whole fetch: connect, headers and every byte of the body
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
CHUNK = 64 * 1024
USER_AGENT = "litwatch (living-review monitor)"
LOGGED_BODY = 300  # characters of an error body kept in the log


class RedirectRefused(requests.exceptions.InvalidSchema):
    """A redirect litwatch will not follow; raised before it is followed."""


@dataclass
class Fetched:
    """A final HTTP answer, its whole body, and how many requests it took (retries included)."""

    response: requests.Response
    body: bytes
    requests: int

    @property
    def status(self) -> int:
        return self.response.status_code


class Http:
    """Every source's HTTP: one session, one policy, one deadline and size cap, one retry loop."""

    def __init__(
        self,
        session: requests.Session | None = None,
        policy: RetryPolicy | None = None,
        *,
        deadline: float = DEFAULT_DEADLINE,
        max_bytes: int = DEFAULT_MAX_BYTES,
        report: RetryReport | None = None,
    ):
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", USER_AGENT)
        if self.session.headers.get("User-Agent", "").startswith("python-requests"):
            self.session.headers["User-Agent"] = USER_AGENT
        self.policy = policy or RetryPolicy()
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.report = report if report is not None else retry_on_terminal

    def get(self, url: str, *, params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
            query: str | None = None, what: str = "request", hint: str = "") -> Fetched:  # fmt: skip
        """GET `url` within the policy; every failure becomes a SourceError naming `query`.

        `hint` ends an "unreachable" message ("or NCBI_EUTILS_URL, which is set to …").
        """
        attempts = 0

        def attempt() -> tuple[requests.Response, bytes]:
            nonlocal attempts
            attempts += 1
            return self.once("GET", url, params=params, headers=headers, query=query, what=what)

        response, body = self.call(attempt, url=url, query=query, what=what, hint=hint)
        return Fetched(response, body, attempts)

    def call(self, attempt: Callable[[], T], *, url: str, query: str | None, what: str, hint: str = "",
             before: Callable[[], object] | None = None) -> T:  # fmt: skip
        """`attempt` (one request to `url` and what is made of its answer) under the retry policy.

        `before` runs ahead of every attempt (a rate limiter's `acquire`); a failure that
        outlasts the policy is a retryable SourceError, an unreachable host's naming it.
        """
        if not is_web_url(url):
            raise SourceError(f"{what} refused: {url!r} is not a valid http(s) URL", query=query)
        if is_link_local_url(url):  # an address, not a name: no DNS lookup of its own before each call
            raise SourceError(f"{what} refused: {urlsplit(url).hostname} is a link-local address (such as a "
                              "cloud metadata service), never a source", query=query)  # fmt: skip

        def paced() -> T:
            if before is not None:
                before()
            return attempt()

        try:
            return retrying(paced, self.policy, what=what, report=self.report)
        except RetriesExhausted as exc:
            if isinstance(exc.last, Unreachable):
                raise SourceError(_unreachable_advice(str(exc.last), hint), query=query, retryable=True) from exc
            raise SourceError(str(exc), query=query, retryable=True) from exc

    def once(self, method: str, url: str, *, params: Mapping[str, str] | None = None,
             data: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
             query: str | None = None, what: str = "request") -> tuple[requests.Response, bytes]:  # fmt: skip
        """One request and its whole body; TransientError for what is worth asking again."""
        started = time.monotonic()
        guard = _RedirectGuard(url)
        try:
            response = self.session.request(
                method, url, params=dict(params or {}), data=dict(data) if data else None,
                headers=dict(headers or {}), timeout=self.policy.timeout, stream=True,
                hooks={"response": [guard]},
            )  # fmt: skip
        except requests.ConnectTimeout as exc:
            # No answer to the connection itself: a busy server still accepts connections (its
            # kernel does), so this is a network that drops packets or a firewall, not load.
            raise Unreachable(f"{what} could not connect to {_host(url)}: no answer within "
                              f"{self.policy.timeout:g} s") from exc  # fmt: skip
        except requests.Timeout as exc:
            raise TransientError(f"{what} timed out after {self.policy.timeout:g} s") from exc
        except requests.ConnectionError as exc:
            if cannot_reach(exc):
                raise Unreachable(could_not_connect(what, url, exc)) from exc
            raise TransientError(could_not_connect(what, url, exc)) from exc
        except requests.RequestException as exc:
            raise SourceError(f"{what} failed: {_failure(exc)}", query=query) from exc
        try:
            body = self._read(response, started, what, query)
        except BaseException:
            response.close()  # a half-read connection is not reused
            raise
        response.raw.release_conn()  # read to the end: the connection goes back to the pool
        if response.status_code in RETRY_STATUSES:
            raise TransientError(
                f"{what} answered {status_line(response)}",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        return response, body

    def _read(self, response: requests.Response, started: float, what: str, query: str | None) -> bytes:
        """The whole body, decoded; a cut body is transient, past the deadline or the cap an error."""
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes and not response.headers.get("Content-Encoding"):
            raise SourceError(f"{what} is {int(declared):,} bytes, over the {_mb(self.max_bytes)} limit "
                              "(LITWATCH_MAX_FETCH_MB)", query=query)  # fmt: skip
        parts: list[bytes] = []
        size = 0
        try:
            while True:
                if time.monotonic() - started > self.deadline:
                    raise SourceError(f"{what} took longer than the {self.deadline:g} s deadline for one fetch "
                                      "(LITWATCH_FETCH_DEADLINE); nothing was kept", query=query)  # fmt: skip
                chunk = response.raw.read1(CHUNK, decode_content=True)
                if not chunk:
                    break
                size += len(chunk)
                if size > self.max_bytes:
                    raise SourceError(f"{what} sent more than the {_mb(self.max_bytes)} limit "
                                      "(LITWATCH_MAX_FETCH_MB); nothing was kept", query=query)  # fmt: skip
                parts.append(chunk)
        except (urllib3.exceptions.ProtocolError, urllib3.exceptions.DecodeError) as exc:
            # Content-Length not met, a chunked body ended early, gzip that is not: the same
            # request may well succeed a moment later. Nothing of this body is used.
            raise TransientError(f"{what} was cut or garbled in transit ({_root(exc)})") from exc
        except (TimeoutError, urllib3.exceptions.ReadTimeoutError) as exc:
            raise TransientError(f"{what} timed out after {self.policy.timeout:g} s") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise TransientError(f"{what} was cut in transit ({_root(exc)})") from exc
        return b"".join(parts)


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.3g} MB"


def _root(exc: BaseException) -> str:
    for arg in reversed(getattr(exc, "args", ())):
        if isinstance(arg, BaseException):
            return f"{type(arg).__name__}: {arg}"
    return f"{type(exc).__name__}: {exc}"


# ---------------------------------------------------------------- redirects


def is_internal_host(host: str) -> bool:
    """Whether `host` is a loopback, private, link-local or otherwise non-public address (names resolved)."""
    return any(_internal(address) for address in _addresses(host))


def _addresses(host: str) -> set[str]:
    """The addresses `host` resolves to; none when it does not (the request then fails and says so)."""
    try:
        return {str(info[4][0]).split("%")[0] for info in socket.getaddrinfo(host, None)}
    except (OSError, UnicodeError):
        return set()


def is_link_local_url(url: str) -> bool:
    """Whether `url`'s host is a link-local address (169.254.0.0/16, fe80::/10: cloud metadata endpoints)."""
    try:
        host = urlsplit(url).hostname or ""
        return ipaddress.ip_address(host).is_link_local
    except ValueError:
        return False


def _internal(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_reserved or ip.is_unspecified


class _RedirectGuard:
    """Response hook, run on every hop: stop before following a redirect litwatch refuses."""

    def __init__(self, url: str):
        self.url = url
        self._origin_internal: bool | None = None

    def origin_internal(self) -> bool:
        if self._origin_internal is None:
            self._origin_internal = is_internal_host(urlsplit(self.url).hostname or "")
        return self._origin_internal

    def __call__(self, response: requests.Response, **_: Any) -> requests.Response:
        if not response.is_redirect:
            return response
        target = urljoin(response.url, response.headers.get("location", ""))
        reason = None
        if not is_web_url(target):
            reason = "only http and https redirects are followed"
        elif is_internal_host(urlsplit(target).hostname or "") and not self.origin_internal():
            reason = "a redirect into a loopback, private or link-local address is refused for a public URL"
        if reason:
            response.close()
            raise RedirectRefused(f"{response.url} redirected (HTTP {response.status_code}) to {target!r}; {reason}")
        return response


# ---------------------------------------------------------------- messages


def status_line(response: requests.Response) -> str:
    """"HTTP 403 Forbidden": what a message says of an error answer, never its body."""
    return f"HTTP {response.status_code} {response.reason or ''}".rstrip()


def status_error(what: str, response: requests.Response, body: bytes) -> str:
    """"<what> answered HTTP 403 Forbidden", with the body logged (trimmed), not returned."""
    log_error_body(what, response, body)
    return f"{what} answered {status_line(response)}"


def log_error_body(what: str, response: requests.Response, body: bytes) -> None:
    text = " ".join(body[: LOGGED_BODY * 4].decode("utf-8", "replace").split())
    if text:
        log.warning("%s answered %s: %s", what, status_line(response), text[:LOGGED_BODY])


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or url
    except ValueError:
        return url


def could_not_connect(what: str, url: str, exc: BaseException) -> str:
    """"<what> could not connect to <host>: <root cause>", for `requests` and urllib alike."""
    return f"{what} could not connect to {_host(url)}: {connection_failure(exc)}"


def url_hint(env: Environment, spec: SourceSpec) -> str:
    """The end of an "unreachable" message when the operator moved the source's base URL."""
    if not env.url_is_set(spec):
        return ""
    return f"or {spec.url_variable}, which is set to {env.base_url(spec)}"


def _unreachable_advice(message: str, hint: str) -> str:
    return f"{message}; check the network or proxy{', ' + hint if hint else ''}"


def cannot_reach(exc: requests.ConnectionError) -> bool:
    """A name that does not resolve or a connection refused: not a busy server, a wrong place."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, socket.gaierror | ConnectionRefusedError | urllib3.exceptions.NameResolutionError):
            return True
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        stack += [e for e in linked if isinstance(e, BaseException)]
    return False


def connection_failure(exc: BaseException) -> str:
    """The root cause of a failed connection, not the whole chain and URL around it.

    `requests.ConnectionError` wraps urllib3's MaxRetryError, which wraps the real error
    ("Failed to resolve 'host' (...)"); urllib's `URLError` (slack_sdk's transport) carries it
    as `reason`; any other error is its own cause.
    """
    if isinstance(exc, URLError):
        return str(exc.reason)
    if not isinstance(exc, requests.RequestException):  # an OSError of its own: "timed out"
        return str(exc)
    reason: object = exc.args[0] if exc.args else exc
    reason = getattr(reason, "reason", None) or reason  # MaxRetryError wraps the real error
    text = str(reason)
    # urllib3 prefixes the connection object: "HTTPSConnection(host=..., port=443): Failed to ..."
    head, sep, rest = text.partition("): ")
    return rest if sep and "Connection" in head else text


def _failure(exc: requests.RequestException) -> str:
    """What went wrong, in words a user can act on."""
    if isinstance(exc, RedirectRefused):
        return str(exc)
    if isinstance(exc, requests.TooManyRedirects):
        url = exc.response.url if exc.response is not None else "the URL"
        return f"too many redirects from {url} (a redirect loop?)"
    return f"{type(exc).__name__}: {exc}"
