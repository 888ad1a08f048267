"""`litwatch demo`: the whole cycle, offline, narrated, through the real `litwatch` commands.

Each step runs the installed command line (`python -m bot …`) as a user would, against the
stand-in servers, with a generated config and a throwaway data directory; nothing reaches
past 127.0.0.1 and no Slack token is passed on, so alerts print to the terminal.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TextIO

import bot
from bot.demo.records import CONDITION, INTERVENTION, TERM, arrive, day_one
from bot.demo.servers import StandIns
from bot.errors import LitwatchError

# Never handed to the demo's commands: tokens and servers would reach a real workspace or
# mailbox, and litwatch's own settings belong to the user's setup, not the demo's.
WITHHELD_PREFIXES = ("SLACK_", "SMTP_", "LITWATCH_")
WITHHELD = ("NCBI_API_KEY",)
CHANNEL, SAFETY_CHANNEL, DIGEST_TARGET = "#hair-loss-review", "#hair-loss-safety", "#journal-club"
STEP_TIMEOUT = 120  # seconds; one step takes one or two on a laptop


@dataclass(frozen=True)
class Step:
    """One narrated step: what it shows, its commands, and the demo clock they run at."""

    title: str
    explain: str
    commands: tuple[tuple[str, ...], ...]
    at: str  # LITWATCH_NOW for these commands
    arrivals: bool = False  # day 2's records reach the stand-ins first


def config_text(feed_url: str) -> str:
    """The demo's config: three saved queries, one per source, on the demo topic."""
    return f"""\
# Written by `litwatch demo`: three saved queries, one per source, on invented records.
[slack]
channel = "{CHANNEL}"
safety_channel = "{SAFETY_CHANNEL}"

[classify]
safety_terms = ["granuloma", "granulomas", "unregulated"]
intervention_terms = ["exosome", "exosomes", "microneedling"]
condition_terms = ["alopecia", "hair", "scalp"]
efficacy_terms = ["regrowth"]

[[queries]]
name = "pubmed-exosomes-hair"
source = "pubmed"
term = "{TERM}"

[[queries]]
name = "trials-exosomes-alopecia"
source = "clinicaltrials"
condition = "{CONDITION}"
intervention = "{INTERVENTION}"

[[queries]]
name = "feed-scalp-hair-clinics"
source = "feed"
url = "{feed_url}"
"""


def steps(day: date, exports: Path) -> list[Step]:
    first, second = day - timedelta(days=1), day
    ris, csv = exports / "litwatch.ris", exports / "litwatch.csv"
    return [
        Step("Day 1, 06:00: the first run is a baseline",
             "Every query's first run stores what the sources hold and posts one summary per "
             "query, not one alert per record; records already flagged are listed once for the "
             "safety channel.",
             (("once",),), f"{first}T06:00:00+00:00"),
        Step(f"Day 1, 06:05: {DIGEST_TARGET} subscribes to the weekly digest",
             "A subscriber's digest covers what arrives from now on.",
             (("subscribe", DIGEST_TARGET),), f"{first}T06:05:00+00:00"),
        Step("Day 2, 06:00: the next scheduled run",
             "Overnight a randomized trial, a case report of granulomas, a trial stopped for "
             "safety and the retraction of a day-1 paper arrived; safety signals and integrity "
             "notices go to the safety channel at once, the rest in one message per query.",
             (("once",),), f"{second}T06:00:00+00:00", arrivals=True),
        Step("Day 2, 09:00: the weekly digest",
             "The digest lists what arrived since the subscriber's last one; in Slack it also "
             "carries the items as a RIS file.",
             (("digest", "--period", "weekly"),), f"{second}T09:00:00+00:00"),
        Step("Day 2, 09:05: export the record set for screening",
             "RIS imports into Zotero, Rayyan or Covidence; CSV opens in a spreadsheet.",
             (("export", "--format", "ris", "-o", str(ris)), ("export", "--format", "csv", "-o", str(csv))),
             f"{second}T09:05:00+00:00"),
        Step("Day 2, 09:10: status",
             "Each query's health and what is still waiting to be delivered.",
             (("status",),), f"{second}T09:10:00+00:00"),
    ]


