"""E-mail as a channel: a real SMTP server on 127.0.0.1 (aiosmtpd) and the stdlib client, with
STARTTLS on and off, refused recipients, retries, safe headers and the digest's RIS file."""

from __future__ import annotations

import io
import re
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import rispy

from bot.channels import build_channels, parse_route
from bot.cli import main
from bot.config import ConfigError, Environment, SmtpServer, load_settings, parse_smtp_url
from bot.mail.address import mail_address
from bot.mail.deliver import EmailChannel
from bot.models import Classification, FetchResult
from bot.outbox import flush
from bot.retry import RetryPolicy
from bot.store import Diff, Store
from tests.factories import channels, notification, pubmed_item, write_config
from tests.fakes.slack import BOT_TOKEN, FakeSlack
from tests.fakes.smtp import PASSWORD, USER, FakeSmtp, self_signed_cert
from tests.test_delivery_guarantees import EMAIL_CONFIG
from tests.test_pipeline import ScriptedSource, run
from tests.test_slack_deliver import Pauses, baseline_then

FAST = RetryPolicy(timeout=5, attempts=3, base_delay=0.001, max_delay=1, jitter=0)
MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EVIL_TITLE = "Exosomes\r\nBcc: victim@example.org\r\nX-Injected: yes\nfor hair <script>alert(1)</script>"


def mailer(smtp: FakeSmtp, *, username: str = "", password: str = "", pauses: Pauses | None = None,
           context: ssl.SSLContext | None = None) -> EmailChannel:  # fmt: skip
    security = {"": "smtp", "starttls": "smtp+starttls", "smtps": "smtps"}[smtp.tls]
    return EmailChannel(SmtpServer("127.0.0.1", smtp.port, security, username), "litwatch@example.org",
                        password=password, policy=FAST, sleep=pauses or Pauses(), ssl_context=context)


def email_settings(tmp_path: Path) -> object:
    return load_settings(write_config(tmp_path, EMAIL_CONFIG))


@pytest.mark.parametrize("tls", ["", "starttls", "smtps"])
def test_alerts_arrive_by_plain_smtp_starttls_and_smtps_with_a_login(tmp_path: Path, tls: str) -> None:
    """Safety alerts and the grouped items reach their recipients, over TLS when asked, logged in."""
    cert = self_signed_cert(tmp_path) if tls else None
    context = ssl.create_default_context(cafile=str(cert[0])) if cert else None
    with FakeSmtp(tls=tls, cert=cert, login=True) as smtp:
        store = Store.memory()
        baseline_then(email_settings(tmp_path), store, [pubmed_item(1, title="Exosome safety case"),
                                                        pubmed_item(2), pubmed_item(3)])  # type: ignore[arg-type]
        report = flush(store, channels(mailer(smtp, username=USER, password=PASSWORD, context=context)))
        assert report.delivered == 2 and store.pending() == []
        [safety] = smtp.to("safety@example.org")
        [grouped] = smtp.to("team@example.org")
        assert safety["Subject"] == "Safety signal — pm" and grouped["Subject"] == "2 new — pm"
        assert smtp.logins == [(USER, PASSWORD)] * 2


def test_an_email_is_multipart_text_and_html_with_outside_text_kept_out_of_headers(tmp_path: Path) -> None:
    """A title with CR/LF adds no header and no recipient; in the HTML part it is escaped."""
    with FakeSmtp() as smtp:
        store = Store.memory()
        baseline_then(email_settings(tmp_path), store, [pubmed_item(1, title=EVIL_TITLE)])  # type: ignore[arg-type]
        flush(store, channels(mailer(smtp)))
        [received] = smtp.received
        mail = received.message
        assert received.recipients == ["team@example.org"]
        assert mail["Bcc"] is None and mail["X-Injected"] is None and mail["To"] == "team@example.org"
        assert mail.get_content_type() == "multipart/alternative"
        text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        page = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
        assert "Bcc: victim@example.org" in text  # the words are shown, as words
        assert "<script>" not in page and "&lt;script&gt;" in page
        assert '<a href="https://pubmed.ncbi.nlm.nih.gov/30000001/">' in page
        assert b"\r\nBcc:" not in received.raw and b"\nX-Injected:" not in received.raw


