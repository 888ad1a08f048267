"""Sending notifications by SMTP: one message per recipient, bounded retries, clear failures.

Each part of a notification is one e-mail, confirmed when the server accepts it (the reply
to DATA). A permanent refusal (5xx: unknown recipient, rejected sender, failed login) fails
the notification at once with the server's words, and it stays pending with that error, as
a Slack `channel_not_found` does. A temporary refusal (4xx), a dropped connection or a
timeout is retried with backoff; after the last attempt the notification stays pending and
the next run retries it. SMTP_PASSWORD is only ever handed to `login`.
"""

from __future__ import annotations

import hashlib
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from email.message import EmailMessage
from functools import partial

from bot.config import Environment, Settings, SmtpServer, now
from bot.errors import LitwatchError
from bot.export import to_ris
from bot.mail.address import mail_address
from bot.mail.render import EMAIL, Attachment, email_message, unsubscribe_link
from bot.notify import Notification
from bot.outbox import DeliveryFailed, Items, PartConfirmed, Unavailable
from bot.render import compact as smaller
from bot.render import messages
from bot.retry import RetriesExhausted, RetryPolicy, TransientError, call_with_retries

Sleep = Callable[[float], None]
UNAVAILABLE = Unavailable("e-mail", "SMTP_URL is not set")
ADDRESS_HELP = "mailto:someone@example.org"
parse_address = mail_address  # a subscriber address as typed (after `mailto:`), or None
HINTS = {
    "recipient": "check the address; a digest subscriber is removed with `litwatch unsubscribe mailto:…`",
    "sender": "check [email] from: the server does not accept it as a sender",
    "auth": "check SMTP_USERNAME and SMTP_PASSWORD",
}


def build_channel(env: Environment, settings: Settings) -> EmailChannel | None:
    """The e-mail channel when SMTP_URL is set (the registry's factory)."""
    if env.smtp is None:
        return None
    if not settings.email.sender:
        raise LitwatchError("SMTP_URL is set but the config has no [email] from: add the sender address")
    if env.smtp.username and not env.smtp_password:
        raise LitwatchError(f"SMTP_URL names the user {env.smtp.username!r} but SMTP_PASSWORD is not set")
    return EmailChannel(env.smtp, settings.email.sender, password=env.smtp_password)


class PermanentRefusal(Exception):
    """The server refused for good (5xx): retrying cannot help. `refused`: the message itself
    (after DATA), not the recipient, sender or login; `too_big`: for its size (552)."""

    def __init__(self, message: str, *, refused: bool = False, too_big: bool = False):
        super().__init__(message)
        self.refused, self.too_big = refused, too_big