def command_env(base: Mapping[str, str], *, config: Path, data: Path, stand_ins: StandIns,
                at: str) -> dict[str, str]:
    """The environment of one demo command: the stand-ins' URLs, the demo's own config,
    data directory and clock, no tokens or mail server, and no proxy between it and 127.0.0.1."""
    env = {k: v for k, v in base.items() if k not in WITHHELD and not k.startswith(WITHHELD_PREFIXES)}
    package_root = str(Path(bot.__file__).resolve().parent.parent)
    env.update(
        LITWATCH_CONFIG=str(config), LITWATCH_DATA=str(data), LITWATCH_NOW=at,
        NCBI_EUTILS_URL=stand_ins.eutils_url, CTGOV_API_URL=stand_ins.ctgov_url,
        NCBI_EMAIL="demo@example.org", PYTHONUNBUFFERED="1",
        PYTHONPATH=os.pathsep.join(p for p in (package_root, base.get("PYTHONPATH", "")) if p),
    )
    for name in ("NO_PROXY", "no_proxy"):
        env[name] = ",".join(p for p in (base.get(name, ""), "127.0.0.1", "localhost") if p)
    return env


def run(out: TextIO, directory: Path | None = None, *, today: date | None = None) -> int:
    """Run the narrated cycle, printing to `out`; 0 when every step worked."""
    started = time.monotonic()
    day = today or date.today()
    workdir = _workdir(directory)
    config, data, exports = workdir / "litwatch.toml", workdir / "data", workdir / "exports"
    exports.mkdir(exist_ok=True)
    upstream = day_one(day - timedelta(days=1))
    say = _Narrator(out)
    with StandIns(upstream) as stand_ins:
        say.step("Stand-ins for PubMed, ClinicalTrials.gov and a journal feed",
                 f"They listen on {stand_ins.base} only and serve invented records, so nothing "
                 "leaves this machine.")
        config.write_text(config_text(stand_ins.feed_url), encoding="utf-8")
        say.note(f"config: {config}   data: {data}")
        say.note(f"NCBI_EUTILS_URL={stand_ins.eutils_url}  CTGOV_API_URL={stand_ins.ctgov_url}")
        for step in steps(day, exports):
            if step.arrivals:
                arrive(upstream, day)
            say.step(step.title, step.explain)
            env = command_env(os.environ, config=config, data=data, stand_ins=stand_ins, at=step.at)
            for args in step.commands:
                if not say.command(args, env):
                    out.write(f"\nThe demo stopped: `litwatch {' '.join(args)}` failed (see above). "
                              f"Its files are in {workdir}\n")
                    return 1
    say.step("Done", f"The whole cycle took {time.monotonic() - started:.0f} s.")
    say.note(f"exports: {exports / 'litwatch.ris'} and {exports / 'litwatch.csv'}")
    say.note(f"everything the demo wrote is in {workdir}; look around, then delete it: rm -r {workdir}")
    say.note("to watch the real sources: edit config/litwatch.toml, set NCBI_EMAIL, run `litwatch once`")
    return 0


def _workdir(directory: Path | None) -> Path:
    if directory is None:
        return Path(tempfile.mkdtemp(prefix="litwatch-demo-"))
    if directory.exists() and any(directory.iterdir()):
        raise LitwatchError(f"{directory} is not empty: name a new or empty directory for the demo")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LitwatchError(f"cannot create {directory}: {exc.strerror}") from None
    return directory


class _Narrator:
    """Numbered steps, one sentence each, and each command's output indented beneath."""

    def __init__(self, out: TextIO):
        self.out = out
        self.number = 0

    def step(self, title: str, explain: str) -> None:
        self.number += 1
        self.out.write(f"\n== {self.number}. {title}\n   {explain}\n")
        self.out.flush()

    def note(self, text: str) -> None:
        self.out.write(f"   {text}\n")

    def command(self, args: Sequence[str], env: Mapping[str, str]) -> bool:
        self.out.write(f"\n   $ litwatch {' '.join(args)}\n")
        try:
            done = subprocess.run(
                [sys.executable, "-m", "bot", *args], env=dict(env), stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True, timeout=STEP_TIMEOUT, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            self.out.write(f"   (no answer after {STEP_TIMEOUT} s)\n")
            return False
        for line in done.stdout.splitlines():
            self.out.write(f"   | {line}\n")
        self.out.flush()
        return done.returncode == 0
