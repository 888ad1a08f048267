"""A toy source, written the way README "Adding a source" says: one module, one `register` call.

It serves "books" from an in-memory shelf, so tests can run a source litwatch has never heard
of through config validation, the pipeline's diff and the exports.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from bot import registry
from bot.config import Environment, SavedQuery
from bot.models import FetchResult, Item, Window
from bot.sources.http import Http
from bot.store import Store

SHELVES: dict[str, list[Item]] = {}  # shelf name -> the books a fetch returns


class ToySource:
    """The client: what is on the query's shelf right now."""

    overlap = timedelta(0)

    def fetch(self, query: SavedQuery, window: Window) -> FetchResult:
        return FetchResult(items=list(SHELVES.get(query.option("shelf"), [])))

    def search(self, terms: str, *, limit: int = 10, since: date | None = None) -> list[Item]:
        return []


class Toy(registry.SourceSpec):
    """Books on a shelf (`book:<isbn>`)."""

    name = "toy"
    uid_prefix = "book"
    label = "Toy Library"
    noun = "book"
    id_label = "{}"
    query_keys = frozenset({"shelf", "term"})
    search_scope = "toys"
    url_variable = None
    default_url = ""
    ris_type = "BOOK"
    ris_database = "Toy Library"
    registry_records = False
    may_list_registry_records = False
    accession = re.compile(r"\bISBN\d{10}\b")
    naming_fields = ()

    def check_query(self, query: SavedQuery, raw: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
        shelf = query.option("shelf")
        if not isinstance(shelf, str) or not shelf:
            yield "shelf", "required for source = 'toy' (the shelf's name)"

    def watched(self, item: Item) -> dict[str, Any]:
        return {"edition": item.journal}

    def record_url(self, ident: str) -> str:
        return f"https://library.example/books/{ident}"

    def build(self, env: Environment, http: Http, store: Store | None) -> ToySource:
        return ToySource()


def book(isbn: str, edition: str) -> Item:
    return Item(source="toy", id=isbn, title=f"The book {isbn}", journal=edition, published="2025")
