"""Rendering notifications to Block Kit: content, escaping, Slack's limits, deterministic parts."""

from __future__ import annotations

from typing import Any

import pytest

from bot.console import render_text
from bot.markup import Link
from bot.models import Classification, Item
from bot.notify import Notification, Summary
from bot.slack import blocks as r
from bot.slack.mrkdwn import escape, mrkdwn, safe_url
from tests.factories import pubmed_item, trial_item
from tests.fakes.slack import slack_problems

EVIL = "Exosomes <!channel> & <@U123> <!here> <http://evil.example|PubMed> for hair"


def doc(item: Item, **extra: Any) -> dict[str, Any]:
    """A stored item dict as the store hands it to the outbox."""
    out = item.to_dict()
    out.update(uid=item.uid, queries=["exo-alopecia"], first_seen="2026-03-10T06:00:00+00:00",
               last_changed="2026-03-10T06:00:00+00:00", changes=[])  # fmt: skip
    out.update(extra)
    return out


def labelled(n: int, kind: str = "clinical", safety: bool = False, integrity: bool = False, **kw: Any) -> dict:
    item = pubmed_item(n, **kw)
    item.classification = Classification(kind, safety, integrity, ("publication type: Clinical Trial",))  # type: ignore[arg-type]
    return doc(item)


def note(kind: str = "items", *, query: str | None = "exo-alopecia", summary: dict[str, Any] | None = None) -> Notification:
    return Notification(kind=kind, route="slack:C111", query=query,  # type: ignore[arg-type]
                        summary=Summary(**(summary or {})), created="2026-03-10T06:00:00+00:00")


def every_text(message: dict[str, Any]) -> str:
    texts = [message["text"]]
    for block in message["blocks"]:
        if isinstance(block.get("text"), dict):
            texts.append(block["text"]["text"])
        texts += [e["text"] if isinstance(e["text"], str) else e["text"]["text"]
                  for e in block.get("elements", ()) if "text" in e]
    return "\n".join(texts)


def assert_valid(messages: list[dict[str, Any]]) -> None:
    for message in messages:
        assert slack_problems(message) == []


def test_escape_touches_only_the_three_control_characters() -> None:
    """&, < and > are entity-escaped; quotes, asterisks and non-ASCII pass through."""
    assert escape('a & b < c > d "e" *f* Hôpital') == 'a &amp; b &lt; c &gt; d "e" *f* Hôpital'


def test_outside_text_cannot_ping_or_forge_links() -> None:
    """Mentions and links inside a title arrive as literal text; only our own link is live."""
    messages = r.render(note(), [labelled(1, title=EVIL)])
    assert_valid(messages)
    text = every_text(messages[0])
    for forged in ("<!channel>", "<!here>", "<@U123>", "<http://evil.example|PubMed>"):
        assert forged not in text
    assert "&lt;!channel&gt; &amp; &lt;@U123&gt;" in text
    assert "<https://pubmed.ncbi.nlm.nih.gov/30000001/|Exosomes &lt;!channel&gt;" in text
    assert all(
        t.get("verbatim") for b in messages[0]["blocks"] for t in [b.get("text") or {}] if t.get("type") == "mrkdwn"
    )
    assert "link_names" not in messages[0] and "parse" not in messages[0]


def test_fallback_text_is_escaped_too() -> None:
    """The notification text (push, screen readers) is mrkdwn as well, so it is escaped."""
    messages = r.render(note("safety"), [labelled(1, safety=True, title=EVIL)])
    assert "<!channel>" not in messages[0]["text"] and "&lt;!channel&gt;" in messages[0]["text"]


@pytest.mark.parametrize("url, expected", [
    ("https://example.org/a?b=1&c=2", "https://example.org/a?b=1&amp;c=2"),
    ("https://evil.example/x|Click here>", "https://evil.example/x%7CClick%20here%3E"),
    ("javascript:alert(1)", ""),
    ("<!channel>", ""),
])  # fmt: skip
def test_urls_cannot_break_out_of_a_link(url: str, expected: str) -> None:
    """A URL from a feed cannot close the link early or carry a non-http scheme."""
    assert safe_url(url) == expected
    assert mrkdwn((Link(url, "title"),)) == (f"<{expected}|title>" if expected else "title")


