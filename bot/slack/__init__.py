"""Slack: Block Kit writing (pure), the Slack channel and the chat-command listener."""