class EmailChannel:
    """Sends `mailto:` notifications through one SMTP server."""

    scheme = "mailto"
    label = "e-mail"
    format = EMAIL

    def __init__(self, server: SmtpServer, sender: str, *, password: str = "",
                 policy: RetryPolicy | None = None, sleep: Sleep = time.sleep,
                 ssl_context: ssl.SSLContext | None = None) -> None:  # fmt: skip
        self.server = server
        self.sender = sender
        self._password = password
        self.policy = policy or RetryPolicy(attempts=4, base_delay=2.0, max_delay=30.0, total=120.0)
        self.sleep = sleep
        self.ssl_context = ssl_context

    def __repr__(self) -> str:  # never the password
        return f"EmailChannel({self.server.url}, from={self.sender})"

    def send(self, notification: Notification, items: Items, start_part: int,
             on_part: PartConfirmed | None = None, *, compact: bool = False) -> None:
        recipient = notification.address
        fmt = smaller(self.format) if compact and start_part == 0 else self.format
        parts = messages(notification, items, fmt)
        digest = notification.kind == "digest"
        done = start_part
        for index in range(start_part, len(parts)):
            last = index == len(parts) - 1
            attachments = (self._ris(notification, items),) if digest and items and last else ()
            mail = email_message(
                parts[index], sender=self.sender, recipient=recipient, attachments=attachments,
                # The same id for the same part on a retry: a mail client shows a duplicate once.
                message_id=_message_id(notification, index, self.sender),
                unsubscribe=unsubscribe_link(self.sender, recipient) if digest else "",
                footer=_footer(notification, recipient) if digest else "",
            )
            try:
                call_with_retries(partial(self._submit, mail, recipient), self.policy, sleep=self.sleep)
            except PermanentRefusal as exc:
                raise DeliveryFailed(str(exc), done, refused=exc.refused, too_big=exc.too_big) from None
            except RetriesExhausted as exc:
                raise DeliveryFailed(f"{exc} (the notification stays pending; the next run retries)", done) from None
            done = index + 1
            if on_part:
                on_part(done, parts[index].uids)

    def _ris(self, notification: Notification, items: Items) -> Attachment:
        day = (notification.summary.until or notification.created or now().isoformat())[:10]
        return Attachment(f"litwatch-digest-{day}.ris", to_ris(items).encode("utf-8"))

    def _submit(self, mail: EmailMessage, recipient: str) -> None:
        """One attempt: connect, secure, log in, send; classify what went wrong."""
        where = self.server.url
        try:
            with self._connect() as smtp:
                if self.server.username:
                    smtp.login(self.server.username, self._password)
                smtp.send_message(mail, from_addr=self.sender, to_addrs=[recipient])
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()), (0, b""))
            _raise_for(code, f"{recipient} refused: {code} {_words(text)}", "recipient")
        except smtplib.SMTPSenderRefused as exc:
            _raise_for(exc.smtp_code, f"sender {self.sender} refused: {exc.smtp_code} {_words(exc.smtp_error)}",
                       "sender")
        except smtplib.SMTPAuthenticationError as exc:
            _raise_for(exc.smtp_code, f"login refused at {where}: {exc.smtp_code} {_words(exc.smtp_error)}", "auth")
        except smtplib.SMTPDataError as exc:  # the message itself, after DATA
            if exc.smtp_code >= 500:
                raise PermanentRefusal(f"message refused at {where}: {exc.smtp_code} {_words(exc.smtp_error)}",
                                       refused=True, too_big=exc.smtp_code == 552) from None
            _raise_for(exc.smtp_code, f"SMTP {exc.smtp_code} {_words(exc.smtp_error)} at {where}", "")
        except smtplib.SMTPResponseException as exc:
            _raise_for(exc.smtp_code, f"SMTP {exc.smtp_code} {_words(exc.smtp_error)} at {where}", "")
        except socket.gaierror as exc:  # the host name does not resolve: retrying will not help
            raise PermanentRefusal(f"SMTP server {where} not found ({exc}); check SMTP_URL") from None
        except ssl.SSLError as exc:
            raise PermanentRefusal(f"TLS with {where} failed: {exc}; check SMTP_URL's scheme and port") from None
        except smtplib.SMTPNotSupportedError as exc:
            raise PermanentRefusal(f"{where}: {exc}; check SMTP_URL's scheme (smtp+starttls:// or smtps://)") from None
        except (smtplib.SMTPException, OSError) as exc:  # dropped, refused, reset, timed out
            raise TransientError(f"SMTP server {where} not reached or dropped the connection "
                                 f"({type(exc).__name__}: {exc})") from None

    def _connect(self) -> smtplib.SMTP:
        host, port, timeout = self.server.host, self.server.port, self.policy.timeout
        context = self.ssl_context or ssl.create_default_context()
        if self.server.security == "smtps":
            return smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        smtp = smtplib.SMTP(host, port, timeout=timeout)
        try:
            if self.server.security == "smtp+starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
        except BaseException:
            smtp.close()
            raise
        return smtp


def _message_id(notification: Notification, part: int, sender: str) -> str:
    """The same id for the same part of the same notification, in any process."""
    key = f"{notification.created}|{notification.route}|{notification.kind}|{notification.query}|{part}"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{sender.rpartition('@')[2]}>"


def _raise_for(code: int, message: str, hint_key: str) -> None:
    hint = HINTS.get(hint_key, "")
    text = f"{message} ({hint})" if hint and code >= 500 else message
    if code >= 500:
        raise PermanentRefusal(text)
    raise TransientError(text)


def _words(text: bytes | str) -> str:
    value = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return " ".join(value.split())[:300]


def _footer(notification: Notification, recipient: str) -> str:
    period = notification.summary.period or "weekly"
    return (f"You get this {period} litwatch digest because {recipient} is subscribed. To stop it, "
            f"reply with \"unsubscribe\" or ask the maintainer to run: litwatch unsubscribe mailto:{recipient}")
