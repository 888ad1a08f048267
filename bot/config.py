"""The validated config file and the environment: the only module that reads either.

Validation collects every problem before reporting, each as `file: key: reason`, so one
`litwatch check` shows everything to fix.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot import registry
from bot.decisions import DEFAULT_EXCLUSION_REASONS
from bot.errors import ConfigError
from bot.mail.address import mail_address
from bot.notify import CONSOLE

DEFAULT_CONFIG = Path("config/litwatch.toml")
DEFAULT_DATA = Path("data")
DEFAULT_QUERY_SCHEDULE = "0 6 * * *"
DEFAULT_DIGEST_SCHEDULE = "0 9 * * mon"
SLACK_API_URL = "https://slack.com/api/"
DEFAULT_FETCH_DEADLINE = 60.0
DEFAULT_MAX_FETCH_MB = 20
ROOT_CONFIG_KEYS = frozenset({"slack", "email", "digest", "classify", "screening", "queries"})
SMTP_SCHEMES = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
SLACK_USER = re.compile(r"^[UW][A-Z0-9]{6,}$")
# A classifier term is matched as whole words, so it must begin and end with one.
TERM = re.compile(r"^[^\W_](?:.*[^\W_])?$", re.DOTALL)
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")  # a Slack member ID
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# ---------------------------------------------------------------- environment


@dataclass(frozen=True)
class Environment:
    """Every environment variable litwatch reads. Secrets are kept out of repr()."""

    config_path: Path = DEFAULT_CONFIG
    data_dir: Path = DEFAULT_DATA
    # Each source's base URL by its environment variable (NCBI_EUTILS_URL, CTGOV_API_URL, ...);
    # a variable not set here means the source's default (`base_url`).
    source_urls: Mapping[str, str] = field(default_factory=dict)
    slack_api_url: str = SLACK_API_URL
    fetch_deadline: float = DEFAULT_FETCH_DEADLINE  # seconds one fetch may take, all its bytes included
    max_fetch_bytes: int = DEFAULT_MAX_FETCH_MB * 1024 * 1024
    ncbi_email: str = ""
    ncbi_api_key: str = field(default="", repr=False)
    slack_bot_token: str = field(default="", repr=False)
    slack_app_token: str = field(default="", repr=False)
    slack_signing_secret: str = field(default="", repr=False)
    smtp: SmtpServer | None = None  # from SMTP_URL (and SMTP_USERNAME)
    smtp_password: str = field(default="", repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Environment:
        env = os.environ if environ is None else environ

        def get(name: str, default: str = "") -> str:
            return env.get(name, "").strip() or default

        _parse_now(get("LITWATCH_NOW"))  # a bad pin fails at start-up, not at the first date
        return cls(
            config_path=Path(get("LITWATCH_CONFIG", str(DEFAULT_CONFIG))),
            data_dir=Path(get("LITWATCH_DATA", str(DEFAULT_DATA))),
            source_urls={s.url_variable: get(s.url_variable).rstrip("/") for s in registry.specs()
                         if s.url_variable and get(s.url_variable)},
            slack_api_url=_with_slash(get("SLACK_API_URL", SLACK_API_URL)),
            fetch_deadline=_positive(get("LITWATCH_FETCH_DEADLINE"), "LITWATCH_FETCH_DEADLINE", "seconds",
                                     DEFAULT_FETCH_DEADLINE),
            max_fetch_bytes=int(_positive(get("LITWATCH_MAX_FETCH_MB"), "LITWATCH_MAX_FETCH_MB", "megabytes",
                                          DEFAULT_MAX_FETCH_MB) * 1024 * 1024),
            ncbi_email=get("NCBI_EMAIL"),
            ncbi_api_key=get("NCBI_API_KEY"),
            slack_bot_token=get("SLACK_BOT_TOKEN"),
            slack_app_token=get("SLACK_APP_TOKEN"),
            slack_signing_secret=get("SLACK_SIGNING_SECRET"),
            smtp=parse_smtp_url(get("SMTP_URL"), get("SMTP_USERNAME")) if get("SMTP_URL") else None,
            smtp_password=env.get("SMTP_PASSWORD", ""),
        )

    def base_url(self, spec: registry.SourceSpec) -> str:
        """Where `spec`'s API lives: its variable if set, else its default."""
        return (self.source_urls.get(spec.url_variable or "") or spec.default_url).rstrip("/")

    def url_is_set(self, spec: registry.SourceSpec) -> bool:
        """Whether the operator moved `spec`'s base URL (a mirror, a proxy, a typo to check)."""
        return bool(spec.url_variable and self.source_urls.get(spec.url_variable))


