"""The PubMed XML parsers on the project's own invented efetch/esearch answers (tests/fixtures/pubmed,
tests/fixtures/eutils): the shapes test_pubmed_parser.py checks on recorded ones, on records every clone has."""

from __future__ import annotations

import pytest

from bot.errors import SourceError
from bot.models import Correction, Item
from bot.sources import pubmed_xml
from bot.sources.pubmed_xml import parse_efetch, parse_esearch
from tests.corpus import OWN

PUBMED = OWN / "pubmed"


def raw(name: str) -> bytes:
    return (PUBMED / name).read_bytes()


def one(name: str) -> Item:
    (item,) = parse_efetch(raw(name))
    return item


def every_own() -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in sorted(PUBMED.glob("*.xml"))]


# ---------------------------------------------------------------- titles and abstracts


def test_inline_markup_never_glues_words_and_keeps_subscripts_on_theirs():
    """ "raise<i>WNT10B</i>expression" reads "raise WNT10B expression"; "CO<sub>2</sub>-laser" stays "CO2-laser"."""
    item = one("inline_markup.xml")
    assert item.title == ("Dermal papilla exosomes raise WNT10B expression and CO2-laser wound closure "
                          "in ex vivo human follicles.")


def test_mathml_and_entities_in_an_abstract_are_flattened():
    """MathML reads as its characters, a typographic quote survives, no markup is left; UNLABELLED is no label."""
    item = one("inline_markup.xml")
    assert item.abstract.startswith("Follicles coated with TiO2 nanoparticles were cultured with 109 vesicles/mL")
    assert "k=v1 was measured" in item.abstract and "\u201cresponder\u201d" in item.abstract
    assert "<" not in item.abstract and "mml" not in item.abstract
    assert not item.abstract.startswith("UNLABELLED")


def test_structured_abstract_keeps_labels_one_section_per_line():
    """Labelled AbstractText sections become "LABEL: text" lines in order."""
    lines = one("rct_nct.xml").abstract.split("\n")
    assert [line.split(":")[0] for line in lines] == ["BACKGROUND", "METHODS", "RESULTS", "CONCLUSIONS"]
    assert lines[0] == "BACKGROUND: Exosome serums are marketed for hair loss, but controlled evidence is scarce."


def test_an_abstract_in_english_is_taken_from_other_abstract_when_the_record_has_none():
    """A German record without <Abstract> uses its English OtherAbstract, bold labels read as words."""
    item = one("german_vernacular.xml")
    assert item.abstract == ("Background: Exosomes are increasingly offered for hair loss. "
                             "Objective: This overview asks which data exist.")
    assert item.title == "[Exosomes in the treatment of hair loss: what is known?]"
    assert item.languages == ("ger",)


def test_vernacular_title_is_used_when_article_title_is_empty():
    """An empty ArticleTitle falls back to the VernacularTitle."""
    data = raw("german_vernacular.xml")
    start = data.index(b"<ArticleTitle>") + len(b"<ArticleTitle>")
    item = parse_efetch(data[:start] + data[data.index(b"</ArticleTitle>"):])[0]
    assert item.title == "Exosomen in der Behandlung des Haarausfalls: Was ist bekannt?"


def test_record_without_abstract_has_empty_abstract():
    """A letter without an abstract yields "" (not None, not an error)."""
    assert one("letter_no_abstract.xml").abstract == ""


# ---------------------------------------------------------------- bibliographic fields


def test_rct_record_fields():
    """The RCT yields authors (a group by its name), journal, full date, DOI, PMCID, types and MeSH."""
    item = one("rct_nct.xml")
    assert (item.source, item.id, item.uid) == ("pubmed", "90100002", "pmid:90100002")
    assert item.url == "https://pubmed.ncbi.nlm.nih.gov/90100002/"
    assert item.authors == ("Lindqvist M", "Haddad R", "Invented Hair Trials Group")
    assert item.journal == "Invent J Clin Trichol"
    assert item.published == "2024-03-14"
    assert (item.doi, item.pmcid) == ("10.99999/ijct.2024.0455", "PMC9910002")
    assert item.publication_types == ("Clinical Trial, Phase II", "Journal Article", "Randomized Controlled Trial")
    alopecia = next(m for m in item.mesh if m.descriptor == "Alopecia")
    assert alopecia.qualifiers == ("drug therapy",) and alopecia.major
    assert not next(m for m in item.mesh if m.descriptor == "Humans").major


