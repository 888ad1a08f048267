"""The demo's sample records: invented, written for litwatch, in each upstream's own format.

Every title, abstract, author and journal here is made up. Identifiers sit outside the real
ranges so no link lands on a real paper: PMIDs 99000xxx (PubMed is near 41 million), NCT
IDs NCT099xxxxx, DOIs under 10.5555 (the prefix Crossref keeps for examples). The records
come in two stages: what the sources hold on day 1 (the baseline), and day 2, when a
clinical study, a case report with a safety signal, a trial stopped for safety and the
retraction of a day-1 paper arrive.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

TERM = "exosome AND (alopecia OR hair loss)"
CONDITION = "alopecia"
INTERVENTION = "exosome"


@dataclass(frozen=True)
class Paper:
    """One invented PubMed record, rendered as a `<PubmedArticle>` like efetch returns."""

    pmid: str
    title: str
    abstract: str
    authors: tuple[tuple[str, str], ...]  # (last name, initials)
    journal: str
    iso: str
    issn: str
    volume: str
    issue: str
    pages: str
    published: date
    types: tuple[str, ...] = ("Journal Article",)
    mesh: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (descriptor, qualifiers)
    links: tuple[tuple[str, str], ...] = ()  # CommentsCorrections (RefType, PMID)

    @property
    def integrity(self) -> bool:
        """Whether PubMed's integrity filter (retracted, retraction of, erratum) selects it."""
        flagged = {"Retracted Publication", "Retraction of Publication", "Published Erratum"}
        return bool(flagged & set(self.types)) or any(kind == "RetractionIn" for kind, _ in self.links)

    def xml(self) -> str:
        d = self.published
        authors = "".join(
            f'<Author ValidYN="Y"><LastName>{escape(last)}</LastName><Initials>{escape(ini)}</Initials></Author>'
            for last, ini in self.authors
        )
        types = "".join(f'<PublicationType UI="">{escape(t)}</PublicationType>' for t in self.types)
        mesh = "".join(
            f'<MeshHeading><DescriptorName UI="" MajorTopicYN="N">{escape(name)}</DescriptorName>'
            + "".join(f'<QualifierName UI="" MajorTopicYN="Y">{escape(q)}</QualifierName>' for q in quals)
            + "</MeshHeading>"
            for name, quals in self.mesh
        )
        links = "".join(
            f'<CommentsCorrections RefType="{kind}"><RefSource>{escape(self.iso)}</RefSource>'
            f'<PMID Version="1">{pmid}</PMID></CommentsCorrections>'
            for kind, pmid in self.links
        )
        return (
            f'<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM">'
            f'<PMID Version="1">{self.pmid}</PMID>'
            f'<Article PubModel="Print-Electronic"><Journal>'
            f'<ISSN IssnType="Electronic">{self.issn}</ISSN>'
            f'<JournalIssue CitedMedium="Internet"><Volume>{self.volume}</Volume><Issue>{self.issue}</Issue>'
            f"<PubDate><Year>{d.year}</Year><Month>{d.strftime('%b')}</Month><Day>{d.day:02d}</Day></PubDate>"
            f"</JournalIssue><Title>{escape(self.journal)}</Title>"
            f"<ISOAbbreviation>{escape(self.iso)}</ISOAbbreviation></Journal>"
            f"<ArticleTitle>{escape(self.title)}</ArticleTitle>"
            f"<Pagination><MedlinePgn>{self.pages}</MedlinePgn></Pagination>"
            f'<ELocationID EIdType="doi" ValidYN="Y">{self.doi}</ELocationID>'
            + (f"<Abstract><AbstractText>{escape(self.abstract)}</AbstractText></Abstract>" if self.abstract else "")
            + f'<AuthorList CompleteYN="Y">{authors}</AuthorList><Language>eng</Language>'
            f"<PublicationTypeList>{types}</PublicationTypeList></Article>"
            f"<MedlineJournalInfo><MedlineTA>{escape(self.iso)}</MedlineTA></MedlineJournalInfo>"
            + (f"<CommentsCorrectionsList>{links}</CommentsCorrectionsList>" if links else "")
            + (f"<MeshHeadingList>{mesh}</MeshHeadingList>" if mesh else "")
            + "</MedlineCitation><PubmedData><PublicationStatus>ppublish</PublicationStatus>"
            f'<ArticleIdList><ArticleId IdType="pubmed">{self.pmid}</ArticleId>'
            f'<ArticleId IdType="doi">{self.doi}</ArticleId></ArticleIdList>'
            "</PubmedData></PubmedArticle>"
        )

    @property
    def doi(self) -> str:
        return f"10.5555/demo.{self.pmid}"


