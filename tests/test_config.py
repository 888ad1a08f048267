"""Config validation: every problem at once, each naming file, key and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.config import ROOT_CONFIG_KEYS, Environment, load_settings
from bot.errors import ConfigError
from tests.factories import MINIMAL_CONFIG, write_config

BASE = '[slack]\nchannel = "C1"\n'

BROKEN = [
    ("[slack]\nchanel = 'C1'\n",
     ["slack.chanel: unknown key (allowed: admins, channel, safety_channel)", "slack.channel: missing (required)"]),
    ("", ["[slack]: missing table: alerts need a Slack channel ([slack] channel) or e-mail addresses ([email] from and alerts_to)"]),
    (BASE + "admins = ['@alice']\n",
     ["slack.admins: '@alice' is not a Slack user ID (U… or W…, from the person's profile > ⋮ > Copy member ID)"]),
    (BASE + "admins = 'U0ALICE01'\n", ["slack.admins: must be an array of non-empty strings"]),
    ("colour = 1\n" + BASE, [f"colour: unknown key (allowed: {', '.join(sorted(ROOT_CONFIG_KEYS))})"]),
    (BASE + "[digest]\nschedule = '0 9 * * 1'\n",
     ["digest.schedule: invalid crontab '0 9 * * 1': day of week '1' is numeric; use day names "
      "(mon-sun, e.g. 'mon' or 'mon-fri'): cron reads 0 as Sunday, the scheduler as Monday"]),
    (BASE + "[digest]\ntimezone = 'Mars/Olympus'\n",
     ["digest.timezone: unknown time zone 'Mars/Olympus' (use an IANA name such as 'Europe/Berlin')"]),
    (BASE + "[digest]\ntop = 'five'\n", ["digest.top: must be an integer, not a string"]),
    (BASE + "[[queries]]\nname = 'a'\nsource = 'pubmed'\n", ["queries[0].term: required for source = 'pubmed'"]),
    (BASE + "[[queries]]\nsource = 'pubmed'\nterm = 'x'\n", ["queries[0].name: missing (required)"]),
    (BASE + "[[queries]]\nname = 'Hair Loss'\nsource = 'pubmed'\nterm = 'x'\n",
     ["queries[0].name: 'Hair Loss' is not a slug (lowercase letters, digits, '-' and '_')"]),
    (BASE + "[[queries]]\nname = 'a'\nsource = 'embase'\nterm = 'x'\n",
     ["queries[0].source: unknown source 'embase' (expected one of: pubmed, clinicaltrials, feed)"]),
    (BASE + "[[queries]]\nname = 'a'\nsource = 'feed'\nurl = 'file:///etc/passwd'\n",
     ["queries[0].url: 'file:///etc/passwd' is not an http(s) URL (feeds are never read from local files)"]),
    (BASE + "[[queries]]\nname = 'a'\nsource = 'feed'\nurl = '/tmp/feed.xml'\n",
     ["queries[0].url: '/tmp/feed.xml' is not an http(s) URL (feeds are never read from local files)"]),
    (BASE + "[[queries]]\nname = 'a'\nsource = 'feed'\n", ["queries[0].url: required for source = 'feed'"]),
    (BASE + "[[queries]]\nname = 'a'\nsource = 'feed'\nurl = 'http://[::1'\n",
     ["queries[0].url: 'http://[::1' is not an http(s) URL (feeds are never read from local files)"]),
    (BASE + "[[queries]]\nname = 'a'\nsource = 'clinicaltrials'\n",
     ["queries[0]: source = 'clinicaltrials' needs at least one of term, condition, intervention"]),
    (BASE + "[[queries]]\nname = 'a'\nsource = 'pubmed'\nterm = 'x'\ncondition = 'y'\n",
     ["queries[0].condition: only applies to source = 'clinicaltrials', not 'pubmed'"]),
    (BASE + "[[queries]]\nname = 'a'\nsource = 'pubmed'\nterm = 'x'\nschedule = '0 25 * * *'\n",
     ["queries[0].schedule: invalid crontab '0 25 * * *': Error validating expression '25': "
      "the last value (25) is higher than the maximum value (23)"]),
    (BASE + "[[queries]]\nname = 'a'\nsource = 'pubmed'\nterm = 'x'\nschedule = 'daily'\n",
     ["queries[0].schedule: invalid crontab 'daily': expected 5 fields (minute hour day month day-of-week), got 1"]),
    (BASE + "[[queries]]\nname = 'a'\nsource = 'pubmed'\nterm = 'x'\nsince = '2024-13-01'\n",
     ["queries[0].since: '2024-13-01' is not a date (YYYY-MM-DD)"]),
    (BASE + "[[queries]]\nname = 'a'\nsource = 'pubmed'\nterm = 'x'\nenabled = 'yes'\n",
     ["queries[0].enabled: must be true or false, not a string"]),
    (BASE + "[[queries]]\nname = 'a'\nsource = 'pubmed'\nterm = 'x'\nfrequency = 'daily'\n",
     ["queries[0].frequency: unknown key (allowed: channel, condition, enabled, intervention, name, "
      "overlap_days, schedule, since, source, status, term, url)"]),
    (BASE + "[[queries]]\nname = 'a'\nsource = 'clinicaltrials'\nterm = 'x'\nstatus = ['RECRUTING']\n",
     ["queries[0].status: unknown trial status 'RECRUTING' (expected e.g. RECRUITING, COMPLETED)"]),
    (BASE + "[[queries]]\nname = 'a'\nsource = 'pubmed'\nterm = 'x'\n"
     "[[queries]]\nname = 'a'\nsource = 'pubmed'\nterm = 'y'\n",
     ["queries[1].name: duplicate name 'a' (also queries[0])"]),
    (BASE + "[classify]\nsafety_terms = 'granuloma'\n", ["classify.safety_terms: must be an array of non-empty strings"]),
    (BASE + "[classify]\nintervention_terms = 'exosome'\n",
     ["classify.intervention_terms: must be an array of non-empty strings"]),
    (BASE + "[classify]\ncondition_terms = ['hair', ' ']\n",
     ["classify.condition_terms: must be an array of non-empty strings"]),
    (BASE + "[classify]\nefficacy_terms = [3]\n", ["classify.efficacy_terms: must be an array of non-empty strings"]),
    (BASE + "[classify]\nintervention_terms = ['exosome*', 'vesicle']\n",
     ["classify.intervention_terms: 'exosome*' must start and end with a letter or digit "
      "(terms match whole words; list each form, e.g. 'exosome', 'exosomes')"]),
    (BASE + "[classify]\nsafety_terms = ['\"granuloma\"']\n",
     ["classify.safety_terms: '\"granuloma\"' must start and end with a letter or digit "
      "(terms match whole words; list each form, e.g. 'exosome', 'exosomes')"]),
    (BASE + "[classify]\ninterventions = ['exosome']\n",
     ["classify.interventions: unknown key (allowed: case_report_terms, clinical_terms, condition_terms, "
      "efficacy_terms, intervention_terms, review_threshold, safety_terms, safety_threshold)"]),
    ("queries = 3\n" + BASE, ["queries: must be an array of tables ([[queries]] blocks)"]),
    ("[slack\n", None),  # TOML syntax error: reported with the parser's position
]


@pytest.mark.parametrize(("text", "expected"), BROKEN)
def test_broken_config_reports_each_problem_with_file_and_key(tmp_path: Path, text: str,
                                                              expected: list[str] | None) -> None:
    """Each broken config yields exactly the expected `file: key: reason` lines."""
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    if expected is None:
        assert caught.value.problems[0].startswith(f"{path}: not valid TOML:")
        assert "line 1" in caught.value.problems[0]
    else:
        assert caught.value.problems == [f"{path}: {line}" for line in expected]


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    """Three independent mistakes in three places are reported together."""
    path = write_config(tmp_path, "[slack]\n[[queries]]\nname='a'\nsource='feed'\nurl='ftp://x'\n"
                                  "[[queries]]\nname='b'\nsource='pubmed'\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    keys = [p.split(": ")[1] for p in caught.value.problems]
    assert keys == ["slack.channel", "queries[0].url", "queries[1].term"]


def test_shipped_config_is_valid_and_covers_every_source() -> None:
    """config/litwatch.toml loads and watches PubMed, ClinicalTrials.gov and a safety feed."""
    settings = load_settings(Path(__file__).parent.parent / "config" / "litwatch.toml")
    assert {q.source for q in settings.queries} == {"pubmed", "clinicaltrials", "feed"}
    pubmed = next(q for q in settings.queries if q.source == "pubmed")
    assert "exosome" in pubmed.term.lower() and "alopecia" in pubmed.term.lower()
    assert all(q.enabled for q in settings.queries)


def test_defaults_fill_what_the_file_leaves_out(tmp_path: Path) -> None:
    """Schedule, timezone, enabled and digest defaults apply when omitted."""
    settings = load_settings(write_config(tmp_path))
    query = settings.query("pm")
    assert query is not None and query.schedule == "0 6 * * *" and query.enabled
    assert settings.digest.schedule == "0 9 * * mon" and settings.digest.timezone == "UTC"
    assert settings.safety_routes(query) == ("slack:C999",)
    assert settings.alert_routes(query) == ("slack:C111",)


def test_classify_terms_load_trimmed_in_file_order(tmp_path: Path) -> None:
    """Every [classify] key loads as a tuple of trimmed terms; omitted keys are empty."""
    settings = load_settings(write_config(tmp_path, BASE + "[classify]\n"
                                          "intervention_terms = [' exosome ', 'split-scalp injection']\n"
                                          "condition_terms = ['alopecia', 'hair']\n"))
    assert settings.classify.intervention_terms == ("exosome", "split-scalp injection")
    assert settings.classify.condition_terms == ("alopecia", "hair")
    assert settings.classify.efficacy_terms == () and settings.classify.safety_terms == ()


def test_missing_config_file_names_the_way_out(tmp_path: Path) -> None:
    """A missing file says which path was read and how to point elsewhere."""
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path / "nope.toml")
    assert "file not found; run litwatch from the project folder, or give the config's full path with --config FILE or LITWATCH_CONFIG" in caught.value.problems[0]


def test_check_command_prints_ok_or_problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """`litwatch check` prints `ok: N queries` (exit 0) or every problem (exit 2)."""
    monkeypatch.setenv("LITWATCH_CONFIG", str(write_config(tmp_path)))
    assert main(["check"]) == 0
    assert capsys.readouterr().out == "ok: 2 queries\n"
    bad = write_config(tmp_path, MINIMAL_CONFIG.replace('term = "exosome"\n', 'schedule = "x"\n'))
    monkeypatch.setenv("LITWATCH_CONFIG", str(bad))
    assert main(["check"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"{bad}: queries[1]: source = 'clinicaltrials' needs at least one of term, condition, intervention",
        f"{bad}: queries[1].schedule: invalid crontab 'x': expected 5 fields (minute hour day month day-of-week), got 1",
    ]


def test_invalid_config_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`litwatch once` with an invalid config exits 2 and creates no data directory."""
    monkeypatch.setenv("LITWATCH_CONFIG", str(write_config(tmp_path, "[slack]\n")))
    data = Environment.from_env().data_dir
    assert main(["once"]) == 2
    assert not data.exists()


