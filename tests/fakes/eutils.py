"""A fake NCBI E-utilities (esearch + efetch for PubMed) serving the records a test gives it.

Records are `<PubmedArticle>` elements cut from efetch responses: the project's own in
tests/fixtures/pubmed, or the real recorded ones in ../shared/fixtures/pubmed (`recorded_articles`
reads either folder; tests/corpus.py picks); for volume a record may be served under a new PMID
(`renumbered`). esearch answers are synthesised in the shape of the recorded ones (they
only list IDs). The fake understands exactly the query shapes the client sends: the saved
term (every record marked `matches` satisfies it), `"a"[crdt] : "b"[crdt]` and
`"a"[mhda] : "b"[mhda]` ranges (OR-ed), the integrity filter (`[pt]`/`has…in` flags:
records whose type or links say retracted/erratum/concern), and `datetype/mindate/maxdate`.
It counts every request, flags rate-limit violations (more than `rate` requests inside
any 1 s sliding window), optionally answers violations with NCBI's real 429, and can be
told to fail the next requests (429 with Retry-After, 500, truncated bodies, delays).
"""

from __future__ import annotations

import re
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from xml.sax.saxutils import escape

from tests.fakes.http import FakeServer, Request, Response

EFETCH_HEAD = (
    b'<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, '
    b'1st January 2025//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n'
    b"<PubmedArticleSet>\n"
)
EFETCH_TAIL = b"</PubmedArticleSet>\n"
ESEARCH_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE eSearchResult PUBLIC "-//NLM//DTD '
    'esearch 20060628//EN" "https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20060628/esearch.dtd">\n'
)
MAX_IDS = 9999
RANGE = re.compile(r'"(\d{4}/\d{2}/\d{2})"\[(\w+)\]\s*:\s*"(\d{4}/\d{2}/\d{2})"\[\w+\]')
# What the client's integrity filter selects: the publication types and has…in link flags.
INTEGRITY = re.compile(
    rb">(Retracted Publication|Retraction of Publication|Published Erratum|Expression of Concern)"
    rb"</PublicationType>"
    rb'|RefType="(RetractionIn|PartialRetractionIn|ErratumIn)"'
)
# NCBI documents this short form; tests pass the recorded body (with "limit") instead.
RATE_LIMIT_BODY = b'{"error":"API rate limit exceeded","count":"11"}'
ARTICLE = re.compile(rb"<PubmedArticle>.*?</PubmedArticle>", re.S)


@dataclass
class FakeRecord:
    """One PubMed record as the fake holds it: its XML and the dates searches filter on."""

    pmid: str
    xml: bytes
    crdt: date
    mhda: date | None = None  # MeSH date; the create date until indexed
    mdat: date | None = None  # last modification; the create date until changed
    matches: bool = True  # does the saved term match it?
    integrity: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.mhda = self.mhda or self.crdt
        self.mdat = self.mdat or self.crdt
        # A regex, not the parser: volume tests build ten thousand records.
        self.integrity = bool(INTEGRITY.search(self.xml))


def recorded_articles(fixtures: Path) -> list[bytes]:
    """Every real `<PubmedArticle>` element in the recorded efetch responses."""
    articles = []
    for path in sorted((fixtures / "pubmed").rglob("*.xml")):
        articles.extend(ARTICLE.findall(path.read_bytes()))
    return articles


def article_pmid(xml: bytes) -> str:
    match = re.search(rb"<PMID[^>]*>(\d+)</PMID>", xml)
    assert match, "a PubmedArticle without PMID"
    return match.group(1).decode()


def renumbered(xml: bytes, pmid: str) -> bytes:
    """The same real record under another PMID (citation PMID and its pubmed ArticleId)."""
    old = article_pmid(xml)
    citation_pmid = rb"(<PMID[^>]*>)" + old.encode() + rb"(</PMID>)"
    xml = re.sub(citation_pmid, rb"\g<1>" + pmid.encode() + rb"\2", xml, count=1)
    return xml.replace(
        b'<ArticleId IdType="pubmed">' + old.encode() + b"</ArticleId>",
        b'<ArticleId IdType="pubmed">' + pmid.encode() + b"</ArticleId>",
        1,
    )