@dataclass(frozen=True)
class Trial:
    """One invented ClinicalTrials.gov study, rendered as an API v2 study record."""

    nct: str
    title: str
    official_title: str
    summary: str
    sponsor: str
    status: str
    phase: str
    enrollment: int
    start: date
    updated: date
    interventions: tuple[str, ...]
    countries: tuple[str, ...]
    why_stopped: str = ""

    def record(self) -> dict[str, object]:
        status: dict[str, object] = {
            "overallStatus": self.status,
            "startDateStruct": {"date": self.start.isoformat(), "type": "ACTUAL"},
            "primaryCompletionDateStruct": {"date": (self.start + timedelta(days=540)).isoformat(),
                                            "type": "ESTIMATED"},
            "studyFirstPostDateStruct": {"date": self.start.isoformat(), "type": "ACTUAL"},
            "lastUpdatePostDateStruct": {"date": self.updated.isoformat(), "type": "ACTUAL"},
        }
        if self.why_stopped:
            status["whyStopped"] = self.why_stopped
        return {
            "protocolSection": {
                "identificationModule": {"nctId": self.nct, "briefTitle": self.title,
                                         "officialTitle": self.official_title},
                "statusModule": status,
                "sponsorCollaboratorsModule": {"leadSponsor": {"name": self.sponsor}},
                "descriptionModule": {"briefSummary": self.summary},
                "conditionsModule": {"conditions": ["Alopecia"], "keywords": ["exosomes"]},
                "designModule": {"studyType": "INTERVENTIONAL", "phases": [self.phase],
                                 "enrollmentInfo": {"count": self.enrollment, "type": "ESTIMATED"}},
                "armsInterventionsModule": {"interventions": [{"name": n} for n in self.interventions]},
                "contactsLocationsModule": {"locations": [{"country": c} for c in self.countries]},
            },
            "hasResults": False,
        }


@dataclass(frozen=True)
class Post:
    """One invented entry of a journal's RSS feed."""

    guid: str
    title: str
    summary: str
    author: str
    published: datetime

    def xml(self, base: str) -> str:
        return (
            f"<item><title>{escape(self.title)}</title><link>{base}/articles/{self.guid}</link>"
            f'<guid isPermaLink="false">{self.guid}</guid><author>{escape(self.author)}</author>'
            f"<pubDate>{format_datetime(self.published)}</pubDate>"
            f"<description>{escape(self.summary)}</description></item>"
        )


@dataclass
class Upstream:
    """What the stand-in servers serve right now; `arrive()` moves it from day 1 to day 2."""

    papers: dict[str, Paper] = field(default_factory=dict)
    trials: dict[str, Trial] = field(default_factory=dict)
    posts: list[Post] = field(default_factory=list)

    def studies_json(self) -> bytes:
        studies = [t.record() for t in sorted(self.trials.values(), key=lambda t: t.nct)]
        return json.dumps({"studies": studies, "totalCount": len(studies)}).encode()

    def feed_xml(self, base: str) -> bytes:
        entries = "".join(p.xml(base) for p in sorted(self.posts, key=lambda p: p.published, reverse=True))
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
            "<title>Scalp &amp; Hair Clinics Quarterly: ahead of print</title>"
            f"<link>{base}/</link><description>New articles (litwatch demo feed)</description>"
            f"{entries}</channel></rss>"
        ).encode()


def _noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)


