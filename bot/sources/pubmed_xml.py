"""Pure parsers for PubMed E-utilities XML: efetch `PubmedArticleSet` -> Items, esearch -> IDs.

Why the standard library and not `Bio.Entrez.read`: `Entrez.read` validates against the DTD
named in the DOCTYPE and, when Biopython does not bundle that DTD (each yearly PubMed DTD is
new), downloads it — so it fails offline even with `validate=False`, and a parser must never
touch the network. `xml.etree.ElementTree.iterparse` (expat, in C) never fetches external
DTDs and needs no entity definitions (NCBI writes every non-ASCII character as a numeric
reference). The whole batch (<= 200 records, a few MB) is built as a tree in C with
`ET.fromstring`, which measured twice as fast as `iterparse` (whose per-element events run
in Python), after a byte-level pass drops the reference lists no field uses (70% of the
bytes): several thousand records a second on one core (see `bench/pubmed.py`). Expat's own
limits guard against entity-expansion bombs.

Anything that is not a complete `PubmedArticleSet` — a truncated body, an HTML error page,
an `<eFetchResult><ERROR>` — raises `SourceError`: a broken response is an error for its
query, never an empty result. One bad record is one bad record, though: when a whole set
does not parse but its envelope is intact (it opens and closes `PubmedArticleSet`), the
body is cut into its records at their tags and each is parsed on its own, so invalid bytes
inside one `<PubmedArticle>` skip that record alone, named by its PMID (`EfetchBatch.skipped`).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from bot import corrections
from bot.errors import SourceError
from bot.models import Correction, Item, MeshHeading

PUBMED_URL = "https://pubmed.ncbi.nlm.nih.gov/{pmid}/"  # a record's page, by PMID

MATHML = "{http://www.w3.org/1998/Math/MathML}"
# Sub- and superscripts belong to the word they follow ("CO2", "Ca2+"): no space before them.
SCRIPT_TAGS = frozenset({"sub", "sup"})
MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
MONTHS = {name: f"{number:02d}" for number, name in enumerate(MONTH_NAMES, 1)}
# CommentsCorrections kept on an item (bot/corrections.py defines which and why).
CORRECTION_TYPES = corrections.KEPT_LINKS
# DataBankList names that are clinical-trial registries (NLM's list); GenBank, PDB etc. are not.
TRIAL_REGISTRIES = frozenset(name.lower() for name in (
    "ClinicalTrials.gov", "ISRCTN", "ANZCTR", "ChiCTR", "CRiS", "CTRI", "DRKS", "EudraCT",
    "IRCT", "JapicCTI", "JMACCT", "JPRN", "NTR", "PACTR", "ReBec", "REPEC", "RPCEC", "SLCTR",
    "TCTR", "UMIN CTR", "EU Clinical Trials Register", "CTIS",
))  # fmt: skip
TRIAL_ID_IN_TEXT = re.compile(r"\b(NCT\d{8}|ISRCTN\d{8})\b", re.IGNORECASE)
MEDLINE_DATE = re.compile(r"(\d{4})(?:\s+([A-Za-z]{3}))?")


# ---------------------------------------------------------------- efetch


@dataclass(frozen=True)
class SkippedRecord:
    """A record of an efetch answer that could not be read: its PMID ("" if unreadable too) and why."""

    pmid: str
    reason: str

    def describe(self) -> str:
        who = f"record PMID {self.pmid}" if self.pmid else "a record without a readable PMID"
        return f"PubMed {who} could not be read and was skipped ({self.reason})"


@dataclass(frozen=True)
class EfetchBatch:
    """What one efetch answer held: the records read, in document order, and those skipped."""

    items: list[Item]
    skipped: list[SkippedRecord] = field(default_factory=list)


def parse_efetch(data: bytes) -> list[Item]:
    """Items of an efetch `PubmedArticleSet` (articles and book articles), in document order."""
    return parse_efetch_batch(data).items


def parse_efetch_batch(data: bytes) -> EfetchBatch:
    """Every readable record of an efetch answer, and each unreadable one named.

    A body that is not a whole `PubmedArticleSet` (cut, empty, HTML, ERROR) still raises.
    """
    data = _without_references(data)
    try:
        root = _document(data, "efetch", "PubmedArticleSet")
    except SourceError as whole:
        return _record_by_record(data, whole)
    items: list[Item] = []
    skipped: list[SkippedRecord] = []
    for elem in root:
        _read_record(elem, items, skipped)
    return EfetchBatch(items, skipped)


REFERENCES_END = b"</ReferenceList>"
RECORD_STARTS = (b"<PubmedArticle>", b"<PubmedArticle ", b"<PubmedBookArticle")
# A record's opening or closing tag (`\b` keeps `<PubmedArticleSet>` out).
RECORD_TAG = re.compile(rb"<(/?)(PubmedArticle|PubmedBookArticle)\b[^>]*>")
FIRST_PMID = re.compile(rb"<PMID\b[^>]*>\s*(\d+)\s*</PMID>")
SET_END = b"</PubmedArticleSet>"


def _items(root: ET.Element) -> Iterator[Item]:
    for elem in root:
        if elem.tag == "PubmedArticle":
            yield _article(elem)
        elif elem.tag == "PubmedBookArticle":
            yield _book_article(elem)


def _read_record(elem: ET.Element, items: list[Item], skipped: list[SkippedRecord]) -> None:
    """Append `elem` as an Item, or as a skipped record when it lacks what an Item needs."""
    try:
        items.extend(_items(_wrapped(elem)))
    except SourceError as exc:
        pmid = (elem.findtext("MedlineCitation/PMID") or elem.findtext("BookDocument/PMID") or "").strip()
        skipped.append(SkippedRecord(pmid if pmid.isdigit() else "", str(exc).removeprefix("efetch: ")))


def _wrapped(elem: ET.Element) -> ET.Element:
    root = ET.Element("PubmedArticleSet")
    root.append(elem)
    return root


def _record_by_record(data: bytes, whole: SourceError) -> EfetchBatch:
    """Parse each record of a set that failed as a whole; re-raise `whole` unless only
    records are broken (the envelope must open and close the set, so a cut body still fails)."""
    if not data.rstrip().endswith(SET_END):
        raise whole
    spans: list[tuple[int, int]] = []  # each record from its opening tag to its closing tag
    start: int | None = None
    for tag in RECORD_TAG.finditer(data):
        if not tag.group(1):  # an opening tag; one left open before it ends at this one
            if start is not None:
                spans.append((start, tag.start()))
            start = tag.start()
        elif start is not None:
            spans.append((start, tag.end()))
            start = None
    if start is not None:
        spans.append((start, data.rindex(SET_END)))
    if not spans:
        raise whole
    envelope = data[: spans[0][0]] + data[spans[-1][1] :]
    try:
        if ET.fromstring(envelope).tag != "PubmedArticleSet":
            raise whole
    except ET.ParseError:
        raise whole from None
    items: list[Item] = []
    skipped: list[SkippedRecord] = []
    next_starts = [begin for begin, _ in spans[1:]] + [spans[-1][1]]
    for (begin, end), next_start in zip(spans, next_starts, strict=True):
        try:
            elem = ET.fromstring(data[begin:end])
        except ET.ParseError as exc:
            skipped.append(SkippedRecord(_first_pmid(data, begin, end), f"malformed XML: {exc}"))
        else:
            _read_record(elem, items, skipped)
        if data[end:next_start].strip():  # bytes between two records: a record whose tag broke
            skipped.append(SkippedRecord(_first_pmid(data, end, next_start), "malformed XML between records"))
    return EfetchBatch(items, skipped)


def _first_pmid(data: bytes, start: int, end: int) -> str:
    """The first PMID in `data[start:end]`: a record's own (MedlineCitation comes first)."""
    found = FIRST_PMID.search(data, start, end)
    return found.group(1).decode() if found else ""


