"""How trial changes read: one line per watched registry field, in the registry's own terms."""

from __future__ import annotations

from bot.diff import describe_changes, fingerprint
from tests.factories import trial_item


def test_every_watched_trial_field_is_worded() -> None:
    """Status, why stopped, results, enrollment, primary completion and phases each get a line."""
    old = trial_item("NCT01234567", status="RECRUITING", enrollment=40, phases=("PHASE1",),
                     primary_completion_date="2025-06")  # fmt: skip
    new = trial_item("NCT01234567", status="TERMINATED", why_stopped="safety concerns",
                     has_results=True, enrollment=12, phases=("PHASE1", "PHASE2"),
                     primary_completion_date="2025-01-15")  # fmt: skip
    assert describe_changes(old.to_dict(), new) == [
        "Status RECRUITING -> TERMINATED",
        "why stopped: 'safety concerns'",
        "results posted",
        "enrollment 40 -> 12",
        "primary completion 2025-06 -> 2025-01-15",
        "phases PHASE1 -> PHASE1, PHASE2",
    ]


def test_unwatched_trial_fields_do_not_change_the_fingerprint() -> None:
    """A new update date, sponsor or title leaves the fingerprint alone: not an alert."""
    old = trial_item("NCT01234567", last_update="2025-01-01", sponsor="A")
    new = trial_item("NCT01234567", last_update="2025-03-01", sponsor="B")
    new.title = "Renamed"
    assert fingerprint(old) == fingerprint(new)
    assert describe_changes(old.to_dict(), new) == []


def test_missing_values_read_as_none() -> None:
    """A field that appears or disappears reads '(none)' rather than an empty string."""
    old = trial_item("NCT01234567", why_stopped="funding")
    new = trial_item("NCT01234567", enrollment=30)
    assert describe_changes(old.to_dict(), new) == [
        "why stopped cleared (was 'funding')", "enrollment (none) -> 30",
    ]