def day_one(day: date) -> Upstream:
    """The records the sources hold at the first run; `day` is that run's date."""
    recent = day - timedelta(days=40)
    papers = [
        Paper(
            pmid="99000101",
            title="Topical exosome serum versus 5% minoxidil for androgenetic alopecia: "
                  "a randomized controlled trial",
            abstract="Sixty men with androgenetic alopecia were randomized to a topical exosome "
                     "serum or 5% minoxidil for 24 weeks. Hair density rose by 18% with the serum "
                     "and 15% with minoxidil; the difference was not significant.",
            authors=(("Marlow", "J"), ("Okonkwo", "AE"), ("Lindqvist", "S")),
            journal="Journal of Trichology Research", iso="J Trichol Res", issn="2999-0011",
            volume="14", issue="3", pages="201-9", published=recent,
            types=("Journal Article", "Randomized Controlled Trial"),
            mesh=(("Alopecia", ("therapy",)), ("Exosomes", ()), ("Humans", ())),
        ),
        Paper(
            pmid="99000102",
            title="Extracellular vesicles in hair follicle regeneration: a narrative review",
            abstract="This review summarises laboratory and early clinical work on extracellular "
                     "vesicles derived from stem cells and their proposed effects on the hair cycle.",
            authors=(("Haddad", "R"), ("Brennan", "C")),
            journal="Skin Biology Reviews", iso="Skin Biol Rev", issn="2999-0022",
            volume="7", issue="2", pages="88-101", published=recent - timedelta(days=60),
            types=("Journal Article", "Review"),
            mesh=(("Extracellular Vesicles", ()), ("Hair Follicle", ("physiology",))),
        ),
        Paper(
            pmid="99000103",
            title="Adipose-derived exosomes combined with microneedling for female pattern hair loss: "
                  "a prospective cohort of 40 women",
            abstract="Forty women with female pattern hair loss received six sessions of "
                     "microneedling followed by adipose-derived exosomes. Mean hair count "
                     "increased at 12 weeks and patients reported high satisfaction.",
            authors=(("Varga", "E"), ("Tanaka", "H"), ("Osei", "K"), ("Rowe", "M")),
            journal="Journal of Trichology Research", iso="J Trichol Res", issn="2999-0011",
            volume="14", issue="1", pages="33-41", published=recent - timedelta(days=120),
            types=("Journal Article",),
            mesh=(("Alopecia", ("therapy",)), ("Prospective Studies", ()), ("Female", ())),
        ),
        Paper(
            pmid="99000107",
            title="Scalp abscesses after microneedling with a compounded exosome serum: three cases",
            abstract="Three women developed scalp abscesses within a week of microneedling "
                     "with the same compounded exosome serum. Cultures grew Mycobacterium "
                     "abscessus in all three; each needed drainage and months of antibiotics.",
            authors=(("Quinlan", "D"), ("Mensah", "A")),
            journal="Case Reports in Cutaneous Medicine", iso="Case Rep Cutan Med", issn="2999-0033",
            volume="8", issue="6", pages="e1042", published=recent - timedelta(days=30),
            types=("Journal Article", "Case Reports"),
            mesh=(("Exosomes", ("adverse effects",)), ("Abscess", ("etiology",)),
                  ("Percutaneous Collagen Induction", ("adverse effects",)), ("Female", ()), ("Humans", ())),
        ),
    ]
    trials = [
        Trial(
            nct="NCT09900011", title="Exosome Injections for Patchy Alopecia Areata",
            official_title="A Phase 2, Randomized, Placebo-Controlled Study of Intralesional "
                           "Exosome Injections in Adults With Patchy Alopecia Areata",
            summary="Adults with patchy alopecia areata receive intralesional injections of an "
                    "exosome preparation or saline every four weeks for six months.",
            sponsor="Northbridge Dermatology Institute", status="RECRUITING", phase="PHASE2",
            enrollment=80, start=day - timedelta(days=200), updated=day - timedelta(days=30),
            interventions=("Exosome preparation", "Saline"), countries=("Canada", "Ireland"),
        ),
        Trial(
            nct="NCT09900012", title="Platelet-Rich Plasma With or Without Exosomes in Male Pattern Hair Loss",
            official_title="Platelet-Rich Plasma Alone or Combined With Exosomes in Androgenetic "
                           "Alopecia: an Open-Label Randomized Trial",
            summary="Men with androgenetic alopecia receive platelet-rich plasma alone or with an "
                    "exosome solution; hair counts are compared at 24 weeks.",
            sponsor="Coastal University Hospital", status="RECRUITING", phase="NA",
            enrollment=120, start=day - timedelta(days=90), updated=day - timedelta(days=12),
            interventions=("Platelet-rich plasma", "Exosome solution"), countries=("Brazil",),
        ),
    ]
    posts = [
        Post(guid="shcq-2291", title="Counting hairs: a practical guide to phototrichograms",
             summary="How to take and read phototrichograms in a busy clinic.",
             author="editors@shcq.example", published=_noon(day - timedelta(days=9))),
        Post(guid="shcq-2304", title="Regenerative products for hair loss: what the evidence says so far",
             summary="An editorial on the regulatory status of regenerative hair-loss products.",
             author="editors@shcq.example", published=_noon(day - timedelta(days=3))),
    ]
    return Upstream(papers={p.pmid: p for p in papers}, trials={t.nct: t for t in trials}, posts=posts)


