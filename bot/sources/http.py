"""One HTTP GET with the shared retry policy: what every `requests`-based source client uses.

429 and 5xx answers, timeouts, dropped connections and bodies cut or garbled in transit are
retried (honouring Retry-After); any other answer, 4xx included, goes back to the caller,
who knows what it means. Every other `requests` failure (a redirect loop, a malformed URL)
fails at once as a `SourceError` naming the query: one broken source never aborts a run.
Only http and https are ever fetched, redirects included: a feed that redirects to
`file:///etc/passwd` (or any other scheme a mounted adapter might read) is refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.error import URLError
from urllib.parse import urljoin, urlsplit

import requests

from bot.errors import SourceError
from bot.models import is_web_url
from bot.retry import (
    RetriesExhausted,
    RetryPolicy,
    TransientError,
    call_with_retries,
    parse_retry_after,
)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# A body cut or garbled in transit: the same request may well succeed a moment later.
CUT_IN_TRANSIT = (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)


class RedirectRefused(requests.exceptions.InvalidSchema):
    """A redirect pointed outside http(s); raised before it is followed."""


@dataclass
class Fetched:
    """A final HTTP answer and how many requests it took (retries included)."""

    response: requests.Response
    requests: int


def get_with_retries(
    session: requests.Session,
    url: str,
    policy: RetryPolicy,
    *,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    query: str | None = None,
    what: str = "request",
    sleep: Callable[[float], None] = time.sleep,
) -> Fetched:
    """GET `url` within `policy`; every failure becomes a SourceError naming `query`.

    Transient failures that outlast the policy are retryable SourceErrors; anything else
    `requests` raises (too many redirects, a non-http(s) URL or redirect, a malformed URL)
    fails at once, not retryable.
    """
    if not is_web_url(url):
        raise SourceError(f"{what} refused: {url!r} is not a valid http(s) URL", query=query)
    attempts = 0

    def attempt() -> requests.Response:
        nonlocal attempts
        attempts += 1
        try:
            response = session.get(
                url, params=dict(params or {}), headers=dict(headers or {}), timeout=policy.timeout,
                hooks={"response": [_refuse_non_web_redirect]},
            )  # fmt: skip
        except requests.Timeout as exc:
            raise TransientError(f"{what} timed out after {policy.timeout:g} s") from exc
        except requests.ConnectionError as exc:
            raise TransientError(could_not_connect(what, url, exc)) from exc
        except CUT_IN_TRANSIT as exc:
            raise TransientError(f"{what} was cut or garbled in transit ({type(exc).__name__}: {exc})") from exc
        except requests.RequestException as exc:
            raise SourceError(f"{what} failed: {_failure(exc)}", query=query) from exc
        if response.status_code in RETRY_STATUSES:
            raise TransientError(
                f"{what} answered HTTP {response.status_code}",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        return response

    try:
        response = call_with_retries(attempt, policy, sleep=sleep)
    except RetriesExhausted as exc:
        raise SourceError(str(exc), query=query, retryable=True) from exc
    return Fetched(response, attempts)


def _refuse_non_web_redirect(response: requests.Response, **_: Any) -> requests.Response:
    """Response hook, run on every hop: stop before following a redirect outside http(s)."""
    if response.is_redirect:
        target = urljoin(response.url, response.headers.get("location", ""))
        if not is_web_url(target):
            response.close()
            raise RedirectRefused(
                f"{response.url} redirected (HTTP {response.status_code}) to {target!r}; "
                "only http and https redirects are followed"
            )
    return response


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or url
    except ValueError:
        return url


def could_not_connect(what: str, url: str, exc: BaseException) -> str:
    """"<what> could not connect to <host>: <root cause>", for `requests` and urllib alike."""
    return f"{what} could not connect to {_host(url)}: {connection_failure(exc)}"


def connection_failure(exc: BaseException) -> str:
    """The root cause of a failed connection, not the whole chain and URL around it.

    `requests.ConnectionError` wraps urllib3's MaxRetryError, which wraps the real error
    ("Failed to resolve 'host' (...)"); urllib's `URLError` carries it as `reason`
    ("[Errno -2] Name or service not known"); any other error is its own cause.
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


def error_text(response: requests.Response, limit: int = 300) -> str:
    """The server's own words for an error, on one line and cut to `limit` characters."""
    text = " ".join(response.text.split())
    return text[:limit] + ("…" if len(text) > limit else "") if text else response.reason or ""
