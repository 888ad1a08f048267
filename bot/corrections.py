"""PubMed's integrity vocabulary, defined once: CommentsCorrections links and publication types.

Two tiers. `integrity` (an alert to the safety channel at once): retracted, partially
retracted, a retraction notice, an expression of concern, withdrawn. `corrected` (shown on
the item, in digests and exports, never an alert by itself): erratum, corrected and
republished. The PubMed parser keeps the links named here, the diff watches them, the
retraction watch searches for them and the classifier labels by them.
"""

from __future__ import annotations

from collections.abc import Iterable

# The record is retracted, partially retracted or under concern (links on the original).
INTEGRITY_IN = frozenset({
    "RetractionIn", "PartialRetractionIn", "ExpressionOfConcernIn", "RetractionAndRepublicationIn",
})  # fmt: skip
# The record is itself such a notice (links on the notice, pointing at the original).
INTEGRITY_OF = frozenset({
    "RetractionOf", "PartialRetractionOf", "ExpressionOfConcernFor", "RetractionAndRepublicationOf",
})  # fmt: skip
CORRECTED_IN = frozenset({"ErratumIn", "CorrectedandRepublishedIn"})
CORRECTED_OF = frozenset({"ErratumFor", "CorrectedandRepublishedFrom"})
INTEGRITY_LINKS = INTEGRITY_IN | INTEGRITY_OF
CORRECTED_LINKS = CORRECTED_IN | CORRECTED_OF
# A notice's link to the record it concerns: the retraction watch refetches that record.
NOTICE_LINKS = INTEGRITY_OF | CORRECTED_OF
UPDATE_LINKS = frozenset({"UpdateIn", "UpdateOf"})
COMMENT_LINKS = frozenset({"CommentIn", "CommentOn"})
# What the parser keeps. "Cites" (a reference list that grows with every citing paper) and
# "ReprintOf"-style bibliographic links are left out, so they never make a record look changed.
KEPT_LINKS = INTEGRITY_LINKS | CORRECTED_LINKS | UPDATE_LINKS | COMMENT_LINKS
# What makes a stored record "changed" (comments do not).
WATCHED_LINKS = INTEGRITY_LINKS | CORRECTED_LINKS | UPDATE_LINKS | frozenset({"ReprintIn"})

INTEGRITY_TYPES = frozenset({
    "Retracted Publication", "Retraction of Publication", "Expression of Concern",
    "Partial Retraction", "Withdrawn Publication",
})  # fmt: skip
CORRECTED_TYPES = frozenset({"Published Erratum", "Corrected and Republished Article"})
# Publication types of a notice about another record (the notice is not a study itself).
NOTICE_TYPES = frozenset({
    "Published Erratum", "Retraction of Publication", "Expression of Concern", "Partial Retraction",
})  # fmt: skip

# The retraction watch's esearch filter: publication types always parse in PubMed; the
# `has…` flags are checked at run time and dropped, with one log line, if PubMed rejects one.
WATCH_TYPES = ("retracted publication", "retraction of publication", "published erratum",
               "expression of concern")
WATCH_FLAGS = ("hasretractionin", "haspartialretractionin", "hasexpressionofconcernin",
               "haserratumin")


def watch_filter(flags: Iterable[str] = WATCH_FLAGS) -> str:
    """The retraction watch's filter term from the flags PubMed still accepts."""
    return " OR ".join([*(f'"{t}"[pt]' for t in WATCH_TYPES), *flags])


def tier_of_link(link: str) -> str:
    """'integrity', 'corrected' or '' for a CommentsCorrections type."""
    return "integrity" if link in INTEGRITY_LINKS else "corrected" if link in CORRECTED_LINKS else ""


def tier_of_type(publication_type: str) -> str:
    """'integrity', 'corrected' or '' for a PubMed publication type."""
    if publication_type in INTEGRITY_TYPES:
        return "integrity"
    return "corrected" if publication_type in CORRECTED_TYPES else ""