class FakeEutils(FakeServer):
    """esearch.fcgi + efetch.fcgi on 127.0.0.1; `url` is the base to give the client."""

    def __init__(self, *, rate: int = 3, enforce_rate: bool = False,
                 rate_limit_body: bytes = RATE_LIMIT_BODY):  # fmt: skip
        super().__init__(self._handle)
        self.rate = rate
        self.enforce_rate = enforce_rate
        self.rate_limit_body = rate_limit_body
        self.records: dict[str, FakeRecord] = {}
        self.not_found: set[str] = set()  # phrases answered with <PhraseNotFound>
        self.withheld: set[str] = set()  # PMIDs esearch lists but efetch leaves out
        # Next answers, each for one E-utility (None: any): a Response, or "truncate".
        self.faults: deque[tuple[str | None, Response | str]] = deque()
        self.histories: dict[str, list[str]] = {}
        self.violations = 0
        self._state = threading.Lock()

    # ------------------------------------------------------------ set-up

    @property
    def url(self) -> str:
        return super().url + "/entrez/eutils"

    def add(self, records: Iterable[FakeRecord]) -> None:
        for record in records:
            self.records[record.pmid] = record

    def fail(
        self,
        status: int,
        times: int = 1,
        *,
        retry_after: str | None = None,
        body: bytes | str = b"",
        delay: float = 0.0,
        tool: str | None = None,
    ) -> None:
        """Answer the next `times` requests (to `tool`, if given) with `status`."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        for _ in range(times):
            self.faults.append((tool, Response(status, body, headers, delay)))

    def truncate(self, times: int = 1, *, tool: str | None = None) -> None:
        """Cut the next `times` answers in half (a connection dropped mid-body)."""
        self.faults.extend([(tool, "truncate")] * times)

    def tools(self) -> list[str]:
        """The E-utility each request went to, in order ("esearch", "efetch")."""
        return [r.path.rsplit("/", 1)[-1].removesuffix(".fcgi") for r in self.requests]

    # ------------------------------------------------------------ serving

    def _handle(self, request: Request) -> Response:
        tool = request.path.rsplit("/", 1)[-1].removesuffix(".fcgi")
        with self._state:
            recent = [r for r in self.requests if 0 <= request.at - r.at < 1.0]
            violation = len(recent) > self.rate
            if violation:
                self.violations += 1
            fault = self._next_fault(tool)
        if violation and self.enforce_rate:
            headers = {"Retry-After": "1", "Content-Type": "application/json"}
            return Response(429, self.rate_limit_body, headers)
        if isinstance(fault, Response):
            return fault
        if tool == "esearch":
            body = self._esearch(request)
        elif tool == "efetch":
            body = self._efetch(request)
        else:
            return Response(404, b"unknown E-utility")
        if fault == "truncate":
            body = body[: len(body) // 2]
        return Response(200, body, {"Content-Type": "text/xml; charset=UTF-8"})

    def _next_fault(self, tool: str) -> Response | str | None:
        for index, (target, fault) in enumerate(self.faults):
            if target in (None, tool):
                del self.faults[index]
                return fault
        return None

    def _matching(self, term: str, request: Request) -> list[str]:
        ranges = [(name, _day(a), _day(b)) for a, name, b in RANGE.findall(term)]
        integrity = "[pt]" in term or "hasretractionin" in term
        datetype = request.param("datetype")
        lo, hi = request.param("mindate"), request.param("maxdate")
        hits = []
        for record in self.records.values():
            if not record.matches or (integrity and not record.integrity):
                continue
            if ranges and not any(lo_ <= getattr(record, f) <= hi_ for f, lo_, hi_ in ranges):
                continue
            if datetype and lo and hi:
                when = getattr(record, datetype)
                if not _day(lo) <= when <= _day(hi):
                    continue
            hits.append(record.pmid)
        return sorted(hits, key=int, reverse=True)  # newest (highest PMID) first, like PubMed

    def _esearch(self, request: Request) -> bytes:
        term = request.param("term", "") or ""
        retstart = int(request.param("retstart", "0") or 0)
        retmax = int(request.param("retmax", "20") or 20)
        if retstart > MAX_IDS - 1:
            error = "Search Backend failed: Exception:\n'retstart' cannot be larger than 9998."
            return f"{ESEARCH_HEAD}<eSearchResult><ERROR>{error}</ERROR></eSearchResult>".encode()
        hits = self._matching(term, request)
        listed = hits[:MAX_IDS]
        page = listed[retstart : retstart + retmax]
        history = ""
        if request.param("usehistory") == "y":
            with self._state:
                webenv = f"MCID_fake{len(self.histories) + 1:08d}"
                self.histories[webenv] = listed
            history = f"<QueryKey>1</QueryKey><WebEnv>{webenv}</WebEnv>"
        errors = "".join(f"<PhraseNotFound>{escape(p)}</PhraseNotFound>"
                         for p in sorted(self.not_found) if p in term)  # fmt: skip
        ids = "".join(f"<Id>{pmid}</Id>\n" for pmid in page)
        return (
            f"{ESEARCH_HEAD}<eSearchResult><Count>{len(hits)}</Count><RetMax>{len(page)}</RetMax>"
            f"<RetStart>{retstart}</RetStart>{history}<IdList>\n{ids}</IdList><TranslationSet/>"
            f"<QueryTranslation>{escape(term)}</QueryTranslation>"
            + (f"<ErrorList>{errors}</ErrorList>" if errors else "")
            + (
                "<WarningList><OutputMessage>No items found.</OutputMessage></WarningList>"
                if not hits
                else ""
            )
            + "</eSearchResult>\n"
        ).encode()

    def _efetch(self, request: Request) -> bytes:
        ids = request.param("id")
        if ids:
            pmids = [p.strip() for p in ids.split(",") if p.strip()]
        else:
            webenv = request.param("WebEnv") or ""
            if webenv not in self.histories:
                return b"<eFetchResult><ERROR>Unable to obtain query #1</ERROR></eFetchResult>"
            retstart = int(request.param("retstart", "0") or 0)
            retmax = int(request.param("retmax", "20") or 20)
            pmids = self.histories[webenv][retstart : retstart + retmax]
        found = [self.records[p].xml for p in pmids if p in self.records and p not in self.withheld]
        return EFETCH_HEAD + b"\n".join(found) + b"\n" + EFETCH_TAIL


def _day(value: str) -> date:
    return date.fromisoformat(value.replace("/", "-"))
