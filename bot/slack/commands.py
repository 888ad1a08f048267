"""`/litwatch …` slash commands: pure parsing, and handlers that turn a command into a reply.

Parsing never touches I/O. Handlers get everything injected (`Services`: settings, store,
sources, classifier, the daemon's runner) and return a reply payload for the command's
`response_url`. What a user typed is only ever used as a search term handed to a source
client (which URL-encodes it), compared against saved-query names, or shown back escaped
for mrkdwn: it never reaches a shell, a file path or the store.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from bot import registry
from bot.config import SLUG, SavedQuery, Settings, today
from bot.digest import PERIODS
from bot.errors import QuerySyntaxError, SourceError
from bot.mail.address import mail_address
from bot.markup import Code, Emoji, Line, Strong, clip
from bot.models import Classification, Item, is_flagged
from bot.notify import address_of
from bot.render import Context, Element, Message, choices, digest_line, item_section, newest_first, section
from bot.slack.blocks import SLACK, to_slack

SEARCH_LIMIT = 10
MAX_TERMS = 500  # characters; PubMed rejects very long GET terms and nobody types more
VERBS = ("search", "subscribe", "unsubscribe", "screen", "flagged", "queries", "status", "run", "help")
FLAGGED_SHOWN = 10
SCREEN_DEFAULT, SCREEN_MAX = 5, 20  # 20 items with their buttons stay within Slack's 50 blocks
_SMART_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'"})

HELP = """\
*litwatch* watches the literature for this team. Commands:
`/litwatch search <terms> [source:pubmed|trials|all] [since:YYYY] [share]` search now \
(only you see the results unless you add `share`)
`/litwatch subscribe [weekly|daily] [mailto:you@example.org]` send this channel (or you, in a DM, \
or an e-mail address) the digest
`/litwatch unsubscribe [mailto:you@example.org]` stop the digest here (or to that address)
`/litwatch screen [N]` the next N records to screen, best first, with their buttons
`/litwatch flagged [query]` stored records with a safety or integrity flag, newest first
`/litwatch queries` saved queries: schedule, last success, last error, next run
`/litwatch status` health: failures, pending alerts, store size
`/litwatch run <query>` run one saved query now and report when done
`/litwatch help` this text"""


# ---------------------------------------------------------------- parsing


@dataclass(frozen=True)
class Command:
    """A parsed `/litwatch` command. `verb == "help"` with a `problem` for bad input."""

    verb: str
    terms: str = ""
    source: str = "all"
    since: int | None = None
    share: bool = False
    period: str = "weekly"
    query: str = ""
    target: str = ""  # subscribe / unsubscribe: a mailto: route instead of this conversation
    limit: int = 0  # screen: how many records to list
    problem: str = ""


def unescape(text: str) -> str:
    """Undo Slack's escaping of `&`, `<`, `>` in command text (`&amp;` last, as Slack does)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def parse(text: str, *, this_year: int | None = None) -> Command:
    """Parse the text after `/litwatch`; anything unrecognised becomes help with a problem."""
    words = unescape(text).translate(_SMART_QUOTES).split()
    if not words:
        return Command("help")
    verb, args = words[0].lower(), words[1:]
    if verb == "search":
        return _parse_search(args, this_year or today().year)
    if verb in ("subscribe", "unsubscribe"):
        return _parse_subscription(verb, args)
    if verb == "run":
        if len(args) != 1 or not SLUG.match(args[0]):
            return _bad("`run` takes the name of one saved query (see `/litwatch queries`)")
        return Command("run", query=args[0])
    if verb == "screen":
        if len(args) > 1 or (args and not (args[0].isdigit() and 1 <= int(args[0]) <= SCREEN_MAX)):
            return _bad(f"`screen` takes how many records to list, 1 to {SCREEN_MAX}")
        return Command("screen", limit=int(args[0]) if args else SCREEN_DEFAULT)
    if verb == "flagged":
        if len(args) > 1 or (args and not SLUG.match(args[0])):
            return _bad("`flagged` takes at most the name of one saved query (see `/litwatch queries`)")
        return Command("flagged", query=args[0] if args else "")
    if verb in ("queries", "status", "help"):
        if args:
            return _bad(f"`{verb}` takes no arguments")
        return Command(verb)
    return _bad(f"unknown command `{words[0]}`")


