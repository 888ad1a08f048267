"""`python -m tests.daemon_proc SOURCE_URL`: the production daemon with an HTTP test source.

Everything is the real `litwatch run` wiring (build_daemon, run_until_signalled, the store
in LITWATCH_DATA, the console channel) except the sources: each fetch GETs
`SOURCE_URL/fetch?query=NAME` from a FakeServer in the test process, which answers with item
dicts, at once or slowly. So a test can send SIGTERM to a real process in the middle of a
real (socket-blocked) fetch.
"""

from __future__ import annotations

import json
import sys
from datetime import date, timedelta
from urllib.parse import quote
from urllib.request import urlopen

from bot.config import Environment, SavedQuery, load_settings
from bot.context import RunContext
from bot.daemon import build_daemon, configure_logging, run_until_signalled
from bot.errors import SourceError
from bot.models import Classification, FetchResult, Item, Window
from bot.store import Store
from tests.factories import channels


class HttpListSource:
    """Fetches a saved query's items as JSON from a test server."""

    overlap = timedelta(days=7)

    def __init__(self, base_url: str):
        self.base_url = base_url

    def fetch(self, query: SavedQuery, window: Window) -> FetchResult:
        url = f"{self.base_url}/fetch?query={quote(query.name)}"
        try:
            with urlopen(url, timeout=120) as response:
                raw = json.load(response)
        except OSError as exc:
            raise SourceError(str(exc), query=query.name, retryable=True) from exc
        return FetchResult(items=[Item.from_dict(d) for d in raw])

    def search(self, terms: str, *, limit: int = 10, since: date | None = None) -> list[Item]:
        return []


def label(item: Item) -> Classification:
    return Classification(kind="clinical", reasons=("test rule",))


def main(argv: list[str]) -> int:
    configure_logging()
    env = Environment.from_env()
    settings = load_settings(env.config_path)
    source = HttpListSource(argv[0])
    store = Store.open(env.data_dir)
    ctx = RunContext(settings=settings, store=store, sources={"pubmed": source, "clinicaltrials": source},
                     classify=label, channels=channels(console=sys.stdout))
    daemon = build_daemon(env, ctx)
    return run_until_signalled(daemon)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