def test_item_shows_title_venue_badge_reasons_queries_and_ids() -> None:
    """One alert carries linked title, source/journal/date, kind badge, reason, queries, IDs."""
    item = labelled(7, trial_ids=("NCT01234567", "ISRCTN99999999"))
    item["links"] = ["nct:NCT07654321"]
    text = r.render(note(), [item])[0]["blocks"][2]["text"]["text"]
    assert text.startswith("*<https://pubmed.ncbi.nlm.nih.gov/30000007/|Exosome therapy for hair loss, study 7>*")
    assert "PubMed · Dermatol Surg · 2025-04-01 · `clinical study`" in text
    assert "*Why*: publication type: Clinical Trial" in text
    assert "Matched `exo-alopecia`" in text
    assert "<https://clinicaltrials.gov/study/NCT07654321|NCT07654321>" in text
    assert "<https://clinicaltrials.gov/study/NCT01234567|NCT01234567>" in text
    assert "<https://www.isrctn.com/ISRCTN99999999|ISRCTN99999999>" in text


def test_changed_trial_shows_its_field_level_diff() -> None:
    """A changed trial lists its changes; the header counts it as changed, not new."""
    trial = trial_item("NCT05594173", status="TERMINATED", why_stopped="safety")
    trial.classification = Classification("clinical")
    changed = doc(trial, last_changed="2026-03-17T06:00:00+00:00",
                  changes=["status: RECRUITING → TERMINATED", "why stopped: (none) → safety"])  # fmt: skip
    message = r.render(note(summary={"new": 1, "changed": 1}), [labelled(1), changed])[0]
    assert message["blocks"][0]["text"]["text"] == "1 new, 1 changed — exo-alopecia"
    text = [b for b in message["blocks"] if b["type"] == "section"][1]["text"]["text"]
    assert "ClinicalTrials.gov · terminated" in text
    assert "*Changed*:\n• status: RECRUITING → TERMINATED\n• why stopped: (none) → safety" in text


def test_safety_alert_has_its_own_header_and_reason() -> None:
    """A safety signal says so in the header and the fallback, with the rule that fired."""
    message = r.render(note("safety"), [labelled(3, safety=True)])[0]
    assert message["blocks"][0]["text"]["text"] == ":rotating_light: Safety signal — exo-alopecia"
    assert message["text"].startswith("Safety signal: Exosome therapy")
    assert "*Safety*: publication type: Clinical Trial" in message["blocks"][2]["text"]["text"]


def test_a_120_item_run_splits_into_numbered_valid_parts() -> None:
    """120 items become six parts of 20 items, each within Slack's limits, numbered 1/6..6/6."""
    items = [labelled(n) for n in range(120)]
    messages = r.render(note(), items)
    assert_valid(messages)
    assert len(messages) == 6
    assert [m["blocks"][0]["text"]["text"] for m in messages][::5] == [
        "120 new — exo-alopecia (part 1/6)", "120 new — exo-alopecia (part 6/6)"]  # fmt: skip
    shown = [b["text"]["text"] for m in messages for b in m["blocks"] if b["type"] == "section"]
    assert len(shown) == 120 and all(len(m["blocks"]) <= r.MAX_BLOCKS for m in messages)
    assert r.render(note(), items) == messages  # deterministic: a resumed delivery posts the same parts


def test_huge_items_are_cut_with_an_ellipsis_and_a_link() -> None:
    """A section over 3,000 characters is cut at a line with '…' and a link to the record."""
    big = labelled(5, title="&" * 2000)
    big["changes"] = [f"field {n}: " + "<" * 290 for n in range(40)]
    big["last_changed"] = "2026-03-17T06:00:00+00:00"
    messages = r.render(note(), [big])
    assert_valid(messages)
    text = messages[0]["blocks"][2]["text"]["text"]
    assert len(text) <= r.SECTION_TEXT
    assert text.endswith("… <https://pubmed.ncbi.nlm.nih.gov/30000005/|more>")


