"""The Slack channel: posting notifications with bounded retries, pacing, DM targets, RIS uploads.

`SlackChannel.send` posts the rendered parts of one notification from `start_part` on and
returns only when Slack confirmed each; any failure becomes `DeliveryFailed(error,
parts_done)`, so the outbox keeps the notification pending and the next flush resumes at
the first unconfirmed part: nothing confirmed is posted twice.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import (
    ConnectionErrorRetryHandler,
    HttpRequest,
    HttpResponse,
    RateLimitErrorRetryHandler,
    RetryHandler,
    RetryIntervalCalculator,
    RetryState,
)
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

from bot.config import Environment, Settings, now
from bot.export import to_ris
from bot.notify import Notification
from bot.outbox import DeliveryFailed, Items, PartConfirmed, Unavailable
from bot.render import compact as smaller
from bot.render import messages
from bot.retry import RetryPolicy, parse_retry_after
from bot.slack.blocks import SLACK, to_slack

Sleep = Callable[[float], None]
Clock = Callable[[], float]
CONVERSATION_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")
# What a person may name as a digest subscriber: a #channel, a channel ID or a user ID (a DM).
TARGET = re.compile(r"^(#[a-z0-9][a-z0-9._-]{0,79}|[CGU][A-Z0-9]{6,})$")
ADDRESS_HELP = ("a Slack channel (#name, or an ID such as C0123456789) or a Slack user ID (U…); "
                "IDs are under the channel's or person's name > View details")
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
HINTS = {
    "channel_not_found": ("Slack knows no channel the bot can see by that ID: a private channel must invite "
                          "the bot; `litwatch outbox` says where the target came from"),
    "not_in_channel": "invite the bot to the channel (/invite @litwatch)",
    "is_archived": "the channel is archived; point the config at another one",
    "invalid_auth": "SLACK_BOT_TOKEN is not valid for this workspace",
    "not_authed": "SLACK_BOT_TOKEN is missing",
    "ratelimited": "Slack kept answering 429 after the retries; the next run continues",
    "missing_scope": "the app lacks a scope (chat:write, im:write, files:write)",
}

# Slack refused the message itself (chat.postMessage's documented errors): sending it again
# unchanged cannot succeed, while the channel works. The first four can be its size.
TOO_BIG = frozenset({"msg_too_long", "msg_blocks_too_long", "invalid_blocks", "metadata_too_large"})
REFUSED = TOO_BIG | {"invalid_blocks_format", "too_many_attachments", "invalid_attachments", "no_text",
                     "markdown_text_conflict", "invalid_metadata_format", "invalid_metadata_schema"}

UNREACHABLE_HINT = ("Slack was not reached at {url}: check the network or proxy, or SLACK_API_URL "
                    "if it is set; the notification stays pending and the next run retries")

# ---------------------------------------------------------------- the client


class _PolicyInterval(RetryIntervalCalculator):
    """slack_sdk's backoff hook driven by our RetryPolicy (its own adds up to 1 s of jitter)."""

    def __init__(self, policy: RetryPolicy):
        self.policy = policy

    def calculate_sleep_duration(self, current_attempt: int) -> float:
        return self.policy.backoff(current_attempt + 1)


class _Pausing(RetryHandler):
    """Sleeps through an injectable function, so tests can record the pauses."""

    sleep: Sleep = staticmethod(time.sleep)

    def prepare_for_next_attempt(self, *, state: RetryState, request: HttpRequest,
                                 response: HttpResponse | None = None,
                                 error: Exception | None = None) -> None:  # fmt: skip
        state.next_attempt_requested = True
        self.sleep(self.interval_calculator.calculate_sleep_duration(state.current_attempt))
        state.increment_current_attempt()


class RetryAfterRefused(SlackClientError):
    """Slack's Retry-After asked for a longer pause than the retry policy allows."""


