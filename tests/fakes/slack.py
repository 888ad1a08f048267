"""A fake Slack Web API on FakeServer that checks every message as Slack would and records it.

The real `slack_sdk.WebClient` talks to it over HTTP (`base_url=fake.api_url`). It implements
chat.postMessage, chat.update, conversations.open, conversations.info, the three steps of files upload v2
and auth.test; any other method (apps.connections.open for Socket Mode, ...) is plugged in
with `route()`;
replies POSTed to a slash command's `response_url()` are checked and kept in `responses`.
`fail()` makes a method answer 500, 429 with Retry-After, or a Slack error for a while.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from slack_sdk import WebClient
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

from tests.fakes.http import FakeServer, Request, Response

BOT_TOKEN = "xoxb-fake-bot-token"
APP_TOKEN = "xapp-fake-app-token"
MAX_BLOCKS = 50
SECTION_TEXT = 3000
SECTION_FIELD = 2000
HEADER_TEXT = 150
MESSAGE_TEXT = 40_000
CONVERSATION_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")


@dataclass
class ApiCall:
    """One Web API call as the fake understood it: method name and merged parameters."""

    method: str
    params: dict[str, Any]
    request: Request


@dataclass
class Posted:
    """A message Slack accepted."""

    channel: str  # conversation ID
    requested: str  # the channel as the client named it ("#litwatch", "C...", "D...")
    text: str
    blocks: list[dict[str, Any]]
    ts: str
    thread_ts: str | None = None

    def all_text(self) -> str:
        """The fallback and every text in the blocks, joined: what a reader could see."""
        return "\n".join([self.text, *_texts(self.blocks)])


@dataclass
class CommandResponse:
    """A reply POSTed to a slash command's response_url (checked like a message)."""

    path: str
    payload: dict[str, Any]
    at: float  # time.monotonic() on arrival

    @property
    def ephemeral(self) -> bool:
        return self.payload.get("response_type", "ephemeral") == "ephemeral"

    def all_text(self) -> str:
        return "\n".join([str(self.payload.get("text", "")), *_texts(self.payload.get("blocks") or [])])


@dataclass
class UploadedFile:
    """A file shared with files.completeUploadExternal."""

    id: str
    filename: str
    title: str
    content: bytes
    channel: str
    thread_ts: str | None
    initial_comment: str | None


@dataclass
class Fault:
    """Answer `times` calls of `method` ("*": any) with a failure, after letting `after` pass."""

    method: str
    times: int
    after: int = 0
    status: int = 200
    error: str = ""
    retry_after: int | None = None
    body: bytes | None = None

    def response(self) -> Response:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        body = (
            self.body
            or json.dumps(
                {"ok": False, "error": self.error or _STATUS_ERROR.get(self.status, "fatal_error")}
            ).encode()
        )
        return Response(self.status, body, headers)


_STATUS_ERROR = {429: "ratelimited", 500: "internal_error", 503: "service_unavailable"}

ApiHandler = Callable[[ApiCall], "dict[str, Any] | Response"]


def slack_problems(payload: dict[str, Any]) -> list[str]:
    """Why Slack would reject this chat.postMessage payload (empty: it would accept it)."""
    problems: list[str] = []
    text = payload.get("text")
    blocks = payload.get("blocks")
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except ValueError:
            return ["invalid_blocks_format: blocks is not JSON"]
    if not text and not blocks:
        return ["no_text"]
    if blocks is not None and not isinstance(blocks, list):
        return ["invalid_blocks_format: blocks must be an array"]
    blocks = blocks or []
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"invalid_blocks: {len(blocks)} blocks (at most {MAX_BLOCKS})")
    for index, raw in enumerate(blocks):
        problems.extend(f"invalid_blocks: block {index}: {p}" for p in _block_problems(raw))
    total = len(text or "") + sum(len(t) for t in _texts(blocks))
    if total > MESSAGE_TEXT:
        problems.append(f"msg_too_long: {total} characters")
    # Not Slack's rule but litwatch's: outside text must never turn into mentions.
    if payload.get("link_names") not in (None, False, 0, "0", "false"):
        problems.append("invalid_arguments: link_names is forbidden (litwatch policy)")
    if payload.get("parse") == "full":
        problems.append("invalid_arguments: parse=full is forbidden (litwatch policy)")
    return problems