def _positive(value: str, name: str, unit: str, default: float) -> float:
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not 0 < number < float("inf"):
        raise ConfigError([f"{name}: {value!r} is not a positive number of {unit} (default {default:g})"])
    return number


@dataclass(frozen=True)
class SmtpServer:
    """Where e-mail goes: `SMTP_URL` parsed. The password is never part of it (SMTP_PASSWORD)."""

    host: str
    port: int
    security: str = "smtp"  # smtp (plain), smtp+starttls, smtps (TLS from the first byte)
    username: str = ""

    @property
    def url(self) -> str:
        """For messages: no password, ever."""
        user = f"{self.username}@" if self.username else ""
        return f"{self.security}://{user}{self.host}:{self.port}"


def parse_smtp_url(url: str, username: str = "") -> SmtpServer:
    """`smtp://host:port`, `smtp+starttls://user@host:587` or `smtps://host:465`."""
    from urllib.parse import unquote, urlsplit

    forms = "use smtp://host:port, smtp+starttls://host:587 or smtps://host:465"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ConfigError([f"SMTP_URL: not a URL ({forms})"]) from None
    scheme = parts.scheme.lower()
    if scheme not in SMTP_SCHEMES or not parts.hostname:
        raise ConfigError([f"SMTP_URL: {scheme or 'no'} scheme or no host ({forms})"])
    if parts.password is not None:
        # The URL is shown in error messages; a secret in it would be shown too.
        raise ConfigError(["SMTP_URL: contains a password; put it in SMTP_PASSWORD instead"])
    user = unquote(parts.username or "") or username
    if user and scheme == "smtp" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        raise ConfigError([f"SMTP_URL: a login over plain smtp:// would send the password in clear; use "
                           f"smtp+starttls://{parts.hostname}:587 or smtps://{parts.hostname}:465"])
    return SmtpServer(host=parts.hostname, port=port or SMTP_SCHEMES[scheme], security=scheme, username=user)


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def _parse_now(value: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError([f"LITWATCH_NOW: {value!r} is not an ISO 8601 date or datetime"]) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def now() -> datetime:
    """The one clock every date decision reads; `LITWATCH_NOW` (ISO 8601) pins it."""
    pinned = _parse_now(os.environ.get("LITWATCH_NOW", "").strip())
    # Always UTC: stored stamps are compared as ISO strings, which needs one offset.
    return pinned.astimezone(UTC) if pinned else datetime.now(UTC)


def today() -> date:
    return now().astimezone(UTC).date()


# ---------------------------------------------------------------- settings


@dataclass(frozen=True)
class SavedQuery:
    """One saved search, run on its schedule against one source."""

    name: str
    source: str
    term: str = ""
    condition: str = ""
    intervention: str = ""
    status: tuple[str, ...] = ()
    url: str = ""
    schedule: str = DEFAULT_QUERY_SCHEDULE
    since: date | None = None
    channel: str | None = None
    enabled: bool = True
    overlap_days: int | None = None
    # Keys a source declares beyond the fields above, as (key, value) pairs: see `option`.
    options: tuple[tuple[str, Any], ...] = ()

    def option(self, key: str, default: Any = None) -> Any:
        return next((value for name, value in self.options if name == key), default)


@dataclass(frozen=True)
class SlackSettings:
    channel: str = ""
    safety_channel: str = ""
    admins: tuple[str, ...] = ()  # user IDs who may use status, queries and run anywhere

    @property
    def safety_target(self) -> str:
        return self.safety_channel or self.channel


@dataclass(frozen=True)
class EmailSettings:
    """`[email]`: the sender, and who gets per-run alerts and safety alerts by e-mail."""

    sender: str = ""
    alerts_to: tuple[str, ...] = ()
    safety_to: tuple[str, ...] = ()  # empty: safety alerts go to alerts_to


@dataclass(frozen=True)
class DigestSettings:
    schedule: str = DEFAULT_DIGEST_SCHEDULE
    timezone: str = "UTC"
    top: int = 5  # items shown per kind before "N more"


@dataclass(frozen=True)
class ClassifySettings:
    """Topic vocabulary added to the classifier's built-in rules, which know only general
    medicine: each term matches whole words, case-insensitively, a space or hyphen either."""

    safety_terms: tuple[str, ...] = ()  # harm words of the topic ("granuloma")
    clinical_terms: tuple[str, ...] = ()  # study designs ("split-scalp")
    case_report_terms: tuple[str, ...] = ()  # case-report phrasings ("clinical vignette")
    intervention_terms: tuple[str, ...] = ()  # products, procedures: causes of harm ("exosome")
    condition_terms: tuple[str, ...] = ()  # conditions that make counted people a health study
    efficacy_terms: tuple[str, ...] = ()  # benefit words: "no regrowth or ..." spares the harm
    # Record safety scores (0-1) from which an item is a safety signal, or a possible one shown
    # in the per-run alert; None: the thresholds shipped with the model (recall >= 0.95 / 0.99).
    safety_threshold: float | None = None
    review_threshold: float | None = None


@dataclass(frozen=True)
class ScreeningSettings:
    """How the team screens: the reasons an exclusion may give, and who may decide (Slack
    user IDs; empty: anyone)."""

    exclusion_reasons: tuple[str, ...] = DEFAULT_EXCLUSION_REASONS
    reviewers: tuple[str, ...] = ()

    def reason(self, text: str) -> str | None:
        """The configured reason `text` names (case and spacing aside), or None."""
        wanted = " ".join(text.lower().split())
        return next((r for r in self.exclusion_reasons if r.lower() == wanted), None)


@dataclass(frozen=True)
class Settings:
    path: Path
    slack: SlackSettings
    digest: DigestSettings
    classify: ClassifySettings
    queries: tuple[SavedQuery, ...]
    email: EmailSettings = EmailSettings()
    screening: ScreeningSettings = ScreeningSettings()

    def query(self, name: str) -> SavedQuery | None:
        return next((q for q in self.queries if q.name == name), None)

    @property
    def enabled_queries(self) -> tuple[SavedQuery, ...]:
        return tuple(q for q in self.queries if q.enabled)

    def alert_routes(self, query: SavedQuery) -> tuple[str, ...]:
        """Where a query's per-run alerts, baselines, errors and warnings go."""
        slack = query.channel or self.slack.channel
        routes = [_route(slack)] if slack else []
        routes += [f"mailto:{a}" for a in self.email.alerts_to]
        return tuple(dict.fromkeys(routes)) or (CONSOLE,)

    def safety_routes(self, query: SavedQuery) -> tuple[str, ...]:
        """Where safety and integrity alerts go, one message per item, at once."""
        slack = self.slack.safety_target
        routes = [_route(slack)] if slack else []
        routes += [f"mailto:{a}" for a in self.email.safety_to or self.email.alerts_to]
        return tuple(dict.fromkeys(routes)) or (CONSOLE,)


    def route_origins(self, route: str) -> list[str]:
        """The config keys that send notifications to `route` (for hints on undeliverable ones)."""
        origins = []
        if self.slack.channel and _route(self.slack.channel) == route:
            origins.append("[slack] channel")
        if self.slack.safety_channel and _route(self.slack.safety_channel) == route:
            origins.append("[slack] safety_channel")
        origins += [f"channel of query {q.name}" for q in self.queries if q.channel and _route(q.channel) == route]
        if route in (f"mailto:{a}" for a in self.email.alerts_to):
            origins.append("[email] alerts_to")
        if route in (f"mailto:{a}" for a in self.email.safety_to):
            origins.append("[email] safety_to")
        return origins


def _route(channel: str) -> str:
    """A configured channel as a route: a bare Slack channel means Slack (config from before routes)."""
    scheme, _, rest = channel.partition(":")
    if scheme.lower() == "mailto":
        return f"mailto:{mail_address(rest)}"
    return channel if scheme in ("slack", CONSOLE) else f"slack:{channel}"


# ---------------------------------------------------------------- validation


def load_settings(path: Path | str | None = None) -> Settings:
    """Read and validate the config; raise ConfigError listing every problem found."""
    path = Path(path) if path is not None else Environment.from_env().config_path
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        where = "" if path.is_absolute() else f" (looked in {Path.cwd()})"
        raise ConfigError(
            [f"{path}: file not found{where}; run litwatch from the project folder, "
             "or give the config's full path with --config FILE or LITWATCH_CONFIG"]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    return parse_settings(raw, path)


def parse_settings(raw: Mapping[str, Any], path: Path) -> Settings:
    v = _Validator(path)
    v.keys(raw, "", ROOT_CONFIG_KEYS)
    slack_raw = v.table(raw, "slack")
    email_raw = v.table(raw, "email")
    if "slack" not in raw and "email" not in raw:
        v.problem("[slack]", "missing table: alerts need a Slack channel ([slack] channel) "
                  "or e-mail addresses ([email] from and alerts_to)")
    digest_raw = v.table(raw, "digest")
    classify_raw = v.table(raw, "classify")

    v.keys(slack_raw, "slack", {"channel", "safety_channel", "admins"})
    admins = v.terms(slack_raw, "slack", "admins")
    not_ids = [a for a in admins if not USER_ID.match(a)]
    if not_ids:
        v.problem("slack.admins", f"{not_ids[0]!r} is not a Slack user ID (U… or W…, from the person's "
                  "profile > ⋮ > Copy member ID)")
        admins = ()
    slack = SlackSettings(
        channel=v.text(slack_raw, "slack", "channel", required="slack" in raw),
        safety_channel=v.text(slack_raw, "slack", "safety_channel"),
        admins=admins,
    )

    email = _parse_email(v, email_raw) if "email" in raw else EmailSettings()

    v.keys(digest_raw, "digest", {"schedule", "timezone", "top"})
    timezone = v.text(digest_raw, "digest", "timezone") or "UTC"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        v.problem("digest.timezone", f"unknown time zone {timezone!r} (use an IANA name such as 'Europe/Berlin')")
    digest = DigestSettings(
        schedule=v.crontab(digest_raw, "digest", "schedule", DEFAULT_DIGEST_SCHEDULE),
        timezone=timezone,
        top=v.integer(digest_raw, "digest", "top", 5, minimum=1, maximum=20),
    )

    thresholds = ("safety_threshold", "review_threshold")
    classify_keys = [f.name for f in fields(ClassifySettings) if f.name not in thresholds]  # term lists
    v.keys(classify_raw, "classify", {*classify_keys, *thresholds})
    terms: dict[str, Any] = {key: v.words(classify_raw, "classify", key) for key in classify_keys}
    classify = ClassifySettings(**terms, safety_threshold=v.fraction(classify_raw, "classify", "safety_threshold"),
                                review_threshold=v.fraction(classify_raw, "classify", "review_threshold"))

    screening = _parse_screening(v, v.table(raw, "screening"))

    queries: list[SavedQuery] = []
    raw_queries = raw.get("queries", [])
    if not isinstance(raw_queries, list) or not all(isinstance(q, dict) for q in raw_queries):
        v.problem("queries", "must be an array of tables ([[queries]] blocks)")
        raw_queries = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(raw_queries):
        query = _parse_query(v, entry, f"queries[{index}]")
        if query is None:
            continue
        if query.name in seen:
            v.problem(f"queries[{index}].name", f"duplicate name {query.name!r} (also queries[{seen[query.name]}])")
        seen.setdefault(query.name, index)
        queries.append(query)

    if v.problems:
        raise ConfigError(v.problems)
    return Settings(path=path, slack=slack, digest=digest, classify=classify, queries=tuple(queries),
                    email=email, screening=screening)


def _parse_email(v: _Validator, raw: Mapping[str, Any]) -> EmailSettings:
    v.keys(raw, "email", {"from", "alerts_to", "safety_to"})
    sender = v.text(raw, "email", "from", required=True)
    if sender and mail_address(sender) is None:
        v.problem("email.from", f"{sender!r} is not an e-mail address (name@example.org, no display name)")

    def addresses(key: str) -> tuple[str, ...]:
        listed = v.terms(raw, "email", key)
        bad = [a for a in listed if mail_address(a) is None]
        if bad:
            v.problem(f"email.{key}", f"{bad[0]!r} is not an e-mail address (name@example.org)")
            return ()
        return tuple(dict.fromkeys(str(mail_address(a)) for a in listed))

    return EmailSettings(sender=str(mail_address(sender) or ""), alerts_to=addresses("alerts_to"),
                         safety_to=addresses("safety_to"))


def _parse_screening(v: _Validator, raw: Mapping[str, Any]) -> ScreeningSettings:
    v.keys(raw, "screening", {"exclusion_reasons", "reviewers"})
    reasons = v.terms(raw, "screening", "exclusion_reasons") if "exclusion_reasons" in raw \
        else DEFAULT_EXCLUSION_REASONS
    if "exclusion_reasons" in raw and not reasons and raw.get("exclusion_reasons") == []:
        v.problem("screening.exclusion_reasons", "must list at least one reason (or leave the key out "
                  "for the defaults)")
    folded = [" ".join(r.lower().split()) for r in reasons]
    repeated = next((r for i, r in enumerate(folded) if r in folded[:i]), None)
    if repeated:
        v.problem("screening.exclusion_reasons", f"{repeated!r} is listed twice")
    reviewers = v.terms(raw, "screening", "reviewers")
    bad = [r for r in reviewers if not SLACK_USER.match(r)]
    if bad:
        v.problem("screening.reviewers", f"{bad[0]!r} is not a Slack user ID (U… or W…; under the "
                  "person's profile > ⋮ > Copy member ID)")
    return ScreeningSettings(exclusion_reasons=tuple(reasons) or DEFAULT_EXCLUSION_REASONS,
                             reviewers=tuple(reviewers))


# Keys every [[queries]] block may have; each source adds its own (`SourceSpec.query_keys`).
COMMON_QUERY_KEYS = frozenset({"name", "source", "schedule", "since", "channel", "enabled", "overlap_days"})
_TEXT_FIELDS = ("term", "condition", "intervention", "url")  # SavedQuery fields a source may claim


def _parse_query(v: _Validator, raw: Mapping[str, Any], key: str) -> SavedQuery | None:
    specs = registry.specs()
    v.keys(raw, key, COMMON_QUERY_KEYS.union(*(s.query_keys for s in specs)))
    name = v.text(raw, key, "name", required=True)
    if name and not SLUG.match(name):
        v.problem(f"{key}.name", f"{name!r} is not a slug (lowercase letters, digits, '-' and '_')")
    source = v.text(raw, key, "source", required=True)
    spec = registry.get(source) if source else None
    if source and spec is None:
        v.problem(f"{key}.source", f"unknown source {source!r} (expected one of: {', '.join(registry.names())})")
    if spec is not None:
        for option in sorted(set(raw) - COMMON_QUERY_KEYS - spec.query_keys):
            owners = [s.name for s in specs if option in s.query_keys]
            if not owners:
                continue  # an unknown key, reported above
            where = f"source = {owners[0]!r}" if len(owners) == 1 else f"{' and '.join(owners)} queries"
            v.problem(f"{key}.{option}", f"only applies to {where}, not {source!r}")
    term, condition, intervention, url = (v.text(raw, key, field_name) for field_name in _TEXT_FIELDS)
    statuses = v.terms(raw, key, "status")
    own = spec.query_keys if spec is not None else frozenset()
    options = tuple(sorted((k, raw[k]) for k in own - {*_TEXT_FIELDS, "status"} if k in raw))
    query = SavedQuery(name=name or "?", source=source, term=term, condition=condition, intervention=intervention,
                       url=url, status=statuses, options=options)  # fmt: skip
    if spec is not None:
        for sub, reason in spec.check_query(query, raw):
            v.problem(f"{key}.{sub}" if sub else key, reason)

    since_raw = raw.get("since")
    since: date | None = None
    if since_raw is not None:
        if isinstance(since_raw, date) and not isinstance(since_raw, datetime):
            since = since_raw
        elif isinstance(since_raw, str):
            try:
                since = date.fromisoformat(since_raw)
            except ValueError:
                v.problem(f"{key}.since", f"{since_raw!r} is not a date (YYYY-MM-DD)")
        else:
            v.problem(f"{key}.since", f"must be a date (YYYY-MM-DD), not {_type(since_raw)}")

    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        v.problem(f"{key}.enabled", f"must be true or false, not {_type(enabled)}")
        enabled = True
    channel = v.text(raw, key, "channel") or None
    if channel and channel.lower().startswith("mailto:") and mail_address(channel[7:]) is None:
        v.problem(f"{key}.channel", f"{channel!r} is not one e-mail address (mailto:name@example.org)")
    overlap = v.integer(raw, key, "overlap_days", None, minimum=1, maximum=365)
    schedule = v.crontab(raw, key, "schedule", DEFAULT_QUERY_SCHEDULE)
    if not name or spec is None:
        return None
    return dataclasses.replace(query, schedule=schedule, since=since, channel=channel, enabled=enabled,
                               overlap_days=overlap)


def _type(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "a table"}.get(type(value), type(value).__name__)


def crontab_problem(expr: str) -> str | None:
    """Why `expr` is not a crontab litwatch accepts, or None if it is fine."""
    fields = expr.split()
    if len(fields) != 5:
        return f"invalid crontab {expr!r}: expected 5 fields (minute hour day month day-of-week), got {len(fields)}"
    if re.search(r"\d", fields[4]):
        return (
            f"invalid crontab {expr!r}: day of week {fields[4]!r} is numeric; use day names "
            f"({'-'.join((DAY_NAMES[0], DAY_NAMES[-1]))}, e.g. 'mon' or 'mon-fri'): cron reads 0 as "
            "Sunday, the scheduler as Monday"
        )
    from apscheduler.triggers.cron import CronTrigger  # heavy import, only when validating

    try:
        CronTrigger.from_crontab(expr, timezone="UTC")
    except ValueError as exc:
        return f"invalid crontab {expr!r}: {exc}"
    return None


class _Validator:
    """Collects problems as `file: key: reason` lines."""

    def __init__(self, path: Path):
        self.path = path
        self.problems: list[str] = []

    def problem(self, key: str, reason: str) -> None:
        self.problems.append(f"{self.path}: {key}: {reason}" if key else f"{self.path}: {reason}")

    def keys(self, raw: Mapping[str, Any], prefix: str, allowed: set[str] | frozenset[str]) -> None:
        for key in raw:
            if key not in allowed:
                where = f"{prefix}.{key}" if prefix else key
                self.problem(where, f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def table(self, raw: Mapping[str, Any], key: str, *, required: bool = False) -> Mapping[str, Any]:
        value = raw.get(key)
        if value is None:
            if required:
                self.problem(f"[{key}]", "missing table")
            return {}
        if not isinstance(value, dict):
            self.problem(key, f"must be a table ([{key}]), not {_type(value)}")
            return {}
        return value

    def _get(self, raw: Mapping[str, Any], prefix: str, key: str, kind: type | tuple[type, ...],
             label: str) -> Any:
        value = raw.get(key)
        if value is None:
            return None
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            self.problem(f"{prefix}.{key}", f"must be {label}, not {_type(value)}")
            return None
        return value

    def text(self, raw: Mapping[str, Any], prefix: str, key: str, *, required: bool = False) -> str:
        value = self._get(raw, prefix, key, str, "a string")
        if value is None:
            if required and key not in raw:
                self.problem(f"{prefix}.{key}", "missing (required)")
            return ""
        if required and not value.strip():
            self.problem(f"{prefix}.{key}", "must not be empty")
        return str(value).strip()

    def integer(self, raw: Mapping[str, Any], prefix: str, key: str, default: Any, *,
                minimum: int, maximum: int) -> Any:
        value = self._get(raw, prefix, key, int, "an integer")
        if value is None:
            return default
        if not minimum <= value <= maximum:
            self.problem(f"{prefix}.{key}", f"{value} is out of range ({minimum}..{maximum})")
            return default
        return value

    def fraction(self, raw: Mapping[str, Any], prefix: str, key: str) -> float | None:
        """A number from 0 to 1 (a score threshold), or None when absent."""
        value = self._get(raw, prefix, key, (int, float), "a number from 0 to 1")
        if value is None:
            return None
        if not 0 <= value <= 1:
            self.problem(f"{prefix}.{key}", f"{value} is out of range (0..1)")
            return None
        return float(value)

    def terms(self, raw: Mapping[str, Any], prefix: str, key: str) -> tuple[str, ...]:
        value = raw.get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(t, str) and t.strip() for t in value):
            self.problem(f"{prefix}.{key}", "must be an array of non-empty strings")
            return ()
        return tuple(t.strip() for t in value)

    def words(self, raw: Mapping[str, Any], prefix: str, key: str) -> tuple[str, ...]:
        """Terms the classifier matches as whole words: each starts and ends with a letter or
        digit (a PubMed-style wildcard such as 'exosome*' would never match)."""
        terms = self.terms(raw, prefix, key)
        bad = [t for t in terms if not TERM.match(t)]
        if bad:
            self.problem(f"{prefix}.{key}", f"{bad[0]!r} must start and end with a letter or digit "
                         "(terms match whole words; list each form, e.g. 'exosome', 'exosomes')")
            return ()
        return terms

    def crontab(self, raw: Mapping[str, Any], prefix: str, key: str, default: str) -> str:
        value = self._get(raw, prefix, key, str, "a crontab string")
        if value is None:
            return default
        reason = crontab_problem(value)
        if reason:
            self.problem(f"{prefix}.{key}", reason)
            return default
        return " ".join(value.split())