def test_text_budget_splits_before_slack_would_truncate() -> None:
    """Twenty maximal items would pass 40,000 characters; they are spread over more parts."""
    items = []
    for n in range(20):
        item = labelled(n, title="<" * 300)
        item["changes"] = ["x" * 300] * 8
        item["last_changed"] = "2026-03-17T06:00:00+00:00"
        items.append(item)
    messages = r.render(note(), items)
    assert_valid(messages)
    assert len(messages) > 1
    assert all(len(every_text(m)) <= r.MESSAGE_TEXT for m in messages)


def test_baseline_is_one_summary_not_a_flood() -> None:
    """The baseline notification renders as one message with counts, whatever the item count."""
    items = [labelled(n, kind="case_report" if n % 3 else "clinical") for n in range(300)]
    messages = r.render(note("baseline", summary={"count": 300}), items)
    assert len(messages) == 1
    text = every_text(messages[0])
    assert "300 existing items stored as the baseline" in text
    assert "clinical studies 100, case reports 200" in text


def test_error_notification_shows_the_pipeline_message_escaped() -> None:
    """A failed query's message is shown escaped, with where to look next."""
    message = r.render(note("error", summary={"message": "query failed: 400: <b>bad</b> term"}), [])[0]
    text = every_text(message)
    assert "query failed: 400: &lt;b&gt;bad&lt;/b&gt; term" in text and "`litwatch status`" in text


def test_digest_counts_kinds_puts_safety_first_and_says_how_to_get_the_rest() -> None:
    """A digest shows counts per kind, safety and integrity first, top N per kind, N more."""
    items = [labelled(n, published=f"2026-03-{n % 28 + 1:02d}") for n in range(30)]
    items += [labelled(100 + n, kind="case_report") for n in range(3)]
    items += [labelled(200, safety=True), labelled(201, integrity=True)]
    summary = {"period": "weekly", "since": "2026-03-03T09:00:00+00:00", "top": 5}
    messages = r.render(note("digest", query=None, summary=summary), items)
    assert_valid(messages)
    assert len(messages) == 1
    blocks = messages[0]["blocks"]
    assert blocks[0]["text"]["text"] == "Weekly digest — 35 new items"
    assert (
        blocks[1]["elements"][0]["text"]
        == "since 2026-03-03 · clinical studies 32, case reports 3 · 1 safety · 1 integrity"
    )
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    headings = [n for n, text in enumerate(sections) if not text.startswith(("• ", "+"))]
    assert sections[headings[0]].startswith(":rotating_light: *Safety and integrity (2)*")
    # The kind's total (32) is the flagged items listed above (2) plus this section's 30.
    assert sections[headings[1]] == "*Clinical studies (30 more; 2 flagged, above)*"
    clinical = sections[headings[1] + 1:headings[2]]
    assert sum(text.startswith("• ") for text in clinical) == 5 and clinical[-1] == "+25 more"
    assert sections[headings[2]] == "*Case reports (3)*"
    # Every listed item carries its buttons, right under its line.
    assert sum(b["type"] == "actions" for b in blocks) == 2 + 5 + 3
    assert "25 more not listed — run `litwatch export --since 2026-03-03 --format ris`" in every_text(messages[0])


def test_digest_of_1000_items_is_a_few_valid_messages_with_buttons_on_each_listed_item() -> None:
    """A thousand items make a few digest parts within every limit, each listed item with its buttons."""
    items = [labelled(n, safety=n % 40 == 0, kind=("clinical", "case_report", "other")[n % 3]) for n in range(1000)]
    messages = r.render(note("digest", summary={"period": "daily", "top": 20}), items)
    assert_valid(messages)
    assert len(messages) <= 4 and all(len(every_text(m)) <= r.MESSAGE_TEXT for m in messages)
    buttons = [b for m in messages for b in m["blocks"] if b["type"] == "actions"]
    assert len(buttons) == 20 + 3 * 20  # the 20 flagged shown, then the top 20 of each kind


def test_empty_digest_says_nothing_is_new() -> None:
    """With nothing new the digest still arrives, saying so."""
    message = r.render(note("digest", summary={"period": "weekly", "since": "2026-03-03"}), [])[0]
    assert "Nothing new since 2026-03-03." in every_text(message)