def arrive(upstream: Upstream, day: date) -> None:
    """Day 2: new records arrive and stored ones change, as they would overnight."""
    new = [
        Paper(
            pmid="99000104",
            title="Split-scalp comparison of exosome and saline injections in 24 men with "
                  "androgenetic alopecia: a double-blind randomized trial",
            abstract="Twenty-four men received exosome injections on one half of the scalp and "
                     "saline on the other, every four weeks for three sessions. Terminal hair "
                     "density increased more on the exosome side at 16 weeks.",
            authors=(("Ferreira", "L"), ("Novak", "P")),
            journal="Journal of Trichology Research", iso="J Trichol Res", issn="2999-0011",
            volume="14", issue="4", pages="300-7", published=day - timedelta(days=2),
            types=("Journal Article", "Randomized Controlled Trial"),
            mesh=(("Alopecia", ("drug therapy",)), ("Exosomes", ()), ("Double-Blind Method", ())),
        ),
        Paper(
            pmid="99000105",
            title="Granulomatous reaction after scalp injections of an unregulated exosome "
                  "product: a case report",
            abstract="A 38-year-old woman developed painful scalp nodules three weeks after "
                     "injections of an exosome product bought online for hair loss. Biopsy "
                     "showed foreign-body granulomas. The nodules resolved slowly with "
                     "intralesional corticosteroids.",
            authors=(("Adeyemi", "T"), ("Schulz", "K")),
            journal="Case Reports in Cutaneous Medicine", iso="Case Rep Cutan Med", issn="2999-0033",
            volume="9", issue="2", pages="e1187", published=day - timedelta(days=1),
            types=("Journal Article", "Case Reports"),
            mesh=(("Exosomes", ("adverse effects",)), ("Granuloma, Foreign-Body", ("etiology",)),
                  ("Alopecia", ("therapy",)), ("Female", ()), ("Humans", ())),
        ),
        Paper(
            pmid="99000106",
            title="Retraction: Adipose-derived exosomes combined with microneedling for female pattern "
                  "hair loss: a prospective cohort of 40 women",
            abstract="",
            authors=(),
            journal="Journal of Trichology Research", iso="J Trichol Res", issn="2999-0011",
            volume="14", issue="4", pages="310-310", published=day - timedelta(days=1),
            types=("Retraction of Publication",),
            links=(("RetractionOf", "99000103"),),
        ),
    ]
    for paper in new:
        upstream.papers[paper.pmid] = paper
    retracted = upstream.papers["99000103"]
    upstream.papers["99000103"] = replace(
        retracted, types=(*retracted.types, "Retracted Publication"), links=(("RetractionIn", "99000106"),),
    )
    stopped = upstream.trials["NCT09900011"]
    upstream.trials["NCT09900011"] = replace(
        stopped, status="TERMINATED", updated=day,
        why_stopped="Enrollment halted by the data safety monitoring board after two "
                    "participants developed injection-site abscesses",
    )
    upstream.posts.append(Post(
        guid="shcq-2318", title="Exosome treatments for hair loss: questions to ask before you offer them",
        summary="A checklist for clinicians on product sourcing, consent and follow-up.",
        author="editors@shcq.example", published=_noon(day - timedelta(days=1)),
    ))