def test_trial_id_in_the_databank_and_the_abstract_is_listed_once():
    """NCT09900002 appears in the DataBankList and the abstract: listed once."""
    assert one("rct_nct.xml").trial_ids == ("NCT09900002",)


def test_doi_from_elocation_when_the_id_list_has_none_and_never_from_references():
    """The case report's DOI is its own (ELocationID and ArticleIdList), not its reference's."""
    item = one("case_report.xml")
    assert item.doi == "10.99999/jidcr.2025.0101" and item.pmcid == ""
    data = raw("case_report.xml").replace(b'<ArticleId IdType="doi">10.99999/jidcr.2025.0101</ArticleId>', b"")
    assert parse_efetch(data)[0].doi == "10.99999/jidcr.2025.0101"


def test_dates_numeric_month_month_name_and_medline_date():
    """PubDate 2023/10/5 -> 2023-10-05; "2025 Feb" -> 2025-02; MedlineDate "2022 Nov-Dec" -> 2022-11."""
    assert one("inline_markup.xml").published == "2023-10-05"
    assert one("case_report.xml").published == "2025-02"
    assert one("letter_no_abstract.xml").published == "2022-11"


def test_author_without_initials_and_keywords():
    """Authors are "Last Initials"; author keywords come through in order."""
    item = one("case_report.xml")
    assert item.authors == ("Varga I", "Okafor C")
    assert item.keywords == ("exosomes", "scarring alopecia")


# ---------------------------------------------------------------- corrections


def test_retracted_publication_links_its_retraction_notice():
    """A Retracted Publication carries RetractionIn; the notice carries RetractionOf back."""
    item = one("retracted.xml")
    assert "Retracted Publication" in item.publication_types
    assert item.corrections == (Correction("RetractionIn", "90100004", "Invent Regen Med Rep. 2024 Jan 9;10:e2."),)
    notice = one("retraction_notice.xml")
    assert notice.publication_types == ("Retraction of Publication",) and notice.abstract == ""
    assert [(c.type, c.pmid) for c in notice.corrections] == [("RetractionOf", "90100003")]


def test_erratum_notice_and_the_article_it_corrects_point_at_each_other():
    """ErratumFor on the notice, ErratumIn on the article; the article's Cites link is left out."""
    notice = one("erratum_notice.xml")
    assert notice.publication_types == ("Published Erratum",)
    assert [(c.type, c.pmid) for c in notice.corrections] == [("ErratumFor", "90100006")]
    corrected = one("corrected.xml")
    assert [(c.type, c.pmid) for c in corrected.corrections] == [("ErratumIn", "90100005")]


@pytest.mark.parametrize(("name", "link"), [
    ("partial_retraction.xml", ("PartialRetractionIn", "90100017")),
    ("expression_of_concern.xml", ("ExpressionOfConcernFor", "90100018")),
    ("letter_no_abstract.xml", ("CommentOn", "90100019")),
])  # fmt: skip
def test_partial_retraction_concern_and_comment_links(name: str, link: tuple[str, str]):
    """A partial retraction, an expression of concern and a comment keep their link and its PMID."""
    assert [(c.type, c.pmid) for c in one(name).corrections] == [link]


def test_comment_and_update_links_and_several_languages():
    """A review keeps its CommentIn and UpdateIn links in order, and both its languages."""
    item = one("review.xml")
    assert [(c.type, c.pmid) for c in item.corrections] == [("CommentIn", "90100024"), ("UpdateIn", "90100025")]
    assert item.languages == ("eng", "jpn")


# ---------------------------------------------------------------- document shapes


def test_book_article_is_an_item_named_by_its_book():
    """A PubmedBookArticle without its own title is named by the book; editors, year and abstract are read."""
    item = one("book_article.xml")
    assert item.id == "90100010" and item.url == "https://pubmed.ncbi.nlm.nih.gov/90100010/"
    assert item.title == "Invented Handbook of Hair Disorders" and item.journal == ""
    assert item.authors == ("Osei K",) and item.published == "2021"
    assert item.abstract.startswith("This handbook chapter-collection describes")
    assert item.publication_types == ("Review",) and item.languages == ("eng",)


def test_book_chapter_with_a_title_names_its_book_as_journal():
    """A book chapter with its own ArticleTitle keeps it, and the book title stands as the journal."""
    data = raw("book_article.xml").replace(b"<Language>eng</Language>",
                                           b"<ArticleTitle>Emerging biological treatments</ArticleTitle><Language>eng</Language>")
    (item,) = parse_efetch(data)
    assert (item.title, item.journal) == ("Emerging biological treatments", "Invented Handbook of Hair Disorders")