class _RateLimited(RateLimitErrorRetryHandler):
    """429: wait what Retry-After asks, never less; stop when that is more than the policy allows.

    slack_sdk's own handler int()s the header (an HTTP date would crash it) and sleeps
    uncapped; this one parses both forms. A Retry-After beyond the policy's `max_delay` or
    its remaining `total` raises `RetryAfterRefused` (a SlackClientError, so the channel
    reports it and the notification stays pending) instead of retrying before Slack allows.
    """

    def __init__(self, policy: RetryPolicy, sleep: Sleep, clock: Clock = time.monotonic):
        super().__init__(max_retry_count=max(0, policy.attempts - 1))
        self.policy, self.sleep, self.clock = policy, sleep, clock

    def prepare_for_next_attempt(self, *, state: RetryState, request: HttpRequest,
                                 response: HttpResponse | None = None,
                                 error: Exception | None = None) -> None:  # fmt: skip
        headers = {k.lower(): v for k, v in (response.headers if response else {}).items()}
        value: Any = headers.get("retry-after")
        if isinstance(value, list):
            value = value[0] if value else None
        retry_after = parse_retry_after(None if value is None else str(value))
        wait = retry_after if retry_after is not None else 1.0
        refusal = self.policy.refuses_wait(wait, _elapsed(state, self.clock))
        if refusal:
            raise RetryAfterRefused(f"ratelimited: {refusal}")
        state.next_attempt_requested = True
        self.sleep(self.policy.backoff(state.current_attempt + 1, wait))
        state.increment_current_attempt()


def _elapsed(state: RetryState, clock: Clock) -> float:
    """Seconds since this request's first 429: the clock for what is left of the retry budget."""
    if state.custom_values is None:
        state.custom_values = {}
    return clock() - state.custom_values.setdefault("litwatch_started", clock())


class _ServerErrors(_Pausing, ServerErrorRetryHandler):
    """Any 5xx (slack_sdk's handler only knows 500 and 503)."""

    def _can_retry(self, *, state: RetryState, request: HttpRequest,
                   response: HttpResponse | None = None, error: Exception | None = None) -> bool:  # fmt: skip
        return response is not None and response.status_code >= 500


class _ConnectionErrors(_Pausing, ConnectionErrorRetryHandler):
    """Resets, refused connections and read timeouts."""


def retry_handlers(policy: RetryPolicy, sleep: Sleep = time.sleep) -> list[RetryHandler]:
    """Bounded retries for 429 (Retry-After), 5xx and connection errors, paced by `policy`.

    The handlers share one attempt counter per request, so a request is tried at most
    `policy.attempts` times whatever mix of failures it meets.
    """
    retries = max(0, policy.attempts - 1)
    interval = _PolicyInterval(policy)
    server = _ServerErrors(max_retry_count=retries, interval_calculator=interval)
    connection = _ConnectionErrors(max_retry_count=retries, interval_calculator=interval)
    connection.error_types_to_do_retries = [*connection.error_types_to_do_retries, TimeoutError]
    server.sleep = connection.sleep = sleep
    return [_RateLimited(policy, sleep), server, connection]


def make_client(env: Environment, policy: RetryPolicy | None = None, *, sleep: Sleep = time.sleep) -> WebClient:
    """The one WebClient: base URL and token from the environment, retries from `policy`."""
    policy = policy or RetryPolicy()
    return WebClient(
        base_url=env.slack_api_url,
        token=env.slack_bot_token,
        timeout=max(1, round(policy.timeout)),
        retry_handlers=retry_handlers(policy, sleep),
    )


# ---------------------------------------------------------------- the channel

UNAVAILABLE = Unavailable("Slack", "SLACK_BOT_TOKEN is not set")


def parse_address(text: str) -> str | None:
    """A subscriber address as typed (after `slack:`), or None if Slack would not know it."""
    value = text.strip()
    return value if TARGET.match(value) else None


def build_channel(env: Environment, settings: Settings) -> SlackChannel | None:
    """The Slack channel when a bot token is set (the registry's factory)."""
    return SlackChannel(make_client(env)) if env.slack_bot_token else None