def test_console_text_has_the_same_content_without_markup() -> None:
    """The console rendering shows the same words and URLs, unescaped and without mrkdwn."""
    item = labelled(1, title=EVIL)
    text = render_text(note(), [item])
    assert "== 1 new — exo-alopecia ==" in text
    assert EVIL + " <https://pubmed.ncbi.nlm.nih.gov/30000001/>" in text
    assert "PubMed · Dermatol Surg · 2025-04-01 · clinical study" in text
    assert "&amp;" not in text and "*" not in text


def test_digest_counts_a_changed_item_as_changed_not_new() -> None:
    """Regression (digest says "N new items" when one changed): an item stored before the digest's
    period and changed during it makes the header say "new or changed" and the counts split them."""
    since = "2026-03-03T09:00:00+00:00"
    items = [labelled(n) for n in range(3)]
    items.append({**labelled(9), "first_seen": "2026-02-01T06:00:00+00:00",
                  "changes": ["Status RECRUITING -> COMPLETED"]})
    messages = r.render(note("digest", query=None, summary={"period": "weekly", "since": since}), items)
    assert_valid(messages)
    blocks = messages[0]["blocks"]
    assert blocks[0]["text"]["text"] == "Weekly digest — 4 new or changed items"
    assert blocks[1]["elements"][0]["text"].startswith("since 2026-03-03 · 3 new, 1 changed · clinical studies 4")
    assert "study 9> (changed)" in every_text(messages[0])


def test_digest_line_of_a_terminated_trial_says_why_it_stopped() -> None:
    """Regression (digest shows "status TERMINATED"): a stopped trial's line carries its why-stopped
    reason, ahead of the registry status line that leads its classifier reasons."""
    trial = trial_item("NCT00000001", status="TERMINATED", why_stopped="Serious adverse events in 3 participants")
    trial.classification = Classification("clinical", True, False, (
        "registry record: interventional study status TERMINATED",
        "trial TERMINATED, why stopped: 'Serious adverse events in 3 participants'"))
    quiet = trial_item("NCT00000002", status="WITHDRAWN", why_stopped="funding")
    quiet.classification = Classification("clinical", False, False, ("registry record: study status WITHDRAWN",))
    text = every_text(r.render(note("digest", query=None, summary={"period": "weekly"}),
                               [doc(trial), doc(quiet)])[0])
    assert "— terminated, why stopped: Serious adverse events in 3 participants" in text
    assert "— withdrawn, why stopped: funding" in text
    assert "status TERMINATED" not in text


def test_possible_safety_and_corrected_items_say_so_in_the_per_run_alert() -> None:
    """Issue 10: a possible safety signal shows its badge, score and quoted sentence; a corrected item its tag."""
    item = pubmed_item(4)
    item.classification = Classification(
        "clinical", possible_safety=True, safety_score=0.31, corrected=True,
        reasons=("possible safety signal 0.31 — abstract: 'two patients had nodules'",))
    text = r.render(note(), [doc(item)])[0]["blocks"][2]["text"]["text"]
    assert "*possible safety signal*" in text
    assert "*Possible safety*: possible safety signal 0.31 — abstract: 'two patients had nodules'" in text
    corrected = pubmed_item(5)
    corrected.classification = Classification("clinical", corrected=True)
    assert "`corrected`" in r.render(note(), [doc(corrected)])[0]["blocks"][2]["text"]["text"]


def _actions(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in message["blocks"] if b["type"] == "actions"]


def test_each_alert_item_carries_include_exclude_maybe_buttons_naming_it() -> None:
    """A per-run alert puts Include / Exclude / Maybe (value: the uid) right under each item, within 50 blocks."""
    items = [labelled(n) for n in range(45)]
    messages = r.render(note(summary={"new": 45}), items)
    assert_valid(messages)
    assert all(len(m["blocks"]) <= r.MAX_BLOCKS for m in messages)
    actions = [a for m in messages for a in _actions(m)]
    assert [a["block_id"] for a in actions] == [f"screen:pmid:{30000000 + n}" for n in range(45)]
    first = actions[0]["elements"]
    assert [(e["action_id"], e["value"]) for e in first] == [
        ("screen:include", "pmid:30000000"), ("screen:exclude", "pmid:30000000"), ("screen:maybe", "pmid:30000000")]
    blocks = messages[0]["blocks"]
    assert blocks[blocks.index(actions[0]) - 1]["type"] == "section"  # the item's text is just above