def _parse_subscription(verb: str, args: list[str]) -> Command:
    """`subscribe [weekly|daily] [mailto:address]`, `unsubscribe [mailto:address]`."""
    mail = [a for a in args if a.lower().startswith("mailto:")]
    rest = [a for a in args if a not in mail]
    address = mail_address(mail[0][len("mailto:"):]) if len(mail) == 1 else None
    target = f"mailto:{address}" if address else None
    if len(mail) > 1 or (mail and target is None):
        return _bad(f"`{verb}` takes one e-mail address as `mailto:name@example.org`, not `{' '.join(mail)}`")
    if verb == "unsubscribe":
        return Command(verb, target=target or "") if not rest else _bad("`unsubscribe` takes only a `mailto:` address")
    if len(rest) > 1 or (rest and rest[0].lower() not in PERIODS):
        return _bad(f"`subscribe` takes `weekly` or `daily`, not `{' '.join(rest)}`")
    return Command("subscribe", period=rest[0].lower() if rest else "weekly", target=target or "")


def _bad(problem: str) -> Command:
    return Command("help", problem=problem)


def _parse_search(args: list[str], this_year: int) -> Command:
    source, since, share = "all", None, False
    # Options may come anywhere except `share`, which only counts as the last word:
    # "share decision making" is a search for shared decision making.
    if args and args[-1].lower() == "share":
        share, args = True, args[:-1]
    terms: list[str] = []
    for word in args:
        key, sep, value = word.partition(":")
        if sep and key.lower() == "source":
            if value.lower() not in registry.search_scopes():
                scopes = list(registry.search_scopes())
                return _bad(f"unknown source `{value}` (use {', '.join(scopes[:-1])} or {scopes[-1]})")
            source = value.lower()
        elif sep and key.lower() == "since":
            if not re.fullmatch(r"\d{4}", value) or not 1800 <= int(value) <= this_year:
                return _bad(f"`since:` takes a year such as 2020, not `{value}`")
            since = int(value)
        else:
            terms.append(word)
    joined = " ".join(terms)
    if not joined:
        return _bad("`search` needs search terms")
    if len(joined) > MAX_TERMS:
        return _bad(f"search terms are limited to {MAX_TERMS} characters")
    return Command("search", terms=joined, source=source, since=since, share=share)


# ---------------------------------------------------------------- context


class Searchable(Protocol):
    """The one thing commands need of a source (bot.sources.Source has it): ad hoc search."""

    def search(self, terms: str, *, limit: int = 10, since: date | None = None) -> list[Item]: ...


@dataclass(frozen=True)
class Caller:
    """Who sent the command and from where (ids from the Slack payload)."""

    user_id: str
    channel_id: str
    channel_name: str = ""

    @property
    def in_dm(self) -> bool:
        return self.channel_id.startswith("D")

    @property
    def digest_target(self) -> str:
        """A DM subscribes the person (the digest opens a DM); elsewhere the channel (a route)."""
        return f"slack:{self.user_id if self.in_dm else self.channel_id}"


@dataclass
class Services:
    """What the handlers may use; built once by the daemon, fakes in tests."""

    settings: Settings
    store: Any  # bot.store.Store
    sources: Mapping[str, Searchable]
    classify: Callable[[Item], Classification]
    run_query: Callable[[SavedQuery], Any] | None = None  # returns a pipeline RunReport
    next_run: Callable[[str], datetime | None] = field(default=lambda name: None)
    # Why the bot cannot post to a digest target (None: it can), asked of Slack; None: no check.
    cannot_post: Callable[[str], str | None] | None = None
    # The screening queue's features (bot.ranker.FeatureCache), kept for the process: a
    # `/litwatch screen` after a decision retrains without re-reading every abstract.
    features: Any = None


# ---------------------------------------------------------------- replies


def reply(message: Message | str, *, share: bool = False) -> dict[str, Any]:
    """A response_url payload (ephemeral unless shared) from a rendered message or one line."""
    if isinstance(message, str):
        message = Message((message,), (section([(message,)]),))
    return {"response_type": "in_channel" if share else "ephemeral", "replace_original": False, **to_slack(message)}


def lines_reply(lines: list[Line], *, share: bool = False) -> dict[str, Any]:
    """A reply whose first line is also the notification text."""
    return reply(Message(lines[0], (section(lines),)), share=share)


def ack_payload(command: Command) -> dict[str, Any] | None:
    """What Slack shows at once, sent with the acknowledgement (None: an empty ack)."""
    if command.verb == "help":
        return help_reply(command.problem)
    if command.verb == "search":
        where = " and ".join(registry.label(s) for s in registry.search_scopes()[command.source])
        return lines_reply([(f"Searching {where} for “", command.terms, "”…")])
    if command.verb == "run":
        return lines_reply([("Running ", Code(command.query), " now; I will report here when done.")])
    return None


def help_reply(problem: str = "") -> dict[str, Any]:
    lines: list[Line] = [(line,) for line in HELP.splitlines()]
    if problem:
        lines = [("Sorry: ", problem), (), *lines]
    return lines_reply(lines)


# Commands that show internals (feed URLs, upstream errors) or start work: only for the team.
SCOPED_VERBS = frozenset({"status", "queries", "run"})


