"""The `litwatch` command: parses arguments, builds clients and the store, hands them down."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot import __version__, registry
from bot.channels import build_channels, parse_route, route_problem
from bot.config import Environment, SavedQuery, Settings, load_settings, now, today
from bot.context import Classify, Linker, RunContext
from bot.digest import PERIODS
from bot.errors import ConfigError, LitwatchError, SourceError
from bot.export import FORMATS, render
from bot.models import Classification, Item, is_flagged
from bot.notify import address_of, scheme_of
from bot.outbox import Channels, FlushReport, drop_route, flush, held_notice
from bot.pipeline import RunReport, run_query
from bot.screening import awaiting, with_screening
from bot.sources import build_sources
from bot.store import STORE_FILE, QueryState, Store, store_file

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
CONFIG_HELP = "the config file (default: $LITWATCH_CONFIG, else config/litwatch.toml)"


# ---------------------------------------------------------------- wiring


def make_classifier(settings: Settings) -> Classify:
    from bot.classify import Classifier

    return Classifier(settings.classify).classify


def make_linker() -> Linker | None:
    try:
        from bot.links import link_items
    except ImportError:
        return None
    return link_items


def make_context(env: Environment, settings: Settings, store: Store) -> RunContext:
    """Everything a run needs, built once: sources, classifier, linker and channels."""
    return RunContext(settings=settings, store=store, sources=build_sources(env, store=store),
                      classify=make_classifier(settings), channels=build_channels(env, settings),
                      link=make_linker())


def run_queries(
    ctx: RunContext,
    *,
    only: str | None = None,
    progress: Callable[[RunReport], None] | None = None,
) -> tuple[list[RunReport], FlushReport]:
    """Run every enabled query (or `only`) once, then deliver everything pending."""
    settings = ctx.settings
    queries = [settings.query(only)] if only else list(settings.enabled_queries)
    reports = []
    for query in queries:
        assert query is not None
        report = run_query(query, ctx)
        reports.append(report)
        if progress:
            progress(report)
    return reports, flush(ctx.store, ctx.channels)


# ---------------------------------------------------------------- commands


def _cmd_check(args: argparse.Namespace, env: Environment) -> int:
    settings = load_settings(env.config_path)
    count = len(settings.queries)
    print(f"ok: {count} {'query' if count == 1 else 'queries'}")
    return EXIT_OK


def _cmd_once(args: argparse.Namespace, env: Environment) -> int:
    settings = load_settings(env.config_path)
    if args.query and settings.query(args.query) is None:
        raise _unknown_query(settings, args.query)
    with Store.open(env.data_dir) as store:
        ctx = make_context(env, settings, store)
        reports, delivered = run_queries(
            ctx, only=args.query,
            progress=lambda r: print(r.summary(), file=sys.stderr if r.failed else sys.stdout),
        )
        for report in reports:
            for warning in report.warnings:
                print(f"{report.query}: warning: {warning}", file=sys.stderr)
        _print_delivery(delivered, store, ctx.channels)
    return EXIT_FAILED if any(r.failed for r in reports) else EXIT_OK


def _unknown_query(settings: Settings, name: str) -> LitwatchError:
    names = ", ".join(q.name for q in settings.queries)
    return LitwatchError(f"no saved query named {name!r} (known: {names})")


def _print_delivery(report: FlushReport, store: Store, channels: Channels) -> None:
    if report.delivered:
        print(f"delivered {report.delivered} notification(s)")
    for note, error in report.failed:
        print(f"delivery to {note.route} failed, kept pending: {error}", file=sys.stderr)
    for note, error in report.set_aside:
        print(f"{note.kind} notification {note.id} to {note.route} refused twice, set aside: {error}",
              file=sys.stderr)
    for scheme, count in sorted(report.held.items()):
        print(held_notice(channels, scheme, count), file=sys.stderr)
    if report.held:
        return
    pending = len(store.pending())
    if pending:
        print(f"{pending} notification(s) pending; the next run retries them", file=sys.stderr)


def _cmd_export(args: argparse.Namespace, env: Environment) -> int:
    settings = load_settings(env.config_path)
    since = args.since.isoformat() if args.since else None
    docs: list[dict[str, Any]] = []
    if store_file(env.data_dir) is None:  # nothing stored yet: an empty export, not an error
        if args.query and settings.query(args.query) is None:
            raise _unknown_query(settings, args.query)
        print(f"no store yet at {env.data_dir / STORE_FILE}: nothing to export "
              "(`litwatch once` fills it)", file=sys.stderr)
    else:
        with Store.open(env.data_dir, readonly=True) as store:
            if args.query and settings.query(args.query) is None and not store.items(query=args.query):
                raise _unknown_query(settings, args.query)
            docs = with_screening(store.items(query=args.query, since=since), store.current_decisions())
    if args.flagged:
        docs = [d for d in docs if is_flagged(d)]
    text = render(docs, args.format)
    if args.output and args.output != "-":
        _write_output(args.output, text.encode())
        print(f"wrote {len(docs)} records to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _cmd_reclassify(args: argparse.Namespace, env: Environment) -> int:
    from bot.classify import Classifier
    from bot.progress import on_terminal
    from bot.relabel import relabel, summary

    settings = load_settings(env.config_path)
    if store_file(env.data_dir) is None:
        print(f"no store yet at {env.data_dir / STORE_FILE}: nothing to relabel (`litwatch once` fills it)")
        return EXIT_OK
    classifier = Classifier(settings.classify)
    # A dry run reads beside a running daemon; relabelling writes, so it needs the store to itself.
    with Store.open(env.data_dir, readonly=args.dry_run) as store:
        docs = store.items()
        pending = {uid for note in store.pending() for uid in note.uids}
        result = relabel(docs, classifier.classify, classifier.identity, judged=store.safety_feedback(),
                         pending=pending, everything=args.all, progress=on_terminal("relabelling", len(docs)))
        if result.updates and not args.dry_run:
            store.commit("", updates=result.updates)
    if args.json:
        sys.stdout.write(result.to_json())
        return EXIT_OK
    for line in summary(result):
        print(line)
    if args.dry_run and result.relabelled:
        print("dry run: nothing was written")
    return EXIT_OK


def _cmd_search(args: argparse.Namespace, env: Environment) -> int:
    settings = load_settings(env.config_path)
    terms = " ".join(args.terms).strip()
    if not terms:
        raise LitwatchError("search needs at least one term")
    since = args.since
    classify = make_classifier(settings)
    sources = build_sources(env)
    found: list[Item] = []
    failures: list[str] = []
    for name in registry.search_scopes()[args.source]:
        try:
            results = sources[name].search(terms, limit=args.limit, since=since)
        except SourceError as exc:  # one source down: still show what the others found
            failures.append(f"{registry.label(name)}: {exc}")
            continue
        for item in results:
            item.classification = classify(item)
            found.append(item)
    for failure in failures:
        print(f"error: {failure}", file=sys.stderr)
    if failures and len(failures) == len(registry.search_scopes()[args.source]):
        return EXIT_FAILED
    if args.json:
        print(json.dumps([_search_record(i) for i in found], ensure_ascii=False, indent=2))
        return EXIT_FAILED if failures else EXIT_OK
    if not found:
        print(f"no results for {terms!r}")
    for item in found:
        label = item.classification or Classification()
        flags = " ".join(f for f, on in (
            (f"SAFETY {label.safety_score:.2f}", label.safety), (f"possible safety {label.safety_score:.2f}",
             label.possible_safety), ("INTEGRITY", label.integrity), ("corrected", label.corrected)) if on)
        print(f"{item.uid}  [{label.kind}{' ' + flags if flags else ''}]  {item.published}")
        print(f"  {item.title}")
        print(f"  {item.url}")
        for reason in label.reasons[:3]:
            print(f"    · {reason}")
    return EXIT_FAILED if failures else EXIT_OK


def _search_record(item: Item) -> dict[str, Any]:
    from bot.export import export_record

    return export_record({**item.to_dict(), "uid": item.uid})


def _cmd_status(args: argparse.Namespace, env: Environment) -> int:
    from bot.classify import Classifier
    from bot.relabel import labelled_by

    settings = load_settings(env.config_path)
    path = store_file(env.data_dir)
    if path is None:
        print(f"no store yet at {env.data_dir / STORE_FILE}: run `litwatch once`")
        return EXIT_OK
    with Store.open(env.data_dir, readonly=True) as store:
        print(f"store: {path} ({path.stat().st_size / 1e6:.1f} MB, {len(store)} items)")
        failing = 0
        print(f"queries (times in {settings.digest.timezone}):")
        for query in settings.queries:
            state = store.query_state(query.name)
            print(f"  {_query_status(query, state, settings.digest.timezone)}")
            if state.last_error:
                failing += 1
                print(f"      LAST RUN FAILED: {state.last_error}")
            for warning in state.warnings:
                print(f"      warning: {warning}")
        subscriptions = store.subscriptions()
        print(f"digest subscriptions: {len(subscriptions)}" + (":" if subscriptions else ""))
        for sub in subscriptions:
            print(f"  {sub['target']}: {sub.get('period') or 'weekly'}, "
                  f"last digest {_local_time(sub.get('last_digest'), settings.digest.timezone)}")
        try:
            identity = Classifier(settings.classify).identity
        except LitwatchError as exc:  # a broken model file: runs fail on it too; say so, go on
            print(f"labels: cannot tell which classifier labelled them: {exc}")
        else:
            judged = store.safety_feedback()
            current, other = labelled_by(store.items(), identity, judged)
            print(f"labels: {current} record(s) labelled by the current classifier"
                  + (f", {other} by another (`litwatch reclassify` labels them again)" if other else "")
                  + (f", {len(judged)} kept as the team judged them" if judged else ""))
        decided = store.current_decisions()
        print(f"screening: {awaiting(store)} record(s) await screening, {len(decided)} decided")
        pending = store.pending()
        destinations = ", ".join(sorted(store.destinations())) or "terminal only"
        print(f"outbox: {len(pending)} pending (delivers to: {destinations})")
        subscribed = {str(s["target"]) for s in subscriptions}
        undeliverable = 0
        for note in pending:
            if note.last_error:
                undeliverable += 1
                aside = "SET ASIDE, " if note.set_aside else ""
                print(f"  {note.kind} -> {note.route}: {note.last_error} "
                      f"({aside}{_plural(note.attempts, 'attempt')})")
                print(f"      {_where_from(note.route, settings, subscribed)}")
    # A notification that keeps failing is as much a reason to look as a failing query.
    return EXIT_FAILED if failing or undeliverable else EXIT_OK


def _query_status(query: SavedQuery, state: QueryState, timezone: str) -> str:
    """One query's line: source, schedule, last success, next run, how far it has covered."""
    from bot.scheduler import next_fire_time  # APScheduler: only `status` needs it, not every command

    head = f"{query.name} ({registry.label(query.source)})"
    if not query.enabled:
        return f"{head}: disabled · last success {_local_time(state.last_success, timezone)}"
    upcoming = next_fire_time(query.schedule, timezone)
    covered = f"covered up to {state.watermark.isoformat()}" if state.watermark else "no successful run yet"
    return (f"{head}: schedule {query.schedule} · last success {_local_time(state.last_success, timezone)}"
            f" · next run {_local_time(upcoming, timezone)} · {covered}")


