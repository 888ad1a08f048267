"""A real SMTP server (aiosmtpd) on 127.0.0.1, port 0, in a thread, recording what it accepted.

smtplib talks to it as to any mail server: plain, STARTTLS or TLS from the first byte, with
or without a login. A test can refuse recipients (`refuse`), answer DATA with an error
(`data_replies`) or drop connections (`drop`), and read every accepted message back as an
`EmailMessage` (`received`).
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

USER, PASSWORD = "litwatch", "s3cret-smtp-password"


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage
    raw: bytes


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 (and its key), for TLS tests only."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class FakeSmtp:
    """`with FakeSmtp() as smtp:` a server at `smtp.url`; `tls` is "", "starttls" or "smtps"."""

    def __init__(self, *, tls: str = "", cert: tuple[Path, Path] | None = None, login: bool = False):
        self.tls = tls
        self.login = login
        self.received: list[Received] = []
        self.refuse: dict[str, str] = {}  # recipient -> the RCPT reply, e.g. "550 5.1.1 no such user"
        self.data_replies: list[str] = []  # replies to the next DATA commands ("" accepts that one)
        self.drop = 0  # the next N messages: the connection is closed at DATA, nothing accepted
        self.logins: list[tuple[str, str]] = []
        self.connections = 0
        self._context: ssl.SSLContext | None = None
        if tls:
            assert cert is not None, "a TLS server needs a certificate"
            self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._context.load_cert_chain(*cert)
        self._loop = asyncio.new_event_loop()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-smtp", daemon=True)
        self._server: asyncio.AbstractServer | None = None

    @property
    def url(self) -> str:
        scheme = {"": "smtp", "starttls": "smtp+starttls", "smtps": "smtps"}[self.tls]
        return f"{scheme}://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeSmtp:
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        started.result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> None:
        self._server = await self._loop.create_server(self._protocol, sock=self._sock,
                                                      ssl=self._context if self.tls == "smtps" else None)

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def _protocol(self) -> SMTP:
        self.connections += 1
        kwargs: dict[str, Any] = {"hostname": "fake-smtp.test", "auth_require_tls": False}
        if self.tls == "starttls":
            kwargs.update(tls_context=self._context, require_starttls=True)
        if self.login:
            kwargs.update(authenticator=self._authenticate)
        return SMTP(_Handler(self), **kwargs)

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                      auth_data: Any) -> AuthResult:  # fmt: skip
        user = auth_data.login.decode() if isinstance(auth_data.login, bytes) else str(auth_data.login)
        password = auth_data.password.decode() if isinstance(auth_data.password, bytes) else str(auth_data.password)
        self.logins.append((user, password))
        return AuthResult(success=(user, password) == (USER, PASSWORD), handled=False)

    def to(self, address: str) -> list[EmailMessage]:
        return [r.message for r in self.received if address in r.recipients]


class _Handler:
    def __init__(self, fake: FakeSmtp):
        self.fake = fake

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:  # fmt: skip
        refusal = self.fake.refuse.get(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.fake.drop:
            self.fake.drop -= 1
            assert server.transport is not None
            server.transport.close()
            return "421 4.3.2 closing"
        reply = self.fake.data_replies.pop(0) if self.fake.data_replies else ""
        if reply:
            return reply
        raw = envelope.original_content or b""
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.fake.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), message, raw))
        return "250 2.0.0 accepted"