def review_channels(settings: Settings) -> frozenset[str]:
    """Every channel the config posts to (IDs and `#names` as written)."""
    channels = {settings.slack.channel, settings.slack.safety_channel}
    channels.update(q.channel for q in settings.queries if q.channel)
    return frozenset(c for c in channels if c)


def refusal(command: Command, caller: Caller, settings: Settings) -> dict[str, Any] | None:
    """The ephemeral refusal of a scoped command asked outside the review's channels by
    someone who is not in `[slack] admins`; None when it may run."""
    if command.verb not in SCOPED_VERBS or caller.user_id in settings.slack.admins:
        return None
    channels = review_channels(settings)
    if caller.channel_id in channels or (caller.channel_name and f"#{caller.channel_name}" in channels):
        return None
    return lines_reply([(Code(f"/litwatch {command.verb}"), " answers only in the review's alert channels, or "
                         "to the admins listed under [slack] admins in the config.",)])


def handle(command: Command, caller: Caller, services: Services) -> dict[str, Any]:
    """Carry out a parsed command; every outcome, failures included, is a readable reply."""
    handler = _HANDLERS.get(command.verb)
    if handler is None:
        return help_reply(command.problem)
    refused = refusal(command, caller, services.settings)
    if refused is not None:
        return refused
    return handler(command, caller, services)


def _search(command: Command, caller: Caller, services: Services) -> dict[str, Any]:
    since = date(command.since, 1, 1) if command.since else None
    found: list[Item] = []
    problems: list[str] = []
    names = [s for s in registry.search_scopes()[command.source] if s in services.sources]
    for name in names:
        label = registry.label(name)
        try:
            found += services.sources[name].search(command.terms, limit=SEARCH_LIMIT, since=since)
        except QuerySyntaxError as exc:
            problems.append(f"{label} could not read the search: {exc.args[0]}")
        except SourceError as exc:
            problems.append(f"{label} is not answering right now ({exc.args[0]}); try again later")
    if not names:
        problems.append("no source is configured for this search")
    found.sort(key=lambda item: item.published, reverse=True)  # ISO prefixes sort by date
    shown = found[:SEARCH_LIMIT]
    for item in shown:
        item.classification = services.classify(item)
    head: Line = (
        Strong(str(len(shown))),
        f" result{'s' if len(shown) != 1 else ''} for “",
        command.terms,
        "”" + (f" since {command.since}" if command.since else ""),
    )
    elements: list[Element] = [section([head])]
    elements += [item_section({**item.to_dict(), "uid": item.uid}) for item in shown]
    notes: list[Line] = [(Emoji("warning"), " ", problem) for problem in problems]
    if not shown and not problems:
        notes.append(("Nothing found. Try fewer or broader terms.",))
    if notes:
        elements.append(Context(tuple(notes)))
    fallback = head if shown or not problems else (problems[0],)
    return reply(Message(fallback, tuple(elements)), share=command.share)


def _subscribe(command: Command, caller: Caller, services: Services) -> dict[str, Any]:
    target = command.target or caller.digest_target
    # Asked of Slack before anything is stored: a digest the bot cannot post would stay
    # pending for good and keep `status` failing. (An e-mail address shows a refusal on sending.)
    problem = services.cannot_post(address_of(target)) if services.cannot_post and not command.target else None
    if problem:
        return reply(f"Not subscribed: {problem}.")
    fresh = services.store.subscribe(target, command.period)
    if command.target:
        who, by = f"{address_of(command.target)} is", " by e-mail"
    else:
        who, by = "You are" if caller.in_dm else "This channel is", ""
    return reply(f"{who} {'now subscribed to' if fresh else 'now on'} the {command.period} digest{by}.")


def _unsubscribe(command: Command, caller: Caller, services: Services) -> dict[str, Any]:
    target = command.target or caller.digest_target
    removed = services.store.unsubscribe(target)
    dropped = services.store.drop_digests(target)
    pending = f" {dropped} pending digest{'s' if dropped != 1 else ''} dropped." if dropped else ""
    where = f"to {address_of(command.target)}" if command.target else "here"
    if removed:
        return reply(f"Unsubscribed: no more digests {where}.{pending}")
    return reply(f"There was no digest subscription {where}.{pending}")


def _screen(command: Command, caller: Caller, services: Services) -> dict[str, Any]:
    """The next records to screen, best first, each with its Include / Exclude / Maybe buttons."""
    from bot.screening import awaiting, queue

    store = services.store
    listed = queue(store, limit=command.limit, features=services.features)
    if not listed:
        return reply("Nothing awaits screening.")
    basis = ("ranked by a model of the team's decisions" if listed[0].basis == "model"
             else "ranked by the classifier and recency until there is an include and an exclude")
    head: Line = (Strong(str(awaiting(store))), f" records await screening; the next {len(listed)}, {basis}")
    elements: list[Element] = [section([head])]
    for queued in listed:
        doc = store.get(queued.uid)
        if doc is not None:
            elements += [item_section(doc), *choices(doc, SLACK)]
    return reply(Message(head, tuple(elements)))


