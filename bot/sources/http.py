"""One HTTP GET with the shared retry policy: what every `requests`-based source client uses.

429 and 5xx answers, timeouts and dropped connections are retried (honouring Retry-After);
any other answer, 4xx included, goes back to the caller, who knows what it means.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import requests

from bot.errors import SourceError
from bot.retry import (
    RetriesExhausted,
    RetryPolicy,
    TransientError,
    call_with_retries,
    parse_retry_after,
)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


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
    """GET `url` within `policy`; raise SourceError (retryable) when every attempt failed."""
    attempts = 0

    def attempt() -> requests.Response:
        nonlocal attempts
        attempts += 1
        try:
            response = session.get(
                url, params=dict(params or {}), headers=dict(headers or {}), timeout=policy.timeout
            )
        except requests.Timeout as exc:
            raise TransientError(f"{what} timed out after {policy.timeout:g} s") from exc
        except requests.ConnectionError as exc:
            raise TransientError(f"{what} could not connect: {exc}") from exc
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


def error_text(response: requests.Response, limit: int = 300) -> str:
    """The server's own words for an error, on one line and cut to `limit` characters."""
    text = " ".join(response.text.split())
    return text[:limit] + ("…" if len(text) > limit else "") if text else response.reason or ""