def test_a_safety_alert_also_offers_confirm_and_not_a_safety_signal() -> None:
    """A safety alert's item has the three screening buttons and Confirm / Not a safety signal."""
    messages = r.render(note("safety"), [labelled(7, safety=True)])
    assert_valid(messages)
    (actions,) = _actions(messages[0])
    assert [e["action_id"] for e in actions["elements"]] == [
        "screen:include", "screen:exclude", "screen:maybe", "safety:confirm", "safety:dismiss"]
    assert [e["text"]["text"] for e in actions["elements"]][3:] == ["Confirm", "Not a safety signal"]


def test_console_text_has_no_buttons() -> None:
    """The console and e-mail show the same items without any buttons."""
    text = render_text(note(summary={"new": 1}), [labelled(1)])
    assert "Include" not in text and "Exosome" in text


@pytest.mark.parametrize("safety", [False, True])
def test_buttons_are_exactly_what_slack_sdks_block_objects_write(safety: bool) -> None:
    """The rendered actions block equals slack_sdk's ActionsBlock for the item, long uids included."""
    from bot.render import Choices

    for uid in ("pmid:30000001", "feed:" + "x" * 300):
        message = r.to_slack(r.Message(("t",), (Choices(uid, safety),)))
        assert message["blocks"] == [r.choice_block(Choices(uid, safety)).to_dict()]


def _buttons_by_uid(messages: list[dict[str, Any]]) -> dict[str, list[str]]:
    return {a["elements"][0]["value"]: [e["action_id"] for e in a["elements"]]
            for m in messages for a in _actions(m)}


SCREEN = ["screen:include", "screen:exclude", "screen:maybe"]
WITH_SAFETY = [*SCREEN, "safety:confirm", "safety:dismiss"]


@pytest.mark.parametrize("kind,summary", [
    ("items", {"new": 2}), ("digest", {"period": "weekly", "top": 5}), ("integrity", {}),
    ("baseline_flagged", {"count": 2}),
])  # fmt: skip
def test_a_safety_flagged_item_offers_confirm_wherever_it_is_listed(kind: str, summary: dict[str, Any]) -> None:
    """Per-run alert, digest, integrity notice, baseline list: the flagged item has all five buttons, the other three."""
    flagged, plain = labelled(1, safety=True, integrity=kind == "baseline_flagged"), labelled(2, integrity=True)
    messages = r.render(note(kind, summary=summary), [flagged, plain])
    assert_valid(messages)
    assert _buttons_by_uid(messages) == {"pmid:30000001": WITH_SAFETY, "pmid:30000002": SCREEN}


def test_a_possible_safety_signal_offers_confirm_too() -> None:
    """A record between the review and the safety threshold ("possible safety signal") can be
    confirmed or dismissed as well: the team's word on it is a label for the model."""
    from dataclasses import replace

    possible = pubmed_item(3)
    possible.classification = replace(Classification("clinical", False, False, ("x",)), possible_safety=True)
    messages = r.render(note("items", summary={"new": 2}), [doc(possible), labelled(4)])
    assert_valid(messages)
    assert _buttons_by_uid(messages) == {"pmid:30000003": WITH_SAFETY, "pmid:30000004": SCREEN}


def test_an_item_whose_id_slack_cannot_carry_in_a_button_gets_no_buttons() -> None:
    """A button's value (the item's uid) is at most 2,000 characters: a longer feed id is listed
    without buttons rather than making Slack refuse the whole message."""
    long_one = labelled(5, safety=True)
    long_one["uid"] = "feed:https://j.example/" + "x" * 2100
    messages = r.render(note("items", summary={"new": 2}), [long_one, labelled(6)])
    assert_valid(messages)
    assert _buttons_by_uid(messages) == {"pmid:30000006": SCREEN}