def _block_problems(raw: Any) -> list[str]:
    if not isinstance(raw, dict):
        return ["not an object"]
    try:
        block = Block.parse(dict(raw))
        if block is None:
            return [f"unknown type {raw.get('type')!r}"]
        block.to_dict()  # runs slack_sdk's validators on the block and its text objects
    except (SlackObjectFormationError, TypeError, KeyError, ValueError) as exc:
        return [str(exc)]
    kind = raw.get("type")
    problems: list[str] = []
    text = raw.get("text") or {}
    if kind == "header":
        if text.get("type") != "plain_text":
            problems.append("header text must be plain_text")
        if len(text.get("text", "")) > HEADER_TEXT:
            problems.append(f"header text longer than {HEADER_TEXT}")
    if kind == "section":
        if not text and not raw.get("fields"):
            problems.append("section needs text or fields")
        if text and len(text.get("text", "")) > SECTION_TEXT:
            problems.append(f"section text longer than {SECTION_TEXT}")
        for f in raw.get("fields") or ():
            if len(f.get("text", "")) > SECTION_FIELD:
                problems.append(f"section field longer than {SECTION_FIELD}")
    for obj in _text_objects(raw):
        if not obj.get("text"):
            problems.append("text must be more than 0 characters")
        if obj.get("type") not in ("plain_text", "mrkdwn"):
            problems.append(f"unknown text type {obj.get('type')!r}")
    return problems


def _text_objects(block: dict[str, Any]) -> list[dict[str, Any]]:
    objects = [block["text"]] if isinstance(block.get("text"), dict) else []
    objects += [f for f in block.get("fields") or () if isinstance(f, dict)]
    if block.get("type") == "context":
        objects += [
            e for e in block.get("elements") or () if e.get("type") in ("plain_text", "mrkdwn")
        ]
    return objects


def _texts(blocks: Iterable[dict[str, Any]]) -> list[str]:
    return [str(o.get("text", "")) for b in blocks if isinstance(b, dict) for o in _text_objects(b)]


