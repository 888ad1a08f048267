"""Neutral messages to Slack Block Kit (pure), within Slack's limits.

Slack's limits are respected here, not left to the API to reject: at most 50 blocks, section
text <= 3,000 characters, header <= 150, the whole message well below 40,000 characters.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.markup import clip
from bot.notify import Notification
from bot.render import Choices, Context, Element, Format, Header, Message, Section, messages
from bot.slack.mrkdwn import mrkdwn

MAX_BLOCKS = 50
SECTION_TEXT = 3000
HEADER_TEXT = 150
CONTEXT_ELEMENTS = 10
MESSAGE_TEXT = 24_000  # Slack truncates at 40,000; stay well below
FALLBACK_TEXT = 300
ITEMS_PER_MESSAGE = 20  # readable in one screen; a 500-item run is 25 messages

SLACK = Format(write=mrkdwn, section_text=SECTION_TEXT, header_text=HEADER_TEXT, max_blocks=MAX_BLOCKS,
               message_text=MESSAGE_TEXT, items_per_message=ITEMS_PER_MESSAGE, fallback_text=FALLBACK_TEXT,
               buttons=True)

# The buttons under each item (an actions block after its section, `block_id` "screen:UID"):
# `action_id` says what was chosen, `value` names the item (Slack allows 2,000 characters).
SCREEN_PREFIX = "screen:"
SAFETY_PREFIX = "safety:"
BUTTONS = (("include", "Include", "primary"), ("exclude", "Exclude", "danger"), ("maybe", "Maybe", None))
SAFETY_BUTTONS = (("confirm", "Confirm"), ("dismiss", "Not a safety signal"))
BLOCK_ID = 255  # Slack's limit on a block_id


def actions_block_id(uid: str) -> str:
    """The block_id of an item's buttons: "screen:UID", or a digest of a uid too long for one."""
    block_id = SCREEN_PREFIX + uid
    if len(block_id) <= BLOCK_ID:
        return block_id
    return SCREEN_PREFIX + "sha1:" + hashlib.sha1(uid.encode()).hexdigest()


def choice_block(choices: Choices) -> ActionsBlock:
    """Include / Exclude / Maybe (and for a safety alert Confirm / Not a safety signal)."""
    buttons = [ButtonElement(text=label, action_id=SCREEN_PREFIX + verdict, value=choices.uid, style=style)
               for verdict, label, style in BUTTONS]
    if choices.safety:
        buttons += [ButtonElement(text=label, action_id=SAFETY_PREFIX + name, value=choices.uid)
                    for name, label in SAFETY_BUTTONS]
    return ActionsBlock(block_id=actions_block_id(choices.uid), elements=buttons)


def to_slack(message: Message, fmt: Format = SLACK) -> dict[str, Any]:
    """One message as chat.postMessage arguments: `{"text", "blocks"}`."""
    blocks = [_choice_dict(e) if isinstance(e, Choices) else _block(e, fmt).to_dict() for e in message.elements]
    return {"text": clip(mrkdwn(message.fallback), FALLBACK_TEXT), "blocks": blocks}


def render(notification: Notification, items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The Slack messages (`{"text", "blocks"}`) for one notification, in posting order."""
    return [to_slack(m) for m in messages(notification, items, SLACK)]


@lru_cache(maxsize=2)
def _choice_template(safety: bool) -> dict[str, Any]:
    return choice_block(Choices("", safety)).to_dict()


def _choice_dict(choices: Choices) -> dict[str, Any]:
    """`choice_block(choices).to_dict()`, from a template slack_sdk built and checked once:
    building five validated button objects per item would halve the rendering rate."""
    template = _choice_template(choices.safety)
    elements = [{**e, "text": dict(e["text"]), "value": choices.uid} for e in template["elements"]]
    return {**template, "block_id": actions_block_id(choices.uid), "elements": elements}


def _block(element: Element, fmt: Format) -> Block:
    if isinstance(element, Header):
        text = f":{element.emoji}: {element.text}" if element.emoji else element.text
        return HeaderBlock(text=PlainTextObject(text=clip(text, HEADER_TEXT), emoji=True))
    if isinstance(element, Section):
        return SectionBlock(text=MarkdownTextObject(text=element.text(fmt), verbatim=True))
    if isinstance(element, Choices):
        return choice_block(element)
    if isinstance(element, Context):
        texts = [mrkdwn(line)[:SECTION_TEXT] for line in element.lines[:CONTEXT_ELEMENTS]]
        return ContextBlock(elements=[MarkdownTextObject(text=t, verbatim=True) for t in texts])
    return DividerBlock()