def test_a_refused_recipient_is_recorded_and_the_others_still_get_theirs(tmp_path: Path) -> None:
    """A 5xx for one address keeps that notification pending with the server's words (not retried);
    the other recipient's notification is delivered, and the refused one goes out once fixed."""
    with FakeSmtp() as smtp:
        smtp.refuse["safety@example.org"] = "550 5.1.1 <safety@example.org>: no such user"
        store = Store.memory()
        pauses = Pauses()
        baseline_then(email_settings(tmp_path), store, [pubmed_item(1, title="Exosome safety case"),  # type: ignore[arg-type]
                                                        pubmed_item(2)])
        report = flush(store, channels(mailer(smtp, pauses=pauses)))
        assert report.delivered == 1 and len(smtp.to("team@example.org")) == 1
        [pending] = store.pending()
        assert pending.route == "mailto:safety@example.org" and pending.attempts == 1
        assert pending.last_error is not None
        assert pending.last_error.startswith("safety@example.org refused: 550 5.1.1 <safety@example.org>: no such user")
        assert "litwatch unsubscribe mailto:" in pending.last_error and pauses.seconds == []
        del smtp.refuse["safety@example.org"]
        assert flush(store, channels(mailer(smtp))).delivered == 1 and store.pending() == []


def test_a_4xx_or_a_dropped_connection_is_retried_with_backoff(tmp_path: Path) -> None:
    """A temporary refusal and a connection closed at DATA are retried; the alert arrives once."""
    with FakeSmtp() as smtp:
        smtp.data_replies = ["451 4.3.0 try again later"]
        smtp.drop = 1
        store = Store.memory()
        pauses = Pauses()
        baseline_then(email_settings(tmp_path), store, [pubmed_item(1)])  # type: ignore[arg-type]
        assert flush(store, channels(mailer(smtp, pauses=pauses))).delivered == 1
        assert len(smtp.received) == 1 and len(pauses.seconds) == 2


def test_a_server_that_is_not_listening_keeps_the_alert_pending_with_a_hint(tmp_path: Path) -> None:
    """Connection refused, after bounded retries: the error says where it tried; the password is never in it."""
    with FakeSmtp() as gone:
        port = gone.port
    channel = EmailChannel(SmtpServer("127.0.0.1", port, "smtp+starttls", USER), "litwatch@example.org",
                           password=PASSWORD, policy=FAST, sleep=Pauses())
    store = Store.memory()
    store.add_notifications([notification("error", "mailto:team@example.org", message="x")])
    flush(store, channels(channel))
    error = store.pending()[0].last_error or ""
    assert f"SMTP server smtp+starttls://{USER}@127.0.0.1:{port} not reached" in error
    assert "gave up after 3 attempts" in error and PASSWORD not in error and PASSWORD not in repr(channel)


def test_a_wrong_password_is_a_permanent_error_naming_the_variables(tmp_path: Path) -> None:
    """A refused login (535) is not retried, says to check SMTP_USERNAME/SMTP_PASSWORD, shows no password."""
    with FakeSmtp(login=True) as smtp:
        store = Store.memory()
        store.add_notifications([notification("error", "mailto:team@example.org", message="x")])
        flush(store, channels(mailer(smtp, username=USER, password="wrong-password")))
        error = store.pending()[0].last_error or ""
        assert "login refused" in error and "535" in error and "SMTP_USERNAME and SMTP_PASSWORD" in error
        assert "wrong-password" not in error and smtp.connections == 1  # not retried


def test_smtp_url_forms_and_their_errors() -> None:
    """SMTP_URL takes smtp://, smtp+starttls:// and smtps:// with default ports; a password in it,
    another scheme or a login over plain smtp:// to another host are refused in one line."""
    assert parse_smtp_url("smtp://mail.example.org") == SmtpServer("mail.example.org", 25, "smtp")
    assert parse_smtp_url("smtp+starttls://bot%40lab@mail.example.org") == SmtpServer(
        "mail.example.org", 587, "smtp+starttls", "bot@lab")
    assert parse_smtp_url("smtps://mail.example.org:2465", "bot") == SmtpServer("mail.example.org", 2465, "smtps", "bot")
    for url, words in [("smtp+starttls://bot:hunter2@mail.example.org", "put it in SMTP_PASSWORD"),
                       ("http://mail.example.org", "scheme"), ("smtp://", "no host"),
                       ("smtp://bot@mail.example.org", "password in clear")]:
        with pytest.raises(ConfigError) as failed:
            parse_smtp_url(url)
        assert words in str(failed.value) and "hunter2" not in str(failed.value)
    env = Environment.from_env({"SMTP_URL": "smtps://mail.example.org", "SMTP_USERNAME": "bot",
                                "SMTP_PASSWORD": "hunter2"})
    assert env.smtp == SmtpServer("mail.example.org", 465, "smtps", "bot") and "hunter2" not in repr(env)


@pytest.mark.parametrize("text", ["alice@example.org\r\nBcc: eve@example.org", "alice@example.org, eve@example.org",
                                  "Alice <alice@example.org>", "alice", "@example.org", "alice@localhost"])
def test_an_address_is_one_bare_address_or_nothing(text: str) -> None:
    """Whatever a person types, a mailto: route holds one plain address: no header, list or display name."""
    assert mail_address(text) is None and parse_route(f"mailto:{text}") is None
    assert parse_route("mailto:Alice.Smith+lit@Example.org") == "mailto:Alice.Smith+lit@Example.org"
    assert parse_route("#team") == parse_route("slack:#team") == "slack:#team"
    assert parse_route("teams:general") is None and parse_route("console") == "console"