class FakeSlack(FakeServer):
    """The fake Web API. Use as a context manager; `client()` gives a real WebClient for it."""

    def __init__(self, *, channels: Iterable[str] | None = None, not_member: Iterable[str] = (), port: int = 0):
        super().__init__(self._handle, port=port)
        self.messages: list[Posted] = []
        self.files: list[UploadedFile] = []
        self.rejected: list[tuple[str, list[str]]] = []  # (method, problems) Slack refused
        self.faults: list[Fault] = []
        self.known_channels = None if channels is None else {c.lstrip("#") for c in channels}
        self.not_member = {c.lstrip("#") for c in not_member}
        self._state = threading.RLock()
        self._ids: dict[str, str] = {}
        self._dms: dict[str, str] = {}
        self._uploads: dict[str, dict[str, Any]] = {}
        self._counter = itertools.count(1)
        self.responses: list[CommandResponse] = []
        self._responded = threading.Condition(self._state)
        self._routes: dict[str, ApiHandler] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update_message,
            "conversations.open": self._conversations_open,
            "conversations.info": self._conversations_info,
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
        }

    # ------------------------------------------------------------ wiring

    @property
    def api_url(self) -> str:
        """What SLACK_API_URL points at (WebClient's `base_url`)."""
        return self.url + "/api/"

    def client(self, **kwargs: Any) -> WebClient:
        """A real WebClient for this fake (no retry handlers unless given)."""
        kwargs.setdefault("retry_handlers", [])
        return WebClient(base_url=self.api_url, token=BOT_TOKEN, **kwargs)

    def route(self, method: str, handler: ApiHandler) -> None:
        """Answer `method` with `handler(call)`: a dict (sent as JSON) or a full Response."""
        self._routes[method] = handler

    def fail(
        self,
        method: str = "*",
        *,
        times: int = 1,
        after: int = 0,
        status: int = 200,
        error: str = "",
        retry_after: int | None = None,
        body: bytes | None = None,
    ) -> Fault:
        """Make `times` calls of `method` fail (500, 429 + Retry-After, or `error`), `after` OK ones."""
        fault = Fault(method, times, after, status, error, retry_after, body)
        with self._state:
            self.faults.append(fault)
        return fault

    # ------------------------------------------------------------ what was received

    def calls(self, method: str | None = None) -> list[ApiCall]:
        """Every Web API call received, in order (uploads to the upload URL excluded)."""
        out = []
        for request in list(self.requests):
            if request.path.startswith("/api/"):
                call = ApiCall(request.path[5:], _params(request), request)
                if method is None or call.method == method:
                    out.append(call)
        return out

    def channel_id(self, name: str) -> str:
        """The conversation ID the fake gives a channel name (stable for the fake's life)."""
        name = name.lstrip("#")
        if CONVERSATION_ID.match(name):
            return name
        with self._state:
            if name not in self._ids:
                self._ids[name] = f"C{next(self._counter):08d}"
            return self._ids[name]

    def dm_channel(self, user: str) -> str:
        with self._state:
            if user not in self._dms:
                self._dms[user] = f"D{next(self._counter):08d}"
            return self._dms[user]

    def messages_in(self, channel: str) -> list[Posted]:
        target = (
            self.channel_id(channel) if not channel.startswith("U") else self.dm_channel(channel)
        )
        return [m for m in self.messages if m.channel == target]

    # ------------------------------------------------------------ dispatch

    def _handle(self, request: Request) -> Response:
        if request.path.startswith("/upload/"):
            return self._receive_upload(request)
        if request.path.startswith("/commands/"):
            return self._receive_response(request)
        if not request.path.startswith("/api/"):
            return Response(404, b"not found")
        method = request.path[5:]
        with self._state:
            fault = next(
                (f for f in self.faults if f.times > 0 and f.method in ("*", method)), None
            )
            if fault and fault.after > 0:
                fault.after -= 1
            elif fault:
                fault.times -= 1
                return fault.response()
        call = ApiCall(method, _params(request), request)
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not token:
            token = str(call.params.get("token", ""))
        if not token:
            return _json({"ok": False, "error": "not_authed"})
        if token not in (BOT_TOKEN, APP_TOKEN):
            return _json({"ok": False, "error": "invalid_auth"})
        handler = self._routes.get(method)
        if handler is None:
            return _json({"ok": False, "error": "unknown_method"})
        with self._state:
            answer = handler(call)
        return answer if isinstance(answer, Response) else _json(answer)

    # ------------------------------------------------------------ response_url (slash commands)

    def response_url(self, tag: str = "") -> str:
        """A response_url on this fake, as Slack puts in every slash-command payload."""
        return f"{self.url}/commands/T111/{next(self._counter)}{tag}/xxx"

    def wait_responses(self, count: int, timeout: float = 10.0) -> list[CommandResponse]:
        """Wait until `count` replies arrived at response_urls; return all of them."""
        with self._responded:
            self._responded.wait_for(lambda: len(self.responses) >= count, timeout)
            return list(self.responses)

    def _receive_response(self, request: Request) -> Response:
        try:
            payload = json.loads(request.body or b"{}")
        except ValueError:
            return Response(400, b"invalid_payload")
        problems = slack_problems(payload)
        if problems:
            self.rejected.append(("response_url", problems))
            return Response(400, problems[0].encode())
        with self._responded:
            self.responses.append(CommandResponse(request.path, payload, request.at))
            self._responded.notify_all()
        return Response(200, b"ok")

    def _refuse(self, method: str, problems: list[str]) -> dict[str, Any]:
        self.rejected.append((method, problems))
        return {"ok": False, "error": problems[0].split(":")[0], "errors": problems}

    def _resolve(self, channel: str) -> tuple[str | None, str]:
        """(conversation ID, "") or (None, Slack's error) for a `channel` argument."""
        name = channel.lstrip("#")
        if name in self._dms.values():
            return name, ""
        if not name or name.startswith("D"):  # a DM must be opened first
            return None, "channel_not_found"
        known = self.known_channels
        if (
            known is not None
            and name not in known
            and name not in {self.channel_id(c) for c in known}
        ):
            return None, "channel_not_found"
        cid = self.channel_id(name)
        if name in self.not_member or cid in {self.channel_id(c) for c in self.not_member}:
            return None, "not_in_channel"
        return cid, ""

    def _ts(self) -> str:
        n = next(self._counter)
        return f"{1_700_000_000 + n}.{n:06d}"

    # ------------------------------------------------------------ methods

    def _auth_test(self, call: ApiCall) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://litwatch-fake.slack.com/",
            "team": "litwatch fake",
            "user": "litwatch",
            "team_id": "T00000001",
            "user_id": "U0000BOT1",
            "bot_id": "B00000001",
            "is_enterprise_install": False,
        }

    def _post_message(self, call: ApiCall) -> dict[str, Any]:
        params = call.params
        problems = slack_problems(params)
        if problems:
            return self._refuse(call.method, problems)
        requested = str(params.get("channel") or "")
        channel, error = self._resolve(requested)
        if channel is None:
            return self._refuse(call.method, [error])
        blocks = params.get("blocks") or []
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        thread_ts = params.get("thread_ts")
        posted = Posted(
            channel,
            requested,
            str(params.get("text") or ""),
            blocks,
            self._ts(),
            str(thread_ts) if thread_ts else None,
        )
        self.messages.append(posted)
        message = {
            "type": "message",
            "subtype": "bot_message",
            "bot_id": "B00000001",
            "text": posted.text,
            "blocks": blocks,
            "ts": posted.ts,
        }
        return {"ok": True, "channel": channel, "ts": posted.ts, "message": message}

    def _update_message(self, call: ApiCall) -> dict[str, Any]:
        """chat.update: the posted message `ts` in `channel` gets the new text and blocks."""
        params = call.params
        problems = slack_problems(params)
        if problems:
            return self._refuse(call.method, problems)
        channel, ts = str(params.get("channel") or ""), str(params.get("ts") or "")
        posted = next((m for m in self.messages if m.channel == channel and m.ts == ts), None)
        if posted is None:
            return self._refuse(call.method, ["message_not_found"])
        blocks = params.get("blocks") or []
        posted.blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
        posted.text = str(params.get("text") or "")
        return {"ok": True, "channel": channel, "ts": ts, "text": posted.text}

    def _conversations_open(self, call: ApiCall) -> dict[str, Any]:
        users = str(call.params.get("users") or "")
        if not users:
            return self._refuse(call.method, ["users_list_not_supplied"])
        if not all(re.match(r"^[UW][A-Z0-9]{2,}$", u) for u in users.split(",")):
            return self._refuse(call.method, ["user_not_found"])
        return {"ok": True, "channel": {"id": self.dm_channel(users)}}

    def _conversations_info(self, call: ApiCall) -> dict[str, Any]:
        """Slack's answer for a channel ID: unknown ones (and, in real Slack, private channels
        the bot is not in) are channel_not_found; a public channel shows `is_member`."""
        requested = str(call.params.get("channel") or "")
        if not CONVERSATION_ID.match(requested):
            return self._refuse(call.method, ["channel_not_found"])
        channel, error = self._resolve(requested)
        if error == "not_in_channel":
            return {"ok": True, "channel": {"id": self.channel_id(requested), "is_channel": True,
                                            "is_member": False, "is_archived": False}}  # fmt: skip
        if channel is None:
            return self._refuse(call.method, [error])
        return {"ok": True, "channel": {"id": channel, "is_channel": True, "is_member": True,
                                        "is_archived": False, "is_im": channel.startswith("D")}}  # fmt: skip

    def _get_upload_url(self, call: ApiCall) -> dict[str, Any]:
        filename, length = call.params.get("filename"), call.params.get("length")
        if not filename or not str(length or "").isdigit():
            return self._refuse(call.method, ["invalid_arguments"])
        file_id = f"F{next(self._counter):08d}"
        self._uploads[file_id] = {
            "filename": str(filename),
            "length": int(str(length)),
            "content": None,
        }
        return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _receive_upload(self, request: Request) -> Response:
        file_id = request.path.rsplit("/", 1)[-1]
        with self._state:
            pending = self._uploads.get(file_id)
            if pending is None:
                return Response(404, b"unknown upload")
            pending["content"] = request.body
        return Response(200, f"OK - {len(request.body)}".encode())

    def _complete_upload(self, call: ApiCall) -> dict[str, Any]:
        try:
            files = json.loads(str(call.params.get("files") or "[]"))
        except ValueError:
            return self._refuse(call.method, ["invalid_arguments"])
        channel = str(call.params.get("channel_id") or "")
        if channel and not CONVERSATION_ID.match(channel):
            return self._refuse(call.method, ["channel_not_found"])  # names are not accepted here
        done = []
        for entry in files:
            pending = self._uploads.get(entry.get("id", ""))
            if pending is None or pending["content"] is None:
                return self._refuse(call.method, ["file_not_found"])
            if len(pending["content"]) != pending["length"]:
                return self._refuse(call.method, ["file_upload_size_mismatch"])
            self.files.append(
                UploadedFile(
                    entry["id"],
                    pending["filename"],
                    str(entry.get("title") or pending["filename"]),
                    pending["content"],
                    channel,
                    call.params.get("thread_ts") or None,
                    call.params.get("initial_comment") or None,
                )
            )
            done.append(
                {"id": entry["id"], "title": entry.get("title"), "name": pending["filename"]}
            )
        return {"ok": True, "files": done}


def _params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = {k: v[0] for k, v in request.query.items()}
    content_type = request.headers.get("content-type", "")
    if request.body and "json" in content_type:
        params.update(json.loads(request.body))
    elif request.body:
        params.update(
            {k: v[0] for k, v in parse_qs(request.body.decode(), keep_blank_values=True).items()}
        )
    return params


def _json(data: dict[str, Any]) -> Response:
    return Response(
        200, json.dumps(data).encode(), {"Content-Type": "application/json; charset=utf-8"}
    )


def posted_text(messages: Iterable[Posted]) -> str:
    return "\n".join(m.all_text() for m in messages)


__all__ = [
    "APP_TOKEN",
    "BOT_TOKEN",
    "ApiCall",
    "FakeSlack",
    "Fault",
    "Posted",
    "UploadedFile",
    "posted_text",
    "slack_problems",
]