def test_empty_article_set_is_an_empty_list():
    """An empty PubmedArticleSet (PMID not returned) parses to no items, not an error."""
    assert parse_efetch(raw("empty_set.xml")) == []


def test_multi_record_set_keeps_document_order():
    """Two records in one set come back in the order efetch sent them."""
    assert [i.id for i in parse_efetch(raw("animal_and_survey_set.xml"))] == ["90100015", "90100014"]


def test_every_own_record_parses_and_round_trips():
    """All own records parse to titled items that survive to_dict/from_dict."""
    items = [(name, item) for name, data in every_own() for item in parse_efetch(data)]
    assert len(items) == 20  # 19 articles and a book
    for name, item in items:
        assert item.id.isdigit() and item.title, name
        assert Item.from_dict(item.to_dict()) == item, name


def test_dropping_reference_lists_changes_no_item():
    """The byte-level reference-list cut yields exactly the items a full parse would."""
    for name, data in every_own():
        full = list(pubmed_xml._items(pubmed_xml._document(data, "efetch", "PubmedArticleSet")))
        assert parse_efetch(data) == full, name
    data = raw("inline_markup.xml")
    assert b"<ReferenceList" in data and b"<ReferenceList" not in pubmed_xml._without_references(data)


def test_truncated_body_is_a_source_error():
    """A body cut mid-record raises SourceError instead of returning fewer items."""
    data = raw("animal_and_survey_set.xml")
    with pytest.raises(SourceError, match="truncated"):
        parse_efetch(data[: len(data) // 2])


def test_truncated_inside_a_reference_list_is_an_error():
    """A body cut inside the references (which the parser skips) still raises SourceError."""
    data = raw("inline_markup.xml")
    start, end = data.index(b"<ReferenceList"), data.rindex(b"</ReferenceList>")
    with pytest.raises(SourceError, match="truncated"):
        parse_efetch(data[: (start + end) // 2])


def test_truncated_between_records_is_still_an_error():
    """A body cut right after a complete record (no closing set tag) is still an error."""
    data = raw("animal_and_survey_set.xml")
    cut = data.index(b"</PubmedArticle>") + len(b"</PubmedArticle>")
    with pytest.raises(SourceError):
        parse_efetch(data[:cut])


# ---------------------------------------------------------------- esearch


def esearch(name: str) -> bytes:
    return (OWN / "eutils" / name).read_bytes()


def test_esearch_with_history_handle():
    """usehistory=y answers carry Count, IDs, QueryKey, WebEnv and the translation, spaces collapsed."""
    result = parse_esearch(esearch("esearch_history.xml"))
    assert result.count == 1234 and result.ids == ["90100016", "90100015", "90100014", "90100013", "90100012"]
    assert result.query_key == "1" and result.webenv == "MCID_0000fake00000000000000001"
    assert result.translation.startswith('("exosomes"[MeSH Terms] OR')
    assert result.errors == [] and result.warnings == []


def test_esearch_phrase_not_found_is_reported_without_the_no_items_noise():
    """PhraseNotFound is an error line; "No items found." is not repeated as a warning."""
    result = parse_esearch(esearch("esearch_phrase_not_found.xml"))
    assert (result.count, result.ids) == (0, [])
    assert result.errors == ["PhraseNotFound: exosomx"] and result.warnings == []


def test_esearch_partial_failure_keeps_results_errors_and_warnings():
    """Results, an ErrorList and a WarningList together: all are kept."""
    result = parse_esearch(esearch("esearch_partial_error.xml"))
    assert result.count == 3 and len(result.ids) == 3
    assert result.errors == ["PhraseNotFound: hairlos[MeSH Terms]"]
    assert result.warnings == ['QuotedPhraseNotFound: "exosome hairlos"', "OutputMessage: Quoted phrase not found."]


def test_esearch_top_level_error_is_a_source_error():
    """A top-level ERROR (bad db) raises SourceError naming it, not retryable."""
    with pytest.raises(SourceError, match="Invalid db name specified: pubmd") as caught:
        parse_esearch(esearch("esearch_bad_db.xml"))
    assert not caught.value.retryable


def test_esearch_truncated_is_a_source_error():
    """A truncated esearch body raises SourceError, retryable."""
    with pytest.raises(SourceError, match="truncated") as caught:
        parse_esearch(esearch("esearch_history.xml")[:400])
    assert caught.value.retryable