def test_environment_keeps_secrets_out_of_repr() -> None:
    """Tokens read from the environment never show up in a repr (logs, tracebacks)."""
    env = Environment.from_env({"SLACK_BOT_TOKEN": "xoxb-secret", "NCBI_API_KEY": "k3y"})
    assert env.slack_bot_token == "xoxb-secret"
    assert "xoxb-secret" not in repr(env) and "k3y" not in repr(env)


def test_litwatch_now_pins_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """LITWATCH_NOW makes every date decision deterministic; a bad value is a clear error."""
    from bot.config import today

    monkeypatch.setenv("LITWATCH_NOW", "2026-03-01T08:00:00")
    assert today().isoformat() == "2026-03-01"
    monkeypatch.setenv("LITWATCH_NOW", "yesterday")
    with pytest.raises(ConfigError, match="LITWATCH_NOW: 'yesterday' is not an ISO 8601"):
        today()


def test_a_bad_litwatch_now_fails_at_start_up() -> None:
    """Reading the environment rejects a LITWATCH_NOW that is not ISO 8601, before any command runs."""
    with pytest.raises(ConfigError, match="LITWATCH_NOW: 'yesterday' is not an ISO 8601"):
        Environment.from_env({"LITWATCH_NOW": "yesterday"})


def test_email_routes_join_the_slack_ones(tmp_path: Path) -> None:
    """[email] alerts_to and safety_to add mailto: routes beside Slack's; a query's channel may be
    a Slack channel or one address; with only [email], no Slack route at all."""
    both = load_settings(write_config(tmp_path, '[slack]\nchannel = "C111"\n[email]\nfrom = "lw@example.org"\n'
                                      'alerts_to = ["team@example.org"]\n' + MINIMAL_CONFIG.split("[slack]")[0]
                                      + '[[queries]]\nname = "pm"\nsource = "pubmed"\nterm = "x"\n'
                                      'channel = "mailto:pm-lead@example.org"\n'))
    query = both.query("pm")
    assert query is not None
    assert both.alert_routes(query) == ("mailto:pm-lead@example.org", "mailto:team@example.org")
    assert both.safety_routes(query) == ("slack:C111", "mailto:team@example.org")
    bad = write_config(tmp_path, '[email]\nfrom = "lw@example.org"\n[[queries]]\nname = "pm"\n'
                       'source = "pubmed"\nterm = "x"\nchannel = "mailto:a@example.org,b@example.org"\n')
    with pytest.raises(ConfigError) as failed:
        load_settings(bad)
    assert "queries[0].channel: 'mailto:a@example.org,b@example.org' is not one e-mail address" in str(failed.value)