def _without_references(data: bytes) -> bytes:
    """`data` minus each record's trailing `<ReferenceList>`s, which no Item field uses.

    Reference lists are about 70% of a typical efetch body; building them as elements only to
    drop them halves throughput. Each cut runs from a record's first `<ReferenceList` to the
    last `</ReferenceList>` before that record's `</PubmedData>` (where the DTD puts them),
    never across a record boundary; any other layout, or a body that ends inside a reference
    list, is left whole for the parser to read or reject.
    """
    out = []
    pos = 0
    while (start := data.find(b"<ReferenceList", pos)) >= 0:
        data_end = data.find(b"</PubmedData>", start)
        end = data.rfind(REFERENCES_END, start, data_end) if data_end >= 0 else -1
        if end < 0 or any(data.find(tag, start, end) >= 0 for tag in RECORD_STARTS):
            break
        out.append(data[pos:start])
        pos = end + len(REFERENCES_END)
    out.append(data[pos:])
    return b"".join(out)


def _article(elem: ET.Element) -> Item:
    citation = _child(elem, "MedlineCitation")
    article = _child(citation, "Article")
    pmid = _pmid(citation)
    title = _flatten(article.find("ArticleTitle")) or _flatten(article.find("VernacularTitle"))
    abstract = _abstract(article.find("Abstract"))
    if not abstract:
        abstract = _abstract(_english_other_abstract(citation))
    journal = article.find("Journal")
    ids = elem.find("PubmedData/ArticleIdList")
    doi = _article_id(ids, "doi") or _elocation_doi(article)
    return Item(
        source="pubmed",
        id=pmid,
        title=title,
        url=PUBMED_URL.format(pmid=pmid),
        abstract=abstract,
        authors=_authors(article.find("AuthorList")),
        journal=_journal(journal, citation),
        published=_pub_date(journal.find("JournalIssue/PubDate") if journal is not None else None)
        or _pub_date(article.find("ArticleDate")),
        volume=_stripped(journal, "JournalIssue/Volume"),
        issue=_stripped(journal, "JournalIssue/Issue"),
        pages=_pages(article.find("Pagination")),
        issn=_stripped(journal, "ISSN") or _stripped(citation, "MedlineJournalInfo/ISSNLinking"),
        doi=doi,
        pmcid=_article_id(ids, "pmc"),
        languages=_texts(article.iterfind("Language")),
        publication_types=_texts(article.iterfind("PublicationTypeList/PublicationType")),
        mesh=_mesh(citation.iterfind("MeshHeadingList/MeshHeading")),
        keywords=_unique(_flatten(k) for k in citation.iterfind("KeywordList/Keyword")),
        trial_ids=_trial_ids(article.iterfind("DataBankList/DataBank"), abstract),
        corrections=_corrections(citation.iterfind("CommentsCorrectionsList/CommentsCorrections")),
    )