def cli_email(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, smtp: FakeSmtp, config: str = EMAIL_CONFIG) -> None:
    monkeypatch.setenv("LITWATCH_CONFIG", str(write_config(tmp_path, config)))
    monkeypatch.setenv("SMTP_URL", smtp.url)


def labelled(n: int, safety: bool = False) -> object:
    item = pubmed_item(n, title=f"Exosome study {n}")
    item.classification = Classification("clinical", safety, False, ("test rule",))
    return item


def test_subscribe_mailto_gets_the_digest_with_its_ris_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """`litwatch subscribe mailto:…` then `litwatch digest`: one e-mail per subscriber, text + HTML,
    the RIS attached, and a List-Unsubscribe header; no Slack token anywhere."""
    with FakeSmtp() as smtp:
        cli_email(monkeypatch, tmp_path, smtp)
        monkeypatch.setenv("LITWATCH_NOW", MONDAY.isoformat())
        assert main(["subscribe", "mailto:alice@example.org"]) == 0
        monkeypatch.setenv("LITWATCH_NOW", (MONDAY + timedelta(days=6)).isoformat())
        assert main(["subscribe", "mailto:bob@example.org", "--period", "daily"]) == 0
        first = capsys.readouterr()
        assert "mailto:alice@example.org: subscribed to the weekly digest" in first.out and first.err == ""
        with Store.open(Environment.from_env().data_dir) as store:
            store.commit("pm", Diff(new=[labelled(1), labelled(2, safety=True)]),  # type: ignore[list-item]
                         now=MONDAY + timedelta(days=6, hours=1))
        monkeypatch.setenv("LITWATCH_NOW", (MONDAY + timedelta(days=7)).isoformat())
        assert main(["digest"]) == 0
        out = capsys.readouterr().out
        assert "digest for mailto:alice@example.org: 2 items" in out and "delivered 2 notification(s)" in out
        [alice] = smtp.to("alice@example.org")
        [bob] = smtp.to("bob@example.org")
        assert [r.recipients for r in smtp.received] == [["alice@example.org"], ["bob@example.org"]]
        assert alice["Subject"] == "Weekly digest — 2 new items" and bob["Subject"] == "Daily digest — 2 new items"
        assert alice["List-Unsubscribe"] == "<mailto:litwatch@example.org?subject=unsubscribe%20alice%40example.org>"
        assert alice.get_content_type() == "multipart/mixed"
        kinds = [part.get_content_type() for part in alice.walk()]
        assert kinds[:4] == ["multipart/mixed", "multipart/alternative", "text/plain", "text/html"]
        [ris] = list(alice.iter_attachments())
        assert ris.get_filename() == "litwatch-digest-2026-03-09.ris"
        records = rispy.loads(ris.get_content().decode() if isinstance(ris.get_content(), bytes) else ris.get_content())
        assert [r["accession_number"] for r in records] == ["30000001", "30000002"]
        text = alice.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "litwatch unsubscribe mailto:alice@example.org" in text and "Exosome study 2" in text


def test_with_slack_and_email_both_receive_each_alert(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                      fake_slack: FakeSlack) -> None:  # fmt: skip
    """A team with a Slack channel and an alerts address gets every per-run and safety alert in both."""
    config = '[slack]\nchannel = "C111"\nsafety_channel = "C999"\n' + EMAIL_CONFIG
    with FakeSmtp() as smtp:
        cli_email(monkeypatch, tmp_path, smtp, config)
        monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
        monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
        env = Environment.from_env()
        settings = load_settings(env.config_path)
        built = build_channels(env, settings)
        assert set(built.available) == {"slack", "mailto"}
        store = Store.memory()
        source = ScriptedSource([FetchResult(items=[pubmed_item(0)]),
                                 FetchResult(items=[pubmed_item(1, title="Exosome safety case"), pubmed_item(2)])])
        run(settings, store, source)
        run(settings, store, source)
        routes = sorted(n.route for n in store.pending())
        assert routes == ["mailto:safety@example.org", "mailto:team@example.org", "mailto:team@example.org",
                          "slack:C111", "slack:C111", "slack:C999"]
        assert flush(store, built).delivered == 6 and store.pending() == []
        assert len(smtp.to("team@example.org")) == 2 and len(smtp.to("safety@example.org")) == 1
        assert len(fake_slack.messages_in("C111")) == 2 and len(fake_slack.messages_in("C999")) == 1
        assert store.destinations() == {"slack", "mailto"}


