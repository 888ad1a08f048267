"""Whether the bot can post to a digest target, asked of Slack before a subscription is stored.

A channel is checked with `conversations.info` (scopes `channels:read`, `groups:read`): the bot
must be a member (litwatch has no `chat:write.public`) and the channel not archived; Slack
answers `channel_not_found` for a private channel the bot was not invited to. A person is
checked by opening the DM (`conversations.open`, scope `im:write`), as the digest will.
"""

from __future__ import annotations

from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.config import USER_ID, Environment
from bot.slack.deliver import describe, make_client

INVITE = "invite the bot first (/invite @litwatch in that channel), then subscribe again"
REASONS = {
    "channel_not_found": f"Slack knows no channel the bot can see by that ID; {INVITE}",
    "missing_scope": "the Slack app lacks the channels:read / groups:read scopes; add them "
                     "(manifest.yml) and reinstall the app",
    "user_not_found": "Slack knows no such user",
    "user_disabled": "that user's account is deactivated",
}  # fmt: skip


def cannot_post(client: WebClient, target: str) -> str | None:
    """None when Slack says the bot can post to `target` (a channel ID or a user ID); else why
    not, as a sentence to show the person who asked."""
    try:
        if USER_ID.match(target):
            client.conversations_open(users=target)
            return None
        channel = client.conversations_info(channel=target).get("channel") or {}
    except SlackApiError as exc:
        data = exc.response.data if isinstance(exc.response.data, dict) else {}
        code = str(data.get("error") or f"HTTP {exc.response.status_code}")
        return REASONS.get(code, f"Slack refused to say whether the bot can post there ({describe(exc)})")
    except (SlackClientError, OSError, ValueError) as exc:
        return f"could not ask Slack whether the bot can post there ({describe(exc, client.base_url)}); try again"
    if channel.get("is_archived"):
        return "that channel is archived"
    if not channel.get("is_member") and not channel.get("is_im"):
        return f"the bot is not a member of that channel; {INVITE}"
    return None


def reach_for(env: Environment) -> Callable[[str], str | None] | None:
    """`cannot_post` on the bot token's client; None without a token (digests then print to the
    terminal, which can always be reached)."""
    if not env.slack_bot_token:
        return None
    client = make_client(env)
    return lambda target: cannot_post(client, target)