def _book_article(elem: ET.Element) -> Item:
    document = _child(elem, "BookDocument")
    pmid = _pmid(document)
    book = document.find("Book")
    title = _flatten(document.find("ArticleTitle")) or _flatten(document.find("VernacularTitle"))
    book_title = _flatten(book.find("BookTitle")) if book is not None else ""
    abstract = _abstract(document.find("Abstract"))
    authors = _authors(document.find("AuthorList")) or (
        _authors(book.find("AuthorList")) if book is not None else ()
    )
    return Item(
        source="pubmed",
        id=pmid,
        title=title or book_title,
        url=PUBMED_URL.format(pmid=pmid),
        abstract=abstract,
        authors=authors,
        journal=book_title if title else "",
        published=_pub_date(book.find("PubDate") if book is not None else None),
        doi=_article_id(document.find("ArticleIdList"), "doi"),
        languages=_texts(document.iterfind("Language")),
        publication_types=_texts(document.iterfind("PublicationType")),
        keywords=_unique(_flatten(k) for k in document.iterfind("KeywordList/Keyword")),
        trial_ids=_trial_ids((), abstract),
        corrections=_corrections(document.iterfind("CommentsCorrectionsList/CommentsCorrections")),
    )


def _child(elem: ET.Element, tag: str) -> ET.Element:
    found = elem.find(tag)
    if found is None:
        raise SourceError(f"efetch: <{elem.tag}> without <{tag}>")
    return found


def _pmid(elem: ET.Element) -> str:
    pmid = (elem.findtext("PMID") or "").strip()
    if not pmid.isdigit():
        raise SourceError(f"efetch: <{elem.tag}> without a valid PMID ({pmid!r})")
    return pmid


def _flatten(elem: ET.Element | None) -> str:
    """Text as PubMed shows it: inline markup dropped, words never glued, spaces collapsed."""
    if elem is None:
        return ""
    if len(elem) == 0:  # the common case: no markup at all
        return " ".join((elem.text or "").split())
    return " ".join(_inline(elem).split())


def _inline(elem: ET.Element) -> str:
    out = [elem.text or ""]
    last = out[0][-1:]
    for child in elem:
        inner = _inline(child)
        tail = child.tail or ""
        script = child.tag in SCRIPT_TAGS or (
            child.tag.startswith(MATHML) and child.tag != MATHML + "math"
        )
        if script:
            # "SnO<sub>2</sub>thin" -> "SnO2 thin", but "H<sub>2</sub>O" stays "H2O".
            if inner and tail[:1].islower():
                tail = " " + tail
        else:
            # Italic/bold words set without spaces ("the<i>TERT</i>gene") get them back.
            if last.isalnum() and inner[:1].isalnum():
                out.append(" ")
            if inner[-1:].isalnum() and tail[:1].isalnum():
                tail = " " + tail
        out.append(inner)
        out.append(tail)
        last = (tail or inner or last)[-1:]
    return "".join(out)