def test_email_setup_problems_are_one_line_each(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """SMTP_URL without [email] from, a user without SMTP_PASSWORD, a bad [email] address: one line, exit 1 or 2."""
    monkeypatch.setenv("LITWATCH_CONFIG", str(write_config(tmp_path, '[slack]\nchannel = "C1"\n')))
    monkeypatch.setenv("SMTP_URL", "smtp://127.0.0.1:2525")
    assert main(["digest"]) == 1
    assert "SMTP_URL is set but the config has no [email] from" in capsys.readouterr().err
    monkeypatch.setenv("LITWATCH_CONFIG", str(write_config(tmp_path, EMAIL_CONFIG)))
    monkeypatch.setenv("SMTP_URL", "smtps://bot@127.0.0.1:2465")
    assert main(["digest"]) == 1
    assert "SMTP_PASSWORD is not set" in capsys.readouterr().err
    monkeypatch.setenv("LITWATCH_CONFIG", str(write_config(tmp_path, EMAIL_CONFIG.replace(
        '"team@example.org"', '"team@example.org\\nBcc: eve@example.org"'))))
    assert main(["check"]) == 2
    assert "email.alerts_to: 'team@example.org\\nBcc: eve@example.org' is not an e-mail address" in capsys.readouterr().err


def test_console_preview_of_an_email_store_says_how_to_go_back_to_the_terminal(tmp_path: Path) -> None:
    """Without SMTP_URL, a store that delivered by e-mail prints and keeps its alerts, and says so."""
    with FakeSmtp() as smtp:
        store = Store.memory()
        baseline_then(email_settings(tmp_path), store, [pubmed_item(1)])  # type: ignore[arg-type]
        flush(store, channels(mailer(smtp)))
        store.add_notifications([notification("error", "mailto:team@example.org", message="x")])
        env = Environment()
        held = flush(store, build_channels(env, email_settings(tmp_path), console=io.StringIO()))  # type: ignore[arg-type]
        from bot.outbox import held_notice

        line = held_notice(build_channels(env, email_settings(tmp_path)), "mailto", held.held["mailto"])  # type: ignore[arg-type]
        assert line == ("SMTP_URL is not set, but this store delivers to e-mail: 1 notification printed here and "
                        "kept for e-mail (`litwatch outbox --to-terminal` makes the terminal the destination again)")


def test_an_email_only_team_gets_its_baseline_alerts_and_safety_alerts_from_once(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """Issue 13, done when: with [email] and SMTP_URL and no Slack at all, `litwatch once` sends the
    baseline to alerts_to, then a safety signal at once to safety_to and the rest to alerts_to."""
    from tests.conftest import LOCAL_FIXTURES
    from tests.fakes.feeds import FakeFeeds

    config = EMAIL_CONFIG.split("[[queries]]")[0] + '[[queries]]\nname = "feed"\nsource = "feed"\nurl = "{url}"\n'
    with FakeSmtp() as smtp, FakeFeeds() as feeds:
        feeds.publish("/feed.xml", (LOCAL_FIXTURES / "rss2_preprints.xml").read_bytes())
        cli_email(monkeypatch, tmp_path, smtp, config.format(url=f"{feeds.url}/feed.xml"))
        assert main(["once"]) == 0
        [baseline] = smtp.to("team@example.org")
        assert baseline["Subject"] == "Baseline — feed"
        feeds.publish("/feed.xml", (LOCAL_FIXTURES / "atom_safety_alerts.xml").read_bytes(),
                      content_type="application/atom+xml")
        assert main(["once"]) == 0
        out = capsys.readouterr()
        assert "delivered" in out.out and "SLACK" not in out.err
        # safety_to gets the safety signals, and the baseline's list of records it flagged (if
        # the classifier flags any of the first feed's entries): nothing else.
        received = smtp.to("safety@example.org")
        safety = [m for m in received if m["Subject"] == "Safety signal — feed"]
        baseline_lists = [m for m in received if re.fullmatch(r"Baseline — \d+ flagged records? — feed", m["Subject"])]
        assert safety and len(safety) + len(baseline_lists) == len(received)
        assert "Unapproved exosome products" in "".join(
            m.get_body(("plain",)).get_content() for m in safety)  # type: ignore[union-attr]
        with Store.open(Environment.from_env().data_dir, readonly=True) as store:
            assert store.pending() == [] and store.destinations() == {"mailto"}


def test_subscribing_an_address_without_email_set_up_says_what_is_missing(monkeypatch: pytest.MonkeyPatch,
                                                                          tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """Subscribing mailto: on a Slack-only setup works, and says e-mail needs [email] from and SMTP_URL."""
    monkeypatch.setenv("LITWATCH_CONFIG", str(write_config(tmp_path)))
    assert main(["subscribe", "mailto:pi@example.org"]) == 0
    assert "note: e-mail needs [email] from in the config and SMTP_URL" in capsys.readouterr().err
