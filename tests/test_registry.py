"""The source registry: a new source is one module and one registration, checked at import."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import export, registry
from bot.config import Environment, parse_settings
from bot.errors import ConfigError
from bot.models import Classification, Item
from bot.pipeline import run_query
from bot.render import registry_url, uid_url
from bot.sources import build_sources
from bot.store import Store
from tests.factories import context
from tests.toy_source import SHELVES, Toy, book

CONFIG = {"slack": {"channel": "C1"}, "queries": [{"name": "shelf-a", "source": "toy", "shelf": "a"}]}


@pytest.fixture
def toy() -> Iterator[Toy]:
    spec = registry.register(Toy())
    yield spec  # type: ignore[misc]
    registry.unregister("toy")
    SHELVES.clear()


def plain(item: Item) -> Classification:
    return Classification(kind="other", reasons=("toy rule",))


def test_a_toy_source_runs_through_config_diff_and_export(toy: Toy, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """A source registered from a test module is validated, fetched, diffed and exported like a built-in one."""
    settings = parse_settings(CONFIG, tmp_path / "litwatch.toml")
    query = settings.queries[0]
    assert query.source == "toy" and query.option("shelf") == "a"
    sources = build_sources(Environment(), store=None)
    assert set(sources) == {"pubmed", "clinicaltrials", "feed", "toy"}

    store = Store.memory()
    SHELVES["a"] = [book("ISBN0000000001", "1st"), book("ISBN0000000002", "1st")]
    monkeypatch.setenv("LITWATCH_NOW", "2026-03-01T06:00:00+00:00")
    first = run_query(query, context(settings, store, sources, classify=plain))
    assert first.baseline and first.new == 2 and not first.failed

    SHELVES["a"] = [book("ISBN0000000001", "2nd"), book("ISBN0000000002", "1st"), book("ISBN0000000003", "1st")]
    monkeypatch.setenv("LITWATCH_NOW", "2026-03-02T06:00:00+00:00")
    second = run_query(query, context(settings, store, sources, classify=plain))
    assert (second.new, second.changed) == (1, 1)
    changed = store.get("book:ISBN0000000001")
    assert changed is not None and changed["changes"] == ["edition: '1st' -> '2nd'"]

    ris = export.render(store.items(), "ris")
    assert ris.count("TY  - BOOK") == 3 and "DB  - Toy Library" in ris
    assert uid_url("book:ISBN0000000003") == "https://library.example/books/ISBN0000000003"
    assert registry_url("ISBN0000000003") == "https://library.example/books/ISBN0000000003"
    assert registry.search_scopes()["toys"] == ("toy",)
    assert registry.label("toy") == "Toy Library"


def test_the_toy_sources_own_keys_are_validated(toy: Toy, tmp_path: Path) -> None:
    """A key only the toy declares is required by its check and refused on other sources, naming the owner."""
    bad = {"slack": {"channel": "C1"}, "queries": [
        {"name": "no-shelf", "source": "toy"},
        {"name": "pm", "source": "pubmed", "term": "x", "shelf": "a"},
    ]}  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        parse_settings(bad, Path("litwatch.toml"))
    assert caught.value.problems == [
        "litwatch.toml: queries[0].shelf: required for source = 'toy' (the shelf's name)",
        "litwatch.toml: queries[1].shelf: only applies to source = 'toy', not 'pubmed'",
    ]


def test_without_registration_the_source_is_unknown(tmp_path: Path) -> None:
    """Until its module registers it, `source = 'toy'` is an unknown source listing the registered ones."""
    with pytest.raises(ConfigError, match=re.escape("unknown source 'toy' (expected one of: pubmed, clinicaltrials, feed)")):
        parse_settings(CONFIG, tmp_path / "litwatch.toml")


def test_a_source_that_forgets_a_declaration_fails_when_its_class_is_defined() -> None:
    """Regression (issue 13: diff.py failed silently for a source it did not know): a missing attribute is a TypeError at import."""
    with pytest.raises(TypeError, match="source Forgetful does not declare accession, naming_fields"):

        class Forgetful(registry.SourceSpec):  # defining it is the test
            name = "forgetful"
            uid_prefix = "f"
            label = "Forgetful"
            noun = "note"
            id_label = ""
            query_keys = frozenset()
            search_scope = None
            url_variable = None
            default_url = ""
            ris_type = "GEN"
            ris_database = ""
            registry_records = False
            may_list_registry_records = False


def test_a_source_that_forgets_a_method_fails_when_it_is_made() -> None:
    """A spec without `watched` cannot be instantiated, so its module's `register(...)` line fails at import."""
    declared = {name: getattr(Toy, name) for name in registry.SourceSpec.declarations()}
    methods = {name: getattr(Toy, name) for name in ("check_query", "record_url", "build")}
    no_watch = type("NoWatch", (registry.SourceSpec,), {**declared, **methods})
    with pytest.raises(TypeError, match=r"abstract method '?watched"):
        no_watch()


def test_a_taken_uid_prefix_is_refused(toy: Toy) -> None:
    """Two sources cannot share a uid prefix: the second registration fails, naming both."""

    class Clash(Toy):
        name = "clash"
        search_scope = None

    with pytest.raises(ValueError, match="source 'clash': uid_prefix 'book' is already taken by 'toy'"):
        registry.register(Clash())
    assert registry.get("clash") is None