def _no_such_query(settings: Settings, name: str) -> dict[str, Any]:
    names = ", ".join(q.name for q in settings.queries) or "none"
    return lines_reply([("There is no saved query ", Code(name), ". Saved: ", names)])


def _flagged(command: Command, caller: Caller, services: Services) -> dict[str, Any]:
    """The stored records with a safety or integrity flag (all queries, or one), newest first."""
    query = command.query or None
    if query and services.settings.query(query) is None and not services.store.items(query=query):
        return _no_such_query(services.settings, query)
    docs = newest_first(d for d in services.store.items(query=query) if is_flagged(d))
    where = f" for {query}" if query else ""
    if not docs:
        return reply(f"No stored record{where} carries a safety or integrity flag.")
    noun = "record" if len(docs) == 1 else "records"
    head: Line = (Strong(str(len(docs))), f" flagged {noun}{where}, newest first")
    lines: list[Line] = [head, *(digest_line(d) for d in docs[:FLAGGED_SHOWN])]
    if len(docs) > FLAGGED_SHOWN:
        export = "litwatch export --flagged" + (f" --query {query}" if query else "")
        lines.append((f"+{len(docs) - FLAGGED_SHOWN} more: ", Code(export), " lists them all."))
    return lines_reply(lines)


def _when(stamp: str | datetime | None) -> str:
    if not stamp:
        return "never"
    moment = datetime.fromisoformat(stamp) if isinstance(stamp, str) else stamp
    return moment.strftime("%Y-%m-%d %H:%M %Z").strip()


def _queries(command: Command, caller: Caller, services: Services) -> dict[str, Any]:
    settings = services.settings
    if not settings.queries:
        return reply("No saved queries are configured.")
    sections: list[Element] = []
    for query in settings.queries[:45]:
        state = services.store.query_state(query.name)
        schedule: Line = (Code(query.schedule), f" ({settings.digest.timezone})")
        next_run = _when(services.next_run(query.name)) if query.enabled else "-"
        lines: list[Line] = [
            (
                Strong(query.name),
                f" · {registry.label(query.source)} · ",
                *(schedule if query.enabled else ("disabled",)),
            ),
            (f"last success {_when(state.last_success)} · next run {next_run}",),
        ]
        if state.last_error:
            lines.append((Emoji("x"), " last error: ", clip(state.last_error, 300)))
        sections.append(section(lines))
    head = f"{len(settings.queries)} saved queries"
    return reply(Message((head,), (section([(head,)]), *sections)))


def _status(command: Command, caller: Caller, services: Services) -> dict[str, Any]:
    store, settings = services.store, services.settings
    failing = [(q.name, store.query_state(q.name).last_error) for q in settings.enabled_queries]
    failing = [(name, error) for name, error in failing if error]
    pending = store.pending()
    undelivered = [n for n in pending if n.last_error]
    healthy = not failing and not undelivered
    lines: list[Line] = [
        (Emoji("white_check_mark"), " healthy") if healthy else (Emoji("warning"), " needs attention"),
        (
            f"store: {len(store)} records · {len(settings.enabled_queries)} active queries · "
            f"{len(store.subscriptions())} digest subscribers",
        ),
        (f"outbox: {len(pending)} pending" + (f", {len(undelivered)} failed to deliver" if undelivered else ""),),
    ]
    for name, error in failing:
        lines.append((Emoji("x"), " ", Strong(name), ": ", clip(str(error), 300)))
    for note in undelivered[:5]:
        lines.append(
            (Emoji("x"), f" {note.kind} for {note.route}{' (set aside)' if note.set_aside else ''}: ",
             clip(str(note.last_error), 200))
        )
    return lines_reply(lines)


def _run(command: Command, caller: Caller, services: Services) -> dict[str, Any]:
    query = services.settings.query(command.query)
    if query is None:
        return _no_such_query(services.settings, command.query)
    if services.run_query is None:
        return reply("Running queries from Slack is not enabled in this process.")
    report = services.run_query(query)
    if report is None:
        return lines_reply([(Code(query.name), " is already running; its alerts post as usual.")])
    if report.failed:
        return lines_reply([(Emoji("x"), " ", Code(query.name), " failed: ", str(report.error))])
    return lines_reply([(Emoji("white_check_mark"), " ", report.summary())])


_HANDLERS: dict[str, Callable[[Command, Caller, Services], dict[str, Any]]] = {
    "search": _search,
    "subscribe": _subscribe,
    "unsubscribe": _unsubscribe,
    "flagged": _flagged,
    "screen": _screen,
    "queries": _queries,
    "status": _status,
    "run": _run,
}