class SlackChannel:
    """Posts `slack:` notifications; about one message per second per conversation (Slack's limit)."""

    scheme = "slack"
    label = "Slack"
    format = SLACK

    def __init__(self, client: WebClient, pace: float = 1.0, *, clock: Clock = time.monotonic,
                 sleep: Sleep = time.sleep) -> None:  # fmt: skip
        self.client = client
        self.pace = pace
        self.clock, self.sleep = clock, sleep
        self._last_post: dict[str, float] = {}  # target -> when its last message went out
        self._conversations: dict[str, str] = {}  # target as configured -> conversation ID

    def send(self, notification: Notification, items: Items, start_part: int,
             on_part: PartConfirmed | None = None, *, compact: bool = False) -> None:
        target = notification.address
        fmt = smaller(self.format) if compact and start_part == 0 else self.format
        parts = messages(notification, items, fmt)
        # A digest's files come after its messages, and each is a part of its own: Slack shares
        # each file as a post, so each is journalled when confirmed and never shared twice.
        files = self._files(notification, items) if notification.kind == "digest" and items else []
        done = start_part
        try:
            if start_part < len(parts):
                channel = self._destination(target)
                for index in range(start_part, len(parts)):
                    self._post(target, channel, to_slack(parts[index], fmt))
                    done = index + 1
                    if on_part:
                        on_part(done, parts[index].uids)
            if done - len(parts) < len(files):
                channel = self._file_channel(target)
                for number in range(done - len(parts), len(files)):
                    files[number](channel)
                    done = len(parts) + number + 1
                    if on_part:
                        on_part(done, ())
        except (SlackClientError, OSError, ValueError) as exc:
            code = error_code(exc)
            raise DeliveryFailed(describe(exc, self.client.base_url), done, refused=code in REFUSED,
                                 too_big=code in TOO_BIG) from exc

    def _destination(self, target: str) -> str:
        """Channel names and IDs go as they are; a user ID is opened as a DM first."""
        if target in self._conversations:
            return self._conversations[target]
        if USER_ID.match(target):
            response = self.client.conversations_open(users=target)
            self._conversations[target] = str(response["channel"]["id"])
            return self._conversations[target]
        return target

    def _post(self, target: str, channel: str, message: Mapping[str, Any]) -> str:
        self._wait_turn(target)
        response = self.client.chat_postMessage(
            channel=channel,
            text=message["text"],
            blocks=message["blocks"],
            unfurl_links=False,  # twenty link previews would bury the message
            unfurl_media=False,
        )
        self._last_post[target] = self.clock()
        conversation = str(response.get("channel") or "")
        if conversation:
            self._conversations.setdefault(target, conversation)
        return conversation

    def _wait_turn(self, channel: str) -> None:
        last = self._last_post.get(channel)
        if last is not None:
            wait = last + self.pace - self.clock()
            if wait > 0:
                self.sleep(wait)

    def _file_channel(self, target: str) -> str:
        """The conversation ID files are shared in: upload v2 refuses channel names."""
        channel = self._conversations.get(target) or self._destination(target)
        if not CONVERSATION_ID.match(channel):
            # Resuming in a new process after the digest itself went out: a short anchor
            # message tells us the channel's ID (names are refused by completeUploadExternal).
            anchor = {"text": "RIS file of the last digest follows.", "blocks": []}
            channel = self._post(target, channel, anchor) or channel
        return channel

    def _files(self, notification: Notification, items: Items) -> list[Callable[[str], None]]:
        """The digest's files in the order they are shared: its items as a RIS file, then its
        pictures (the trend chart and the PRISMA diagram); each shares itself in a channel."""
        day = (notification.summary.until or notification.created or now().isoformat())[:10]

        def ris(channel: str) -> None:
            self.client.files_upload_v2(
                channel=channel,
                content=to_ris(items),
                filename=f"litwatch-digest-{day}.ris",
                title=f"litwatch digest {day}: {len(items)} records (RIS)",
                initial_comment="All items of this digest as RIS, for Covidence, Rayyan or Zotero.",
            )

        def picture(path: Path, channel: str) -> None:
            if path.is_file():  # drawn by a process whose data directory is gone: skip it
                self.client.files_upload_v2(channel=channel, file=str(path), filename=path.name,
                                            title=path.stem.replace("-", " "))

        return [ris, *(partial(picture, Path(p)) for p in notification.summary.pictures)]


def error_code(exc: Exception) -> str:
    """Slack's error code in an API error ("" for anything else)."""
    if isinstance(exc, SlackApiError):
        data = exc.response.data if isinstance(exc.response.data, dict) else {}
        return str(data.get("error") or "")
    return ""


def describe(exc: Exception, api_url: str = "") -> str:
    """What went wrong with what to do about it: Slack's error code, or why Slack was not reached."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        data = response.data if isinstance(response.data, dict) else {}
        code = str(data.get("error") or f"HTTP {response.status_code}")
        hint = HINTS.get(code)
        return f"{code} ({hint})" if hint else code
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, RetryAfterRefused):
        return f"{text} ({HINTS['ratelimited']})"
    if isinstance(exc, OSError):  # URLError, refused or reset connections, timeouts, DNS
        return f"{text} ({UNREACHABLE_HINT.format(url=api_url or 'SLACK_API_URL')})"
    return text
