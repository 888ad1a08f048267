"""Button clicks in (`block_actions`): a screening decision recorded, the message updated in place.

`parse_click` is pure: it reads Slack's documented `block_actions` payload (user, container,
channel, message, response_url, actions) into a `Click`, or says in a line what is wrong
with it. `screen` does the work after the ack: it records the decision through the store
(the daemon's single writer; `Store.record_decisions` holds the store lock and is on disk
when it returns), then rewrites the clicked message with `chat.update` so the item shows
"✓ Included by Alice", keeping every other block as Slack sent it back. An Exclude then
offers the configured exclusion reasons as an ephemeral select: optional, after the click.
Confirm / Not a safety signal is stored as a `SafetyFeedback` label (table
`safety_feedback`) for the classifier's next `make model`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Option, SectionBlock, StaticSelectElement

from bot.decisions import PAST, VERDICTS, Decision, Reviewer, SafetyFeedback, Verdict
from bot.errors import LitwatchError, UnknownRecord
from bot.markup import clip
from bot.slack.blocks import SAFETY_PREFIX, SCREEN_PREFIX, SECTION_TEXT, actions_block_id
from bot.slack.mrkdwn import escape

log = logging.getLogger(__name__)

REASON_ACTION = "screen:reason"  # the exclusion-reason select; its block_id is "reason:UID"
REASON_BLOCK = "reason:"
SAFETY_WORDS = {"confirm": True, "dismiss": False}
SCREEN_MARK = "✓ "  # the status line a decision adds under the item's text
SAFETY_MARK = "⚑ "
OPTION_TEXT = 75  # Slack's limit on an option's text

# chat.update(channel, ts, text, blocks)
Update = Callable[[str, str, str, list[dict[str, Any]]], None]
Post = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class Click:
    """One button click (or reason chosen) from a `block_actions` payload."""

    action: str  # "include" | "exclude" | "maybe" | "confirm" | "dismiss" | "reason"
    uid: str
    reviewer: Reviewer
    channel: str  # where the clicked message is ("" for an ephemeral one)
    message_ts: str
    text: str  # the message's fallback text, kept on update
    blocks: tuple[Mapping[str, Any], ...]
    response_url: str
    reason: str | None = None
    ephemeral: bool = False  # a reply only the clicker sees (`/litwatch screen`): no chat.update

    @property
    def where(self) -> str:
        return f"slack:{self.channel}/{self.message_ts}"


def parse_click(payload: Mapping[str, Any]) -> Click | str:
    """The click a `block_actions` payload carries, or a line saying why it cannot be one."""
    if payload.get("type") != "block_actions":
        return f"not a button click (payload type {str(payload.get('type'))[:40]!r})"
    actions = payload.get("actions")
    user = payload.get("user")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], Mapping):
        return "the click names no action"
    if not isinstance(user, Mapping) or not user.get("id"):
        return "the click names no user"
    action = actions[0]
    action_id = str(action.get("action_id") or "")
    reason = None
    if action_id == REASON_ACTION:
        uid = str(action.get("block_id") or "").removeprefix(REASON_BLOCK)
        selected = action.get("selected_option")
        reason = str(selected.get("value") or "") if isinstance(selected, Mapping) else ""
        verb = "reason"
        if not reason:
            return "no exclusion reason was chosen"
    elif action_id.startswith(SCREEN_PREFIX) and action_id[len(SCREEN_PREFIX):] in VERDICTS:
        verb, uid = action_id[len(SCREEN_PREFIX):], str(action.get("value") or "")
    elif action_id.startswith(SAFETY_PREFIX) and action_id[len(SAFETY_PREFIX):] in SAFETY_WORDS:
        verb, uid = action_id[len(SAFETY_PREFIX):], str(action.get("value") or "")
    else:
        return f"litwatch has no button {action_id[:60]!r}"
    if not uid:
        return "the button names no record"
    container, channel, message = (_mapping(payload.get(key)) for key in ("container", "channel", "message"))
    blocks = message.get("blocks")
    blocks = blocks if isinstance(blocks, list) else []
    name = str(user.get("name") or user.get("username") or user["id"])
    return Click(
        action=verb, uid=uid, reviewer=Reviewer(str(user["id"]), name),
        channel=str(container.get("channel_id") or channel.get("id") or ""),
        message_ts=str(container.get("message_ts") or message.get("ts") or ""),
        text=str(message.get("text") or ""), blocks=tuple(b for b in blocks if isinstance(b, Mapping)),
        response_url=str(payload.get("response_url") or ""), reason=reason,
        ephemeral=bool(container.get("is_ephemeral")),
    )  # fmt: skip


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def ephemeral(text: str, *, replace: bool = False) -> dict[str, Any]:
    """A response_url payload only the clicker sees."""
    return {"response_type": "ephemeral", "replace_original": replace, "text": text}


def screen(click: Click, *, store: Any, reviewers: Sequence[str], reasons: Sequence[str],
           update: Update, post: Post, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
    """Record what `click` decided, then show it: the message updated, or an ephemeral line."""
    if reviewers and click.reviewer.id not in reviewers:
        what = "judge safety signals" if click.action in SAFETY_WORDS else "screen"
        post(click.response_url, ephemeral(f"Sorry: only reviewers can {what} (they are listed under "
                                           "[screening] reviewers in the config). Nothing was recorded."))
        return
    try:
        status = _record(click, store, reasons, now())
    except UnknownRecord:
        post(click.response_url, ephemeral(f"Sorry: litwatch no longer holds {click.uid}; nothing was recorded."))
        return
    except LitwatchError as exc:  # the store cannot be written: say so, nothing claims success
        log.error("screening %s failed: %s", click.uid, exc)
        post(click.response_url, ephemeral(f"Sorry, that was not recorded: {exc}"))
        return
    if click.action == "reason":
        post(click.response_url, ephemeral(f"Recorded: excluded ({click.reason}).", replace=True))
        return
    blocks = with_status(click.blocks, click.uid, status,
                         SAFETY_MARK if click.action in SAFETY_WORDS else SCREEN_MARK)
    if click.ephemeral or blocks is None:  # chat.update cannot reach an ephemeral message
        if blocks is not None:
            post(click.response_url, {"replace_original": True, "text": click.text or "litwatch", "blocks": blocks})
        else:
            post(click.response_url, ephemeral(f"Recorded: {_plain(status)} ({click.uid})."))
    elif click.channel and click.message_ts:
        update(click.channel, click.message_ts, click.text, blocks)
    if click.action == "exclude" and reasons:
        post(click.response_url, reason_prompt(click.uid, reasons))


def _plain(status: str) -> str:
    return status.removeprefix(SCREEN_MARK).removeprefix(SAFETY_MARK)


def _record(click: Click, store: Any, reasons: Sequence[str], at: datetime) -> str:
    """Write the click through the store; the status line it earns, in mrkdwn."""
    name = escape(click.reviewer.name)
    if click.action in SAFETY_WORDS:
        signal = SAFETY_WORDS[click.action]
        store.record_safety_feedback(SafetyFeedback(click.uid, signal, click.reviewer, at, click.where))
        return f"{SAFETY_MARK}Safety signal confirmed by {name}" if signal else \
            f"{SAFETY_MARK}Not a safety signal (no harm to people reported), says {name}"
    verdict: Verdict = "exclude" if click.action == "reason" else click.action  # type: ignore[assignment]
    reason = click.reason
    if reason is not None and reason not in reasons:
        raise LitwatchError(f"{reason!r} is not one of the exclusion reasons in [screening]")
    store.record_decisions([Decision(click.uid, verdict, click.reviewer, at, click.where, reason)])
    return f"{SCREEN_MARK}{PAST[verdict]} by {name}"


def with_status(blocks: Sequence[Mapping[str, Any]], uid: str, status: str,
                mark: str) -> list[dict[str, Any]] | None:
    """The message's blocks with `status` as the last line of `uid`'s item text (replacing
    an earlier line with the same mark); None when the message has no buttons for `uid`."""
    out = [dict(b) for b in blocks]
    wanted = actions_block_id(uid)
    at = next((n for n, b in enumerate(out) if b.get("type") == "actions" and b.get("block_id") == wanted), None)
    if at is None or at == 0 or out[at - 1].get("type") != "section":
        return None
    above = dict(out[at - 1])
    text = dict(above.get("text") or {"type": "mrkdwn"})
    lines = [line for line in str(text.get("text") or "").split("\n") if not line.startswith(mark)]
    body, room = "\n".join(lines), SECTION_TEXT - len(status) - 1
    if len(body) > room:  # cut, not reflowed: the item's lines keep their breaks
        body = body[:room - 1] + "…"
    text["text"] = f"{body}\n{status}"
    above["text"] = text
    out[at - 1] = above
    return out


def reason_prompt(uid: str, reasons: Sequence[str]) -> dict[str, Any]:
    """The ephemeral "why excluded?" select (optional: the exclusion is already recorded)."""
    options = [Option(text=clip(r, OPTION_TEXT), value=r[:150]) for r in reasons[:100]]
    select = StaticSelectElement(action_id=REASON_ACTION, placeholder="Reason (optional)", options=options)
    blocks = [SectionBlock(text="Excluded. Add a reason? (optional)"),
              ActionsBlock(block_id=(REASON_BLOCK + uid)[:255], elements=[select])]
    return {**ephemeral("Excluded. Add a reason? (optional)"), "blocks": [b.to_dict() for b in blocks]}
