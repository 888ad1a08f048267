"""Slack delivery: rendering (pure), sinks and the chat-command listener."""
