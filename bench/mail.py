"""E-mail delivery against a real SMTP server on 127.0.0.1 (aiosmtpd): messages, bytes and time
per run and per digest, the workloads of bench/slack.py. Needs the test extras. (Named mail.py:
run as a script, a bench/email.py would shadow the stdlib's email package.)"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.slack import Source, item
from bot.config import SmtpServer, load_settings
from bot.digest import run_digests
from bot.mail.deliver import EmailChannel
from bot.outbox import flush
from bot.pipeline import run_query
from bot.retry import RetryPolicy
from bot.store import Diff, Store
from tests.factories import channels, context
from tests.fakes.smtp import FakeSmtp

CONFIG = """
[email]
from = "litwatch@example.org"
alerts_to = ["team@example.org"]

[[queries]]
name = "exo-alopecia"
source = "pubmed"
term = "exosome alopecia"
"""


def mailer(smtp: FakeSmtp) -> EmailChannel:
    return EmailChannel(SmtpServer("127.0.0.1", smtp.port), "litwatch@example.org", policy=RetryPolicy.fast())


def bench_run(new: int, settings_path: Path) -> str:
    settings = load_settings(settings_path)
    store = Store.memory()
    source = Source([[item(0)], [item(0), *(item(n) for n in range(1, new + 1))]])
    with FakeSmtp() as smtp:
        def run_and_deliver() -> None:
            run_query(settings.queries[0], context(settings, store, {"pubmed": source}))
            flush(store, channels(mailer(smtp)))

        run_and_deliver()  # the baseline summary: not counted
        before = len(smtp.received)
        started = time.perf_counter()
        run_and_deliver()
        seconds = time.perf_counter() - started
        sent = smtp.received[before:]
        assert not store.pending()
    size = sum(len(r.raw) for r in sent)
    return f"run with {new:>4} new items: {len(sent)} e-mail(s), {size / 1e3:,.0f} kB  {seconds:.2f} s"


def bench_digest(count: int, subscribers: int, settings_path: Path) -> str:
    settings = load_settings(settings_path)
    store = Store.memory()
    monday = datetime(2026, 3, 2, 9, tzinfo=UTC)
    for n in range(subscribers):
        store.subscribe(f"mailto:reader{n}@example.org", "weekly", now=monday)
    store.commit("exo-alopecia", Diff(new=[item(n) for n in range(count)]), now=monday + timedelta(days=1))
    with FakeSmtp() as smtp:
        started = time.perf_counter()
        run_digests(store, settings, channels(mailer(smtp)), moment=monday + timedelta(days=7))
        seconds = time.perf_counter() - started
        assert not store.pending() and len(smtp.received) == subscribers
    size = sum(len(r.raw) for r in smtp.received) / subscribers
    return (f"digest of {count} items to {subscribers} subscribers: {len(smtp.received)} e-mails "
            f"(one each, RIS attached), {size / 1e3:,.0f} kB each  {seconds:.2f} s")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "litwatch.toml"
        path.write_text(CONFIG, encoding="utf-8")
        print("one SMTP connection per message; fake SMTP server (aiosmtpd) on 127.0.0.1")
        for new in (1, 50, 500):
            print(bench_run(new, path))
        print(bench_digest(1000, 20, path))


if __name__ == "__main__":
    main()