def _abstract(abstract: ET.Element | None) -> str:
    """Sections as "LABEL: text", one per line; an unlabelled abstract is its text."""
    if abstract is None:
        return ""
    sections = []
    for part in abstract.iterfind("AbstractText"):
        text = _flatten(part)
        label = (part.get("Label") or "").strip()
        if label and label.upper() != "UNLABELLED":
            sections.append(f"{label}: {text}" if text else label)
        elif text:
            sections.append(text)
    return "\n".join(sections)


def _english_other_abstract(citation: ET.Element) -> ET.Element | None:
    for other in citation.iterfind("OtherAbstract"):
        if (other.get("Language") or "eng") == "eng":
            return other
    return None


def _authors(author_list: ET.Element | None) -> tuple[str, ...]:
    """ "Last Initials" per author (as PubMed cites them); a group by its collective name."""
    if author_list is None:
        return ()
    names = []
    for author in author_list.iterfind("Author"):
        if author.get("ValidYN") == "N":
            continue
        last = _flatten(author.find("LastName"))
        if last:
            initials = (author.findtext("Initials") or "").strip()
            names.append(f"{last} {initials}" if initials else last)
        else:
            collective = _flatten(author.find("CollectiveName"))
            if collective:
                names.append(collective)
    return tuple(names)


def _journal(journal: ET.Element | None, citation: ET.Element) -> str:
    """The abbreviation PubMed displays ("N Engl J Med"), else the full title."""
    candidates = (
        journal.findtext("ISOAbbreviation") if journal is not None else None,
        citation.findtext("MedlineJournalInfo/MedlineTA"),
        journal.findtext("Title") if journal is not None else None,
    )
    return next((" ".join(c.split()) for c in candidates if c and c.strip()), "")


def _stripped(elem: ET.Element | None, path: str) -> str:
    return " ".join((elem.findtext(path) or "").split()) if elem is not None else ""


def _pages(pagination: ET.Element | None) -> str:
    """MedlinePgn ("409-15"), else StartPage-EndPage (newer records carry both or either)."""
    medline = _stripped(pagination, "MedlinePgn")
    if medline or pagination is None:
        return medline
    start, end = _stripped(pagination, "StartPage"), _stripped(pagination, "EndPage")
    return f"{start}-{end}" if start and end and end != start else start or end


def _pub_date(date: ET.Element | None) -> str:
    """ "YYYY", "YYYY-MM" or "YYYY-MM-DD", as precise as the record; MedlineDate's first part."""
    if date is None:
        return ""
    year = (date.findtext("Year") or "").strip()
    if not year:
        match = MEDLINE_DATE.search(date.findtext("MedlineDate") or "")
        if not match:
            return ""
        year, month = match.group(1), MONTHS.get((match.group(2) or "").lower(), "")
        return f"{year}-{month}" if month else year
    month = _month(date.findtext("Month") or "")
    if not month:
        return year  # absent, or a season ("Spring")
    day = (date.findtext("Day") or "").strip()
    return f"{year}-{month}-{int(day):02d}" if day.isdigit() else f"{year}-{month}"


def _month(value: str) -> str:
    value = value.strip()
    if value.isdigit() and 1 <= int(value) <= 12:
        return f"{int(value):02d}"
    return MONTHS.get(value[:3].lower(), "")


def _article_id(ids: ET.Element | None, kind: str) -> str:
    if ids is None:
        return ""
    for article_id in ids.iterfind("ArticleId"):
        if article_id.get("IdType") == kind and article_id.text and article_id.text.strip():
            return article_id.text.strip()
    return ""


def _elocation_doi(article: ET.Element) -> str:
    for location in article.iterfind("ELocationID"):
        if location.get("EIdType") == "doi" and location.get("ValidYN") != "N" and location.text:
            return location.text.strip()
    return ""