def _local_time(stamp: str | datetime | None, timezone: str) -> str:
    if not stamp:
        return "never"
    moment = datetime.fromisoformat(stamp) if isinstance(stamp, str) else stamp
    if moment.tzinfo is not None:
        moment = moment.astimezone(ZoneInfo(timezone))
    return moment.strftime("%Y-%m-%d %H:%M")


def _since(value: str) -> date:
    """`--since`: a year (its first day) or a day, YYYY or YYYY-MM-DD, not in the future."""
    try:
        day = date(int(value), 1, 1) if re.fullmatch(r"\d{4}", value) else date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a year or a date (YYYY or YYYY-MM-DD)") from None
    try:
        current = today()
    except ConfigError:  # a bad LITWATCH_NOW is reported once the command starts
        current = date.today()
    if day > current:
        raise argparse.ArgumentTypeError(
            f"{value!r} is in the future (today is {current.isoformat()}): nothing can be that new")
    return day


def _port(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number (1-65535)")
    return int(value)


def _number_up_to(high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from 1 to `high`."""
    def parse(value: str) -> int:
        if not value.isdigit() or not 1 <= int(value) <= high:
            raise argparse.ArgumentTypeError(f"{value!r} is not a number from 1 to {high}")
        return int(value)
    return parse


_limit = _number_up_to(100)


# ---------------------------------------------------------------- digests and subscriptions (issue 6)


def _cmd_digest(args: argparse.Namespace, env: Environment) -> int:
    from bot.digest import run_digests

    settings = load_settings(env.config_path)
    channels = build_channels(env, settings)  # a channel set up wrong stops here, before any write
    with Store.open(env.data_dir) as store:
        if not store.subscriptions():
            print("no subscribers: add one with `litwatch subscribe mailto:ADDRESS|CHANNEL|USER`")
            return EXIT_OK
        digests, delivered = run_digests(store, settings, channels, period=args.period)
        for note in digests.queued + digests.previewed:
            print(f"digest for {note.route}: {len(note.uids)} items since {note.summary.since}"
                  + (" (printed only, not queued)" if note in digests.previewed else ""))
        if not digests.queued and not digests.previewed:
            print("no digest due (pass --period to send one now)")
        previews = Counter(note.scheme for note in digests.previewed)
        for scheme, count in sorted(previews.items()):
            print(held_notice(channels, scheme, count, "digest", "not queued; each stays due for"),
                  file=sys.stderr)
        _print_delivery(delivered, store, channels)
    return EXIT_FAILED if delivered.failed else EXIT_OK


def _cmd_subscribe(args: argparse.Namespace, env: Environment) -> int:
    settings = load_settings(env.config_path)  # an invalid config stops every command before it writes
    target = _digest_target(args.target)
    _check_reach(env, target)
    with Store.open(env.data_dir) as store:
        added = store.subscribe(target, args.period)
    print(f"{target}: {'subscribed to' if added else 'now receives'} the {args.period} digest")
    if target.startswith("mailto:") and not (settings.email.sender and env.smtp):
        print("note: e-mail needs [email] from in the config and SMTP_URL in the environment; until "
              "both are set, this digest prints to the terminal (README, 'Email')", file=sys.stderr)
    return EXIT_OK


def _check_reach(env: Environment, target: str) -> None:
    """Refuse a target Slack says the bot cannot post to (IDs only: Slack looks up no #names)."""
    from bot.slack.reach import reach_for

    reach = reach_for(env)
    if reach is None or scheme_of(target) != "slack":
        return
    if address_of(target).startswith("#"):
        print(f"{target}: not checked with Slack (it looks channels up by ID only); "
              "make sure the bot is invited there", file=sys.stderr)
        return
    problem = reach(address_of(target))
    if problem:
        raise LitwatchError(f"{target}: not subscribed: {problem}")


def _cmd_unsubscribe(args: argparse.Namespace, env: Environment) -> int:
    load_settings(env.config_path)
    target = _digest_target(args.target)
    with Store.open(env.data_dir) as store:
        removed = store.unsubscribe(target)
        dropped = store.drop_digests(target)
    print(f"{target}: unsubscribed" if removed else f"{target} was not subscribed")
    if dropped:
        print(f"{target}: {dropped} pending digest{'s' if dropped != 1 else ''} dropped")
    return EXIT_OK if removed else EXIT_FAILED


def _digest_target(value: str) -> str:
    route = parse_route(value)
    if route is None or route == "console":
        raise LitwatchError(route_problem(value))
    return route


# ---------------------------------------------------------------- the outbox (pending notifications)


def _cmd_outbox(args: argparse.Namespace, env: Environment) -> int:
    """List what is pending; drop, retry, or send a channel's notifications to the terminal again."""
    settings = load_settings(env.config_path)
    action = getattr(args, "action", None) or "list"
    if action == "list" and args.to_terminal is None:
        if not (env.data_dir / STORE_FILE).exists():
            print("outbox: empty (no store yet)")
            return EXIT_OK
        with Store.open(env.data_dir, readonly=True) as store:
            _print_outbox(store, settings)
        return EXIT_OK
    unknown: list[str] = []
    with Store.open(env.data_dir) as store:
        if action == "drop":
            if not args.ids and not args.target:
                print("error: outbox drop: name notification IDs (see `litwatch outbox`) or --target TARGET",
                      file=sys.stderr)
                return EXIT_CONFIG
            unknown = [i for i in args.ids if not store.drop(i)]
            dropped = len(args.ids) - len(unknown)
            if args.ids:
                print(f"dropped {_plural(dropped, 'pending notification')}")
            for target in args.target:
                route = _digest_target(target)
                print(f"{route}: dropped {_plural(drop_route(store, route), 'pending notification')}")
        elif action == "retry":
            ids = args.ids or [p.id for p in store.pending() if p.last_error or p.set_aside]
            unknown = [i for i in ids if not store.retry(i)]
            print(f"{_plural(len(ids) - len(unknown), 'notification')} cleared for the next run")
        if args.to_terminal is not None:
            schemes = [args.to_terminal] if args.to_terminal else sorted(store.destinations())
            for scheme in schemes:
                if store.forget_destination(scheme):
                    print(f"{scheme}: without its channel, this terminal now takes its notifications")
        for note_id in unknown:
            print(f"no pending notification {note_id!r} (see `litwatch outbox`)", file=sys.stderr)
        _print_outbox(store, settings)
    return EXIT_FAILED if unknown else EXIT_OK


def _print_outbox(store: Store, settings: Settings) -> None:
    pending = store.pending()
    destinations = ", ".join(sorted(store.destinations())) or "terminal only"
    print(f"outbox: {_plural(len(pending), 'notification')} pending (delivers to: {destinations})")
    if pending:
        print(f"  {'id':<32}  {'kind':<16} {'age':>6}  {'attempts':>8}  target / last error")
    moment = now()
    subscribed = {str(s["target"]) for s in store.subscriptions()}
    for note in pending:
        age = _age(note.notification.created, moment)
        print(f"  {note.id:<32}  {note.kind:<16} {age:>6}  {note.attempts:>8}  {note.route}")
        if note.sent_parts or note.sent_uids:
            print(f"      {_plural(note.sent_parts, 'part')} already sent")
        if note.last_error:
            print(f"      last error: {note.last_error}")
            print(f"      {_where_from(note.route, settings, subscribed)}")
        if note.set_aside:
            print(f"      SET ASIDE: `litwatch outbox retry {note.id}` sends it again")


def _where_from(route: str, settings: Settings, subscribed: set[str]) -> str:
    """Where an undeliverable target came from, so the fix goes to the right place."""
    origins = settings.route_origins(route)
    if route in subscribed:
        origins.append(f"a digest subscription (`litwatch unsubscribe {route}`)")
    if not origins:
        return f"target from no current config key or subscription: `litwatch outbox drop --target {route}`"
    return "target from " + " and ".join(origins) + f"; `litwatch outbox drop --target {route}` drops what is queued"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _age(created: str | None, moment: datetime) -> str:
    if not created:
        return "?"
    seconds = max(0.0, (moment - datetime.fromisoformat(created)).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def _add_outbox_command(sub: Any) -> None:
    p = sub.add_parser("outbox", help="pending notifications: list, drop, retry, back to the terminal")
    p.add_argument("--to-terminal", nargs="?", const="", default=None, metavar="SCHEME",
                   help="without that channel (slack, mailto; default: all), print and consume its "
                   "notifications in this terminal instead of keeping them")
    p.set_defaults(func=_cmd_outbox, action="list")
    actions = p.add_subparsers(dest="action", metavar="{list,drop,retry}")
    actions.add_parser("list", help="list pending notifications (the default)")
    drop = actions.add_parser("drop", help="drop pending notifications unsent")
    drop.add_argument("ids", nargs="*", metavar="ID", help="notification IDs from `litwatch outbox`")
    drop.add_argument("--target", action="append", default=[], metavar="TARGET",
                      help="every pending notification to this target (C…, #name, U…, mailto:…)")
    retry = actions.add_parser("retry", help="clear errors and set-aside marks; the next run sends them")
    retry.add_argument("ids", nargs="*", metavar="ID", help="default: every failed or set-aside notification")


def _add_digest_commands(sub: Any) -> None:
    periods = tuple(PERIODS)
    p = sub.add_parser("digest", help="send the digest to its subscribers now, with a RIS attachment")
    p.add_argument("--period", choices=periods,
                   help="every subscriber of this period (default: those whose period has passed)")
    p.set_defaults(func=_cmd_digest)

    p = sub.add_parser("subscribe", help="send a channel, a user (DM) or an e-mail address the digest")
    p.add_argument("target", metavar="TARGET",
                   help="mailto:name@example.org, #channel, channel ID (C…) or user ID (U…)")
    p.add_argument("--period", choices=periods, default="weekly")
    p.set_defaults(func=_cmd_subscribe)

    p = sub.add_parser("unsubscribe", help="stop a channel's or user's digest")
    p.add_argument("target", metavar="TARGET")
    p.set_defaults(func=_cmd_unsubscribe)


# ---------------------------------------------------------------- screening (issue 11)


def _cmd_screen(args: argparse.Namespace, env: Environment) -> int:
    from bot.screening import queue

    settings = load_settings(env.config_path)
    with Store.open(env.data_dir, readonly=True) as store:
        if args.query and settings.query(args.query) is None and not store.items(query=args.query):
            raise _unknown_query(settings, args.query)
        listed = queue(store, query=args.query, limit=args.next)
        left = awaiting(store)
    if args.json:
        print(json.dumps([q.to_dict() for q in listed], ensure_ascii=False, indent=2))
        return EXIT_OK
    if not listed:
        print("nothing awaits screening" + (f" in {args.query}" if args.query else ""))
        return EXIT_OK
    basis = ("ranked by a model of the team's decisions" if listed[0].basis == "model" else
             "ranked by the classifier (safety, then kind) and recency until there is an include "
             "and an exclude to learn from")
    print(f"{left} record(s) await screening; {basis}:")
    for q in listed:
        flags = f"{q.kind}{' SAFETY' if q.safety else ''}"
        print(f"{q.score:.3f}  {q.uid}  [{flags}]  {q.title}")
    return EXIT_OK


def _cmd_decide(args: argparse.Namespace, env: Environment) -> int:
    from bot.config import now
    from bot.decisions import Decision
    from bot.screening import describe, read_decisions_csv, resolver

    settings = load_settings(env.config_path)
    if args.source and args.uids:
        raise LitwatchError("give either UIDs or --from FILE, not both")
    if not args.source and not (args.decision and args.uids):
        raise LitwatchError("say what and which: litwatch decide include|exclude|maybe UID... "
                            "(or --from FILE)")
    reviewer = _reviewer(args.by, settings.screening.reviewers)
    reason = _decide_reason(args, settings)
    when = now()
    with Store.open(env.data_dir) as store:  # a running daemon holds the lock: this refuses
        if args.source:
            plan = read_decisions_csv(Path(args.source), resolve=resolver(store), now=when,
                                      default=args.decision, by=reviewer if args.by else None)
            for problem in plan.errors:
                print(f"error: {problem}", file=sys.stderr)
            if plan.errors:
                print(f"nothing imported: fix the {len(plan.errors)} problem(s) above and run again",
                      file=sys.stderr)
                return EXIT_FAILED
            decisions = plan.decisions
        else:
            decisions = [Decision(uid.strip(), args.decision, reviewer, when, "cli", reason)
                         for uid in dict.fromkeys(args.uids)]
        recorded = store.record_decisions(decisions)  # the single writer; repeats are no-ops
        examples = store.record_examples(plan.examples) if args.source else []
    fresh = {id(d) for d in recorded}  # the store hands back the very decisions it appended
    if not args.source:
        for decision in decisions:
            state = "" if id(decision) in fresh else " (already so: nothing recorded)"
            print(f"{decision.uid}: {describe(decision)}{state}")
    else:
        print(f"{args.source}: {len(recorded)} decision(s) recorded from {plan.rows} row(s)"
              + (f", {len(decisions) - len(recorded)} already so" if len(decisions) > len(recorded) else ""))
        if plan.not_stored:
            shown = "; ".join(plan.not_stored[:5]) + ("; …" if len(plan.not_stored) > 5 else "")
            print(f"{len(plan.not_stored)} row(s) name records litwatch has not stored, so they were not "
                  f"imported as decisions: {shown}", file=sys.stderr)
        if plan.examples:
            print(f"{len(plan.examples)} of them (with a title, included or excluded) teach the ranker as "
                  f"examples ({len(examples)} new); PRISMA does not count them", file=sys.stderr)
    return EXIT_OK


def _reviewer(name: str | None, reviewers: Sequence[str]) -> Any:
    from bot.config import SLACK_USER
    from bot.decisions import Reviewer

    if not name:
        return Reviewer("cli", "command line")
    name = name.strip()
    if SLACK_USER.match(name):
        if reviewers and name not in reviewers:
            raise LitwatchError(f"{name} is not among [screening] reviewers: only reviewers can screen")
        return Reviewer(name, name)
    return Reviewer(f"cli:{name}", name)


def _decide_reason(args: argparse.Namespace, settings: Settings) -> str | None:
    if args.reason is None:
        return None
    if args.decision != "exclude" or args.source:
        raise LitwatchError("--reason goes with `decide exclude UID...` (an import reads reasons from the file)")
    reason = settings.screening.reason(args.reason)
    if reason is None:
        allowed = "; ".join(settings.screening.exclusion_reasons)
        raise LitwatchError(f"--reason {args.reason!r} is not one of [screening] exclusion_reasons: {allowed}")
    return reason


def _cmd_prisma(args: argparse.Namespace, env: Environment) -> int:
    from bot.prisma import count

    settings = load_settings(env.config_path)
    since = args.since.isoformat() if args.since else None
    if args.format != "json" and not args.output and sys.stdout.isatty():
        raise LitwatchError(f"a {args.format.upper()} picture needs a file: -o prisma.{args.format}")
    with Store.open(env.data_dir, readonly=True) as store:
        counts = count(store.items(), store.current_decisions(), since=since,
                       query_sources={q.name: q.source for q in settings.queries})
    if args.format == "json":
        data = (json.dumps(counts.to_dict(), ensure_ascii=False, indent=2) + "\n").encode()
    else:
        from bot.figures import flow_diagram

        data = flow_diagram(counts, args.format)
    if args.output and args.output != "-":
        _write_output(args.output, data)
        print(f"wrote the PRISMA {args.format.upper()} to {args.output}", file=sys.stderr)
    elif args.format == "json":
        sys.stdout.write(data.decode())
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    return EXIT_OK


def _write_output(path: str, data: bytes) -> None:
    """Write a command's `-o FILE` whole or not at all: a killed or failing write leaves the
    previous file (or none), never half of it; an error is one line naming the file."""
    target = Path(path)
    partial = target.with_name(f".{target.name}.partial")
    try:
        partial.write_bytes(data)
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise LitwatchError(f"cannot write {path}: {exc.strerror}") from None


def _cmd_labels_export(args: argparse.Namespace, env: Environment) -> int:
    from bot.team_labels import team_labels

    with Store.open(env.data_dir, readonly=True) as store:  # reads beside a running daemon
        feedback = store.safety_feedback()
        exported = team_labels({d["uid"]: d for d in store.docs(feedback)}, feedback)
    for uid, why in exported.skipped:
        print(f"{uid}: left out: {why}", file=sys.stderr)
    # "Not a safety signal" teaches "no harm is reported here"; on a record the model flagged,
    # a reviewer may have meant "harm, but off our topic" (that is an Exclude).
    flagged = [label.uid for label in exported.labels if not label.safety and label.flagged]
    if flagged:
        print(f"{len(flagged)} record(s) called 'not a safety signal' were flagged as safety signals "
              f"({', '.join(flagged[:5])}{', …' if len(flagged) > 5 else ''}): check they report no harm "
              "to people, not merely a harm off the review's topic, before `make model` learns them",
              file=sys.stderr)
    text = exported.jsonl()
    confirmed = sum(label.safety for label in exported.labels)
    summary = (f"{len(exported.labels)} team label(s) ({confirmed} confirmed, "
               f"{len(exported.labels) - confirmed} not a safety signal) from {len(feedback)} record(s) "
               "with safety feedback")
    if args.output and args.output != "-":
        _write_output(args.output, text.encode())
        print(f"wrote {summary} to {args.output}; `make model` trains on model/labels/team-*.jsonl",
              file=sys.stderr)
    else:
        sys.stdout.write(text)
        print(summary, file=sys.stderr)
    return EXIT_OK


_count = _number_up_to(1000)


def _add_screening_commands(sub: Any) -> None:
    from bot.decisions import VERDICTS

    p = sub.add_parser("screen", help="the next undecided records, best first (learns from decisions)")
    p.add_argument("--next", type=_count, default=10, metavar="N", help="how many (default 10)")
    p.add_argument("--query", metavar="NAME", help="only records this saved query found")
    p.add_argument("--json", action="store_true", help="print a JSON array (uid, title, score, ...)")
    p.set_defaults(func=_cmd_screen)

    p = sub.add_parser("decide", help="record include / exclude / maybe for records, or import a CSV")
    p.add_argument("decision", nargs="?", choices=VERDICTS,
                   help="with --from: the decision of rows that carry none (a Covidence list)")
    p.add_argument("uids", nargs="*", metavar="UID", help="records, as litwatch names them (pmid:N, nct:NCT…)")
    p.add_argument("--reason", metavar="TEXT", help="why excluded: one of [screening] exclusion_reasons")
    p.add_argument("--by", metavar="NAME", help="who decided (a name, or a Slack user ID)")
    p.add_argument("--from", dest="source", metavar="FILE",
                   help="CSV with a pmid, doi or uid column and a decision column (Rayyan, Covidence)")
    p.set_defaults(func=_cmd_decide)

    p = sub.add_parser("prisma", help="PRISMA 2020 counts of an update, or its flow diagram")
    p.add_argument("--since", type=_since, metavar="DATE",
                   help="the update: records first seen from then on (YYYY or YYYY-MM-DD)")
    p.add_argument("--format", choices=("json", "png", "svg"), default="json")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    p.set_defaults(func=_cmd_prisma)

    p = sub.add_parser("labels", help="the team's safety feedback as training labels for `make model`")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = actions.add_parser("export", help="write Confirm / Not a safety signal as model/labels JSONL")
    export.add_argument("-o", "--output", metavar="FILE",
                        help="write here (e.g. model/labels/team-feedback.jsonl) instead of stdout")
    export.set_defaults(func=_cmd_labels_export)


# ---------------------------------------------------------------- daemon: run and serve


def _cmd_run(args: argparse.Namespace, env: Environment) -> int:
    return _run_daemon(env, http_port=None)


def _cmd_serve(args: argparse.Namespace, env: Environment) -> int:
    return _run_daemon(env, http_port=args.port)


def _run_daemon(env: Environment, *, http_port: int | None) -> int:
    from bot.daemon import build_daemon, configure_logging, run_until_signalled

    configure_logging()
    settings = load_settings(env.config_path)
    store = Store.open(env.data_dir)  # the daemon closes it on the way out
    try:
        daemon = build_daemon(env, make_context(env, settings, store), http_port=http_port)
    except BaseException:
        store.close()
        raise
    return run_until_signalled(daemon)


def _add_daemon_commands(sub: Any) -> None:
    p = sub.add_parser("run", help="the daemon: scheduled runs, digests, Slack slash commands")
    p.set_defaults(func=_cmd_run)
    p = sub.add_parser("serve", help="like run, but slash commands arrive as signed HTTP requests")
    p.add_argument("--port", type=_port, default=3000, help="port to listen on (1-65535, default 3000)")
    p.set_defaults(func=_cmd_serve)


# ---------------------------------------------------------------- demo


def _cmd_demo(args: argparse.Namespace, env: Environment) -> int:
    from bot.demo.tour import run

    return run(sys.stdout, Path(args.dir) if args.dir else None)


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="litwatch",
        description="Keep a living systematic review current from PubMed, "
        "ClinicalTrials.gov and feeds, with alerts in Slack or by e-mail.",
    )
    parser.add_argument("--version", action="version", version=f"litwatch {__version__}")
    parser.add_argument("--config", metavar="FILE", help=CONFIG_HELP)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("check", help="validate the config and exit (2 if invalid)")
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser("once", help="run every saved query once, deliver, exit (1 if one failed)")
    p.add_argument("--query", metavar="NAME", help="run only this saved query")
    p.set_defaults(func=_cmd_once)

    p = sub.add_parser("export", help="write the stored record set as JSON, CSV or RIS")
    p.add_argument("--format", choices=FORMATS, default="json")
    p.add_argument("--query", metavar="NAME", help="only items this saved query matched")
    p.add_argument("--since", type=_since, metavar="DATE",
                   help="only items new or changed since then (YYYY or YYYY-MM-DD)")
    p.add_argument("--flagged", action="store_true", help="only items with a safety or integrity flag")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("search", help="ad hoc search (nothing is stored)")
    p.add_argument("terms", nargs="+", help="search terms, as typed in PubMed")
    p.add_argument("--source", choices=tuple(registry.search_scopes()), default="pubmed")
    p.add_argument("--since", type=_since, metavar="DATE", help="only records from then on (YYYY or YYYY-MM-DD)")
    p.add_argument("--limit", type=_limit, default=10, help="results per source (1-100, default 10)")
    p.add_argument("--json", action="store_true", help="print JSON records")
    p.set_defaults(func=_cmd_search)

    p = sub.add_parser("status", help="query health, pending notifications, store size")
    p.set_defaults(func=_cmd_status)

    p = sub.add_parser("reclassify", help="label stored records again with the current model and "
                                          "[classify] settings (sends no alerts)")
    p.add_argument("--all", action="store_true",
                   help="every stored record, not only those labelled by another classifier")
    p.add_argument("--dry-run", action="store_true", help="say what would change, write nothing")
    p.add_argument("--json", action="store_true", help="print the counts and every flipped record as JSON")
    p.set_defaults(func=_cmd_reclassify)

    p = sub.add_parser("demo", help="the whole cycle offline, on invented records, in under a minute")
    p.add_argument("--dir", metavar="DIR", help="an empty directory for the demo's files (default: a new temp dir)")
    p.set_defaults(func=_cmd_demo)

    _add_digest_commands(sub)
    _add_outbox_command(sub)
    _add_screening_commands(sub)
    _add_daemon_commands(sub)
    for command in _commands(parser):  # before or after the command: `litwatch once --config F`
        command.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS, help=CONFIG_HELP)
    return parser


def _commands(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every command's parser, nested ones (`outbox drop`) included."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in dict.fromkeys(action.choices.values()):  # aliases share a parser
                found += [command, *_commands(command)]
    return found


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        env = Environment.from_env()
        if args.config:
            env = dataclasses.replace(env, config_path=Path(args.config))
        return int(args.func(args, env))
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_CONFIG
    except LitwatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `litwatch export | head`: the reader left; not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:  # a file no command anticipated: still one line, not a traceback
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}: check that path's permissions and free space",
              file=sys.stderr)
        return EXIT_FAILED