def _texts(elems: Iterable[ET.Element]) -> tuple[str, ...]:
    return _unique(" ".join((e.text or "").split()) for e in elems)


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def _mesh(headings: Iterable[ET.Element]) -> tuple[MeshHeading, ...]:
    """Descriptors with qualifiers; major if PubMed stars the descriptor or any qualifier."""
    result = []
    for heading in headings:
        descriptor = heading.find("DescriptorName")
        if descriptor is None or not descriptor.text:
            continue
        qualifiers = heading.findall("QualifierName")
        major = descriptor.get("MajorTopicYN") == "Y" or any(
            q.get("MajorTopicYN") == "Y" for q in qualifiers
        )
        result.append(MeshHeading(
            descriptor=" ".join(descriptor.text.split()),
            qualifiers=_texts(qualifiers),
            major=major,
        ))  # fmt: skip
    return tuple(result)


def _trial_ids(databanks: Iterable[ET.Element], abstract: str) -> tuple[str, ...]:
    """Registry numbers from the DataBankList and any NCT/ISRCTN number the abstract names."""
    found: list[str] = []
    for bank in databanks:
        if (bank.findtext("DataBankName") or "").strip().lower() in TRIAL_REGISTRIES:
            numbers = bank.iterfind("AccessionNumberList/AccessionNumber")
            found.extend(n.text.strip() for n in numbers if n.text)
    lowered = abstract.lower()  # a substring test is far cheaper than the regex on every abstract
    if "nct" in lowered or "isrctn" in lowered:
        found.extend(m.upper() for m in TRIAL_ID_IN_TEXT.findall(abstract))
    return _unique(found)


def _corrections(links: Iterable[ET.Element]) -> tuple[Correction, ...]:
    result = []
    for link in links:
        kind = link.get("RefType") or ""
        if kind not in CORRECTION_TYPES:
            continue
        pmid = (link.findtext("PMID") or "").strip() or None
        result.append(Correction(type=kind, pmid=pmid, ref=_flatten(link.find("RefSource"))))
    return tuple(dict.fromkeys(result))


def _document(data: bytes, tool: str, root_tag: str) -> ET.Element:
    """The parsed root, or `SourceError` (retryable: bodies get cut in transit) if it is not one."""
    if not data.strip():
        raise SourceError(f"{tool}: empty response body", retryable=True)
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise SourceError(f"{tool}: malformed or truncated XML ({exc})", retryable=True) from exc
    if root.tag != root_tag:
        raise SourceError(f"{tool}: expected <{root_tag}>, got {_describe(data)}")
    return root


def _describe(data: bytes) -> str:
    """A short, single-line excerpt of an unexpected body for the error message."""
    text = data[:300].decode("utf-8", "replace")
    error = re.search(r"<ERROR>(.*?)</ERROR>", text, re.S)
    if error:
        return f"ERROR {' '.join(error.group(1).split())!r}"
    return repr(" ".join(text.split())[:120])


# ---------------------------------------------------------------- esearch


@dataclass
class SearchResult:
    """One esearch answer: the hit count, IDs, history handle and what NCBI said about the term."""

    count: int
    ids: list[str] = field(default_factory=list)
    query_key: str = ""
    webenv: str = ""
    translation: str = ""
    errors: list[str] = field(default_factory=list)  # ErrorList: parts of the term that failed
    warnings: list[str] = field(default_factory=list)  # WarningList: parts ignored or rewritten


def parse_esearch(data: bytes) -> SearchResult:
    """An `eSearchResult`; a top-level `<ERROR>` or a broken document raises `SourceError`."""
    root = _document(data, "esearch", "eSearchResult")
    error = root.findtext("ERROR")
    count = root.findtext("Count")
    if (error is not None and error.strip()) or count is None:
        message = " ".join((error or "no <Count> in the answer").split())
        raise SourceError(f"esearch: {message}", retryable=_is_backend_trouble(message))
    return SearchResult(
        count=int(count),
        ids=[i.text.strip() for i in root.iterfind("IdList/Id") if i.text],
        query_key=(root.findtext("QueryKey") or "").strip(),
        webenv=(root.findtext("WebEnv") or "").strip(),
        translation=" ".join((root.findtext("QueryTranslation") or "").split()),
        errors=_messages(root.find("ErrorList")),
        warnings=[
            w for w in _messages(root.find("WarningList")) if w != "OutputMessage: No items found."
        ],
    )


def _messages(elem: ET.Element | None) -> list[str]:
    if elem is None:
        return []
    return [f"{child.tag}: {_flatten(child)}" for child in elem if _flatten(child)]


def _is_backend_trouble(message: str) -> bool:
    """NCBI reports overload as `<ERROR>Search Backend failed…`: worth a retry, unlike a bad db."""
    return bool(re.search(r"backend|temporar|unavailable|timed? ?out|try again", message, re.I))
