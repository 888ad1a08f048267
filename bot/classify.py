"""Classify an item: clinical study, case report or other; safety and integrity flags; reasons.

Pure and deterministic: no I/O, no clock, no randomness. Evidence is read in order of trust:
structured fields first (PubMed publication types, MeSH headings and qualifiers,
CommentsCorrections, registry status, why-stopped and posted adverse-event counts), then
title and abstract text with negation and hedging. Every label comes with short reasons a reviewer can check against the
record ("publication type: Case Reports", "abstract: 'two patients developed granulomas'").

Text rules run on the lower-cased text with patterns compiled once; each pattern family is
skipped unless one of its trigger substrings occurs, which keeps a record well under a
millisecond.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from bot import __version__, corrections, registry, safety_model
from bot.config import ClassifySettings
from bot.models import Classification, Item, Kind, TrialInfo
from bot.safety_model import SafetyModel

# --- structured evidence -------------------------------------------------------------------

CASE_REPORT_TYPES = frozenset({"Case Reports"})
CLINICAL_TYPES = frozenset({
    "Clinical Trial", "Clinical Trial, Phase I", "Clinical Trial, Phase II",
    "Clinical Trial, Phase III", "Clinical Trial, Phase IV", "Randomized Controlled Trial",
    "Controlled Clinical Trial", "Pragmatic Clinical Trial", "Adaptive Clinical Trial",
    "Equivalence Trial", "Clinical Study", "Observational Study", "Multicenter Study",
    "Twin Study",
})  # fmt: skip
# Publication types whose records are not primary patient data (reviews, opinion, notices).
OTHER_TYPES = frozenset({
    "Review", "Systematic Review", "Meta-Analysis", "Network Meta-Analysis", "Scoping Review",
    "Umbrella Review", "Editorial", "Comment", "News", "Newspaper Article", "Guideline",
    "Practice Guideline", "Consensus Development Conference",
    "Consensus Development Conference, NIH", "Historical Article", "Biography", "Autobiography",
    "Portrait", "Interview", "Lecture", "Address", "Published Erratum",
    "Retraction of Publication", "Expression of Concern", "Clinical Trial Protocol",
    "Introductory Journal Article", "Bibliography", "Directory", "Video-Audio Media", "Webcast",
    "Personal Narrative", "Patient Education Handout", "Legal Case", "Legislation", "Dataset",
    "Clinical Trial, Veterinary", "Observational Study, Veterinary", "Festschrift",
    "Classical Article", "Overall", "Technical Report",
})  # fmt: skip
# "Review" is also put on chart reviews and "case report and review of the literature";
# the text may overrule it. Letters are decided by their text.
SOFT_OTHER_TYPES = frozenset({"Review", "Letter"})
# Reviews that report a series of their own ("we enrolled", "the study group consisted of")
# are clinical whatever the tag.
REVIEW_TYPES = frozenset({
    "Review", "Systematic Review", "Meta-Analysis", "Network Meta-Analysis", "Scoping Review",
})  # fmt: skip
SAFETY_QUALIFIERS = frozenset({"adverse effects", "poisoning", "toxicity", "chemically induced"})
SAFETY_DESCRIPTORS = frozenset({
    "Drug-Related Side Effects and Adverse Reactions", "Adverse Drug Reaction Reporting Systems",
    "Drug Hypersensitivity", "Drug Eruptions", "Chemical and Drug Induced Liver Injury",
    "Postoperative Complications", "Intraoperative Complications", "Iatrogenic Disease",
    "Medication Errors", "Product Recalls and Withdrawals", "Drug Contamination",
    "Equipment Contamination", "Foreign-Body Reaction", "Granuloma, Foreign-Body", "Poisoning",
    "Drug Overdose", "Anaphylaxis", "Pharmacovigilance", "Surgical Wound Infection",
})  # fmt: skip
CLINICAL_DESIGN_MESH = frozenset({
    "Retrospective Studies", "Prospective Studies", "Cohort Studies", "Longitudinal Studies",
    "Follow-Up Studies", "Cross-Sectional Studies", "Case-Control Studies", "Treatment Outcome",
    "Double-Blind Method", "Single-Blind Method", "Cross-Over Studies",
})  # fmt: skip
ANIMAL_MESH = frozenset({"Animals", "Mice", "Rats", "Disease Models, Animal"})
STOPPED_STATUSES = frozenset({"TERMINATED", "SUSPENDED", "WITHDRAWN"})
# Fixed safety scores of structured evidence (the learned model scores text).
REGISTRY_SCORE = 0.95  # a trial stopped for safety, or posted results counting adverse events
MESH_CASE_SCORE = 0.90  # a case report indexed with an adverse-effect qualifier or descriptor
TEXT_RULE_SCORE = 0.80  # harm matched by the round-1 sentence rules (negation and hedges checked)
BACKGROUND_WEIGHT = 0.5  # a background or aim sentence states context, not this record's harm
REASON_WIDTH = 160  # a reason fits one line of a Slack message
# The record model reads whole abstracts (it was trained on them); a title with a sentence or
# two is left to the sentence model.
RECORD_MODEL_SENTENCES = 3

# --- text evidence (patterns run on lower-cased text) ---------------------------------------


def _led(lead: str, pattern: str, *, word_start: bool = False) -> re.Pattern[str]:
    """Compile `pattern`, which can only start with a character in `lead`, behind a look-ahead
    on that set: the scanner then skips all other positions in C (several times faster).
    `word_start`: every alternative of `pattern` starts at the first letter of a word. The
    word boundary is checked once, before the alternatives, which then need no `\\b` of their
    own; an alternative that starts with a letter is skipped in C where the text does not have
    it (about twice as fast as a `\\b` in each alternative)."""
    boundary = r"\b" if word_start else ""
    return re.compile(rf"(?=[{lead}]){boundary}(?:{pattern})")


_NUMBER_WORDS = (
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
    "twenty", "thirty", "forty", "fifty", "a dozen", "dozens of", "several", "multiple",
)  # fmt: skip
_NUMBER = rf"(?:\d[\d,]*|{'|'.join(_NUMBER_WORDS)})"
_NUMBER_LEAD = "0-9" + "".join(sorted({w[0] for w in _NUMBER_WORDS}))
_WORD_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "a dozen": 12, "dozens of": 24, "several": 4,
    "multiple": 4,
}  # fmt: skip
_PERSONS = (
    r"(?:patients?|cases?|subjects?|participants?|individuals?|persons?|people|adults?|"
    r"children|child|infants?|neonates?|newborns?|women|men|males?|females?|girls?|boys?|"
    r"volunteers?|recipients?|users?|athletes?|runners?|players?|smokers?|survivors?|"
    r"donors?|adolescents?|youths?|students?|veterans?|pregnancies|mothers|twins|"
    r"healthy controls|outpatients|inpatients)"
)
# People as harm befalls them, one at a time too ("anaphylaxis in one woman").
_PEOPLE = _PERSONS[:-1] + "|woman|man)"

# A sentence ends at a newline, or at ".", "!" or "?" before a capital or a digit. One set
# opens both: the scanner skips in C to its next character.
_SENTENCE_END = re.compile(r"[.!?\n](?:(?<=\n)|(?=\s+[\"'(\[]?[A-Z0-9]))")
_SECTION_LABEL = re.compile(r"^([A-Z][A-Za-z ,&/-]{2,40}):\s")
# Abstract sections that state context or aims, not this record's findings.
_RESULTS, _AIM, _BACKGROUND = 0, 1, 2
_SECTION_KINDS = {
    "background": _BACKGROUND, "introduction": _BACKGROUND, "context": _BACKGROUND,
    "rationale": _BACKGROUND, "importance": _BACKGROUND, "background and aims": _BACKGROUND,
    "background and objectives": _BACKGROUND, "background and purpose": _BACKGROUND,
    "background/objectives": _BACKGROUND, "background/aims": _BACKGROUND,
    "objective": _AIM, "objectives": _AIM, "aim": _AIM, "aims": _AIM, "purpose": _AIM,
    "study objective": _AIM, "hypothesis": _AIM,
}  # fmt: skip
_SPACES = re.compile(r"[^\S\n]{2,}|[\t\r\f\v]")
# Where a clause ends: a negation or hedge reaches no further. A comma ends a clause unless
# it separates the items of a list ("no fever, rash or adverse events").
_CLAUSE_BREAK = re.compile(
    r"[;:]|,(?=\s)|\b(?:but|however|although|though|whereas|while|except|yet|despite|"
    r"in contrast|nevertheless|nonetheless)\b")

# One person named as a case: "a patient", "an adolescent", "a transplant recipient".
_ONE_PERSON = (r"(?:patient|man|woman|boy|girl|child|infant|neonate|newborn|toddler|adolescent|"
               r"teenager|recipient)")
# Every match of _CASE_TEXT holds one of these: "case", an age, "our patient" or one of its
# verbs of telling ("we also describe…", "the authors present…").
_CASE_TRIGGERS = ("case", "old", "aged", "our patient", "report", "describ", "present", "discuss",
                  "document", "highlight", "centers", "centres", "focuses", "concerns")
_CASE_TEXT = _led(
    "0-9acdehoprtw",
    r"(?:we|here,? we|authors|(?:this|the present) (?:report|paper|article|communication|letter))"
    r"\s+(?:\w+\s+)?"
    r"(?:reports?|reporting|describes?|presents?|discuss(?:es)?|documents?|highlights?|"
    r"cent(?:er|re)s\s+on|focuses\s+on|concerns)\s+"
    r"(?:here(?:in)?\s+)?(?:on\s+)?(?:the\s+(?:(?:case|cases|history|story)\s+of\s+)?)?"
    # one person within three words of its determiner, or two or three people
    r"(?:(?:such\s+)?(?:an?|one|first|unique|unusual|rare|novel|interesting|single)\s+(?:[\w'-]+\s+){0,3}?"
    r"(?:case|patient|man|woman|boy|girl|child|infant|male|female|neonate|newborn|toddler|"
    r"adolescent|teenager|recipient|individual|gentleman|lady)\b(?!-)"
    r"|(?:two|three|[23])\s+(?:[\w'-]+\s+){0,3}?(?:cases|patients|men|women|boys|girls|children|"
    r"infants|males|females|neonates|newborns|adolescents|recipients|individuals|siblings|"
    r"brothers|sisters|twins)\b)"
    # "this study describes a patient…", not "this study reports a randomised trial in female …"
    rf"|(?:this|the present) study (?:describes|reports|presents) (?:an?|one) (?:[\w'-]+ ){{0,2}}?"
    rf"{_ONE_PERSON}\b(?![-']| (?:population|group|cohort|sample|registry|database|series|level|"
    r"records?|data)s?\b)"
    r"|case (?:report|presentation|description|summary|history|study of an?)\b(?!s)"
    r"|(?:report|presentation) of (?:an?|one|two|three) (?:\w+ ){0,3}cases?\b"
    # "a 54-year-old", "a previously healthy 45-year-old", "a 41 yr old", "a 42-y old"
    # (not "a group of 8-year-old children")
    r"|(?:an?|one)\s+(?:(?!(?:of|in)\s)[\w'-]+\s+){0,2}?(?:(?:\d{1,3}|[a-z]+(?:-[a-z]+)?)[- ]?(?:year|yr|month|"
    r"week|day)s?|\d{1,3}[- ]y)[- ]old\b"
    # a sentence that opens with the patient: "46-year-old woman developed…"
    r"|(?<![^\n])\d{1,3}[- ](?:year|yr|month|week|day)s?[- ]old (?:man|woman|boy|girl|male|female|"
    r"patient|infant|child)\b"
    # a series of two or three is case reports by the guide: "a three-case series", "case series
    # of 3 patients" (its count decides, as for any series)
    r"|(?:two|three|[23])-case series\b|case series (?:consisting )?of (?:two|three|[23]) "
    r"|(?:a|an|one)\s+(?:\w+\s+){0,3}(?:man|woman|boy|girl|male|female|patient|infant)\s+"
    r"aged\s+\d"
    r"|(?:an?|one) (?:unusual |rare |unique |atypical |interesting |first )?case of\b"
    r"|(?:an?|one|this) (?:unusual |rare |unique |atypical |interesting )?case (?:study )?"
    r"(?:is|was) (?:presented|described|reported)\b"
    r"|the case (?:reported|described|presented) (?:here(?:in)?|below)\b"
    r"|the case of (?:an?|one) (?:[\w'-]+ ){0,3}?(?:patient|man|woman|boy|girl|child|infant|"
    r"neonate|gentleman|lady)\b"
    r"|our patient\b(?![s-]| (?:population|group|cohort|sample|base|series|numbers|care)\b)"
    r"|(?:reported|described|presented) (?:here(?:in)?|below) (?:are|is) (?:an?|one|two|three)\b"
    r"|(?:one|two|three) such cases? (?:is|are) (?:reported|described|presented)\b"
    r"|this case (?:illustrates|indicates|demonstrates|shows|suggests|highlights|emphasi[sz]es)\b"
    # "We discuss this case…", "The following case demonstrates…", a title's "…: three case
    # reports", a "CASE: A …" section (not "our case-control study", "the case fatality rate",
    # "the case for …", "CASE: control subjects were …", "only two case reports exist")
    r"|we (?:discuss|describe|present|report) (?:this|our) case\b(?![-/]| (?:control|fatality|"
    r"definitions?|series|for|mix|load|studies|study|reports? of \d)\b)"
    r"|the following case (?:demonstrates|illustrates|describes|shows|is|was)\b"
    r"|(?<=: )(?:two|three) case reports\.?(?=\n|$)|(?<=\n)(?:two|three) case reports\.?(?=\n|$)"
    r"|(?<=\n)case(?: (?:report|presentation|description|summary))?: (?:an?|one|our|this) ",
    word_start=True)
# One patient described in the text, as untagged case reports do: "A patient with rheumatoid
# arthritis developed…", "A young woman developed…", "… was detected in an infant whose…",
# "This is the first report of … in a patient", "The patient whose case is reviewed…".
_ONE_PATIENT = _led(
    "afiost",
    rf"(?:an?|one) (?:[\w'-]+ ){{0,3}}?(?:{_ONE_PERSON}|gentleman|lady)\b"
    r"(?: (?:with|on|receiving|taking|treated) [^.;]{0,80}?)? (?:developed|"
    r"presented|experienced|suffered|is described|was described|is presented|was admitted|"
    r"was referred|was treated|received|had|showed|underwent|complained|manifested|required|"
    r"was found|was diagnosed|was scheduled|was hospitali[sz]ed|was seen)\b"
    # "A patient that received methadone … developed…" (not "One infant who …": one of a group;
    # not "the probability that a patient who received …": a model's patient)
    rf"|(?<!\bthat )(?<!\bwhether )(?<!\bif )\ban? (?:[\w'-]+ ){{0,3}}?(?:{_ONE_PERSON}|gentleman|lady) "
    rf"(?:who|that) [^.;]{{0,80}}? "
    r"(?:developed|presented|experienced|suffered|was admitted|was referred|required|died)\b"
    r"|of an? (?:[\w'-]+ ){0,2}?(?:patient|woman|man|boy|girl|infant|child) who (?:received|"
    r"developed|presented|had|was|underwent|took)\b"
    rf"|(?:in|to) an? (?:[\w'-]+ ){{0,3}}?{_ONE_PERSON}\b"
    r"(?! (?:population|group|cohort|sample|registry|database)s?\b)"
    r"|the (?:patient|newborn|neonate|boy|girl)(?:'s)? (?:whose case|described|presented|"
    r"herein reported|reported here(?:in)?|"
    r"developed|was|had|recovered|fully recovered|died|improved|responded|underwent|received|"
    r"showed|remained|required|complained|manifested|experienced|suffered)\b"
    r"|(?:first|second|third) (?:reported )?(?:case|report)s? of\b"
    # "this patient developed…", "in this patient", "this middle-aged man presented…"
    r"|this (?:[\w'-]+ ){0,3}?(?:patient|man|woman|boy|girl|child|infant) (?:developed|presented|"
    r"had|was|received|underwent|showed|recovered|died|required|experienced|suffered)\b"
    r"|(?:in|of|to|for) this (?:[\w'-]+ ){0,2}?(?:patient|man|woman|boy|girl|child|infant)\b"
    r"(?! (?:population|group|cohort|sample|series)s?\b)"
    # "in a female with acute leukaemia", "to a male aged 40"
    r"|(?:in|to) an? (?:[\w'-]+ ){0,2}?(?:female|male) (?:with|who|aged)\b", word_start=True)
# Every match of _ONE_PATIENT holds one of these words.
_ONE_PATIENT_WORDS = frozenset({"patient", "woman", "man", "boy", "girl", "infant", "child",
                                "neonate", "newborn", "toddler", "adolescent", "teenager",
                                "recipient", "gentleman", "lady", "case", "cases", "report",
                                "reports", "female", "male"})
# One person told in the third person, or two or three cases named first: a sentence that
# opens "She developed…", "He was treated…" (studies speak of patients, not of her), "Two
# cases of … reactions". A case only in a text that names no study design or review, counts no
# more than three people and gives no group's rate (a cohort's one patient: "He died from
# acute leukaemia"; a trial's "Two cases of anaphylaxis were reported"; "in 12% of patients").
_TOLD_OF_FEW = re.compile(
    r"(?<![^\n])(?:(?:she|he) (?:(?:then|later|subsequently|eventually|also|again) )?(?:developed|"
    r"presented|experienced|suffered|was|had|received|underwent|recovered|died|complained|showed|"
    r"required|improved|became)\b|(?:two|three) (?:case reports|cases) of\b)")
# The classic case-report title: "Majocchi's granuloma in a kidney transplant recipient".
_CASE_TITLE = re.compile(
    r"\b(?:in|of) an? (?:[\w'-]+ ){0,3}(?:patient|woman|man|child|boy|girl|infant|neonate|"
    r"recipient)\s*(?:with\b|[.:]|$)")
_SERIES_COUNT = _led(
    f"cstw{_NUMBER_LEAD}",
    rf"\b(?:we\s+(?:\w+\s+)?(?:report|describe|present|review|reviewed|analy[sz]ed|included|"
    rf"identified|treated|studied|followed)\s+(?:the\s+)?(?:data\s+of\s+|records\s+of\s+)?|"
    rf"case series of\s+|series of\s+|total of\s+|cohort of\s+)({_NUMBER})\s+(?:\w+\s+){{0,3}}?"
    rf"{_PERSONS}\b"
    rf"|(?<!\bper )\b({_NUMBER})\s+(?:consecutive|adult|pediatric|paediatric)\s+{_PERSONS}\b")
_CLINICAL_TEXT = _led(
    "0-9acdefhilmnoprstw",
    r"\brandomi[sz]ed\b|\brandomly (?:assigned|allocated)\b|\bdouble[- ]blind(?:ed)?\b"
    r"|\bplacebo[- ]controlled\b|\bopen[- ]label\b|\bsingle[- ]arm\b|\bfirst[- ]in[- ]human\b"
    r"|\bphase (?:i{1,3}v?|[1-4])[ab]?(?:/(?:i{1,3}|[1-4]))? (?:trial|study)\b"
    r"|\b(?:prospective|retrospective)(?:ly)?\b[^.]{0,40}\b(?:study|studies|cohort|analysis|"
    r"analy[sz]ed|review(?:ed)?|collected|evaluated|enrolled|recruited|included)\b"
    r"|\b(?:cohort|case[- ]control|cross[- ]sectional|observational|longitudinal|"
    r"population[- ]based|registry[- ]based|multi-?cent(?:er|re)|single[- ]cent(?:er|re)) "
    r"(?:study|studies|analysis|survey|design|trial|cohort)\b"
    r"|\b(?:chart|record) review\b|\bmedical records\b|\bcase series\b"
    r"|\b(?:were|was) (?:enrolled|recruited|randomi[sz]ed)\b"
    r"|\bwe (?:enrolled|recruited|randomi[sz]ed)\b"
    r"|\bclinical trial\b|\bpilot (?:study|trial)\b|\bsplit[- ](?:face|body)\b"
    r"|\bhealthy (?:volunteers|controls|subjects|individuals|donors)\b|\binclusion criteria\b"
    r"|\bmedian follow-up\b|\btwin (?:design|study|sample|cohort|registry)\b"
    r"|\bmixed[- ]methods? (?:study|analysis|project|design|approach)\b"
    r"|\b(?:focus groups?|semi-structured interviews?|in-depth interviews?)\b"
    # a series or cohort named by its kind ("a ten-year multicentre series", "a national
    # cohort"), a registry or surveillance analysis
    r"|\b(?:prospective|retrospective|consecutive|multi-?cent(?:er|re)|single[- ]cent(?:er|re)|"
    r"national|population|multinational|regional|(?:\d+|one|two|three|four|five|six|seven|eight|"
    r"nine|ten|twelve|fifteen|twenty|thirty)-year) (?:series|cohort|registry|register)\b"
    r"|\b(?:registry|register)[- ](?:analysis|study|data)\b|\bscreening study\b"
    r"|\b(?:analysis|analyses) of spontaneous reports\b")
# What was studied, counted, when it is not named as people ("We followed 652 hips", "11,300
# admissions", "Among 130,000 screening colonoscopies", "544 workers"): a study when the record
# is about health.
_COUNTED_STUDY = _led(
    "0-9",
    # a count, not a rate ("1 in 1,000", "per 1,000"), an estimate of a burden or a year
    r"(?<!\bin )(?<!\bper )(?<!\bestimated )(?<![\d,.])(?!(?:19|20)\d\d\b)\d[\d,]*\s+"
    r"(?:[\w-]+\s+){0,3}?(?:hips|knees|eyes|admissions|births|deliveries|procedures|operations|"
    r"insertions|injections|consultations|visits|episodes|implants|workers|farmers|employees|"
    r"clients|\w+(?:scopies|ectomies|otomies|ostomies|plasties))\b"
    r"(?! (?:each|every|per|a) (?:year|month|week|day)\b)")
_SAMPLE = _led(
    f"({_NUMBER_LEAD}",
    # people, not a rate ("one in three people") or person-time ("58 patient weeks")
    rf"(?<!\bone in )(?<!\b1 in )\b{_NUMBER}\s+(?:[\w'-]+\s+){{0,3}}?{_PERSONS}\b"
    r"(?![- ]?(?:years?|months?|weeks?|days?)\b)"
    rf"|\(\s*n\s*=\s*\d[\d,]*\s*\)\s+(?:[\w-]+\s+){{0,4}}?{_PERSONS}\b")
_SAMPLE_N = re.compile(rf"\b{_PERSONS}\s*\(\s*n\s*=\s*\d")  # "participants (n = 31)"
# First-person primary data collection: outweighs a "Review" tag.
_PRIMARY_DATA = _led(
    "otw",
    r"\bwe (?:retrospectively |prospectively )?(?:enrolled|recruited|abstracted|randomi[sz]ed|"
    r"reviewed (?:the )?(?:medical |electronic |clinical )?(?:charts|records)|"
    r"reviewed charts|(?:conducted|performed|carried out) a (?:retrospective|prospective|"
    r"cross-sectional|cohort|case-control|randomi[sz]ed|multicenter|single-center))\b"
    r"|\b(?:the|our) study (?:group|population|cohort|sample) (?:consisted of|comprised|"
    r"included)\b")
_REVIEW_TEXT = _led(
    "acgimorstw",
    r"\b(?:this|our|the present|we) (?:\w+ )?(?:narrative |systematic |scoping |literature |"
    r"mini-?|comprehensive |critical |state-of-the-art )?review\b|\bwe review\b|"
    r"\breview(?:s|ed)? (?:of )?the (?:current |recent |available )?literature\b|"
    r"\bmeta-analys[ie]s\b|\bsystematic review\b|\bguidelines? (?:for|on)\b|\bconsensus\b|"
    r"\bstudy protocol\b|\bthis protocol\b|\bwe (?:propose(?! that)|discuss|summari[sz]e|"
    r"highlight|outline)\b|\bin this (?:article|paper|chapter|editorial|commentary|perspective)\b"
    r"(?!,? we (?:analy[sz]ed|studied|report|present|describe|enrolled|recruited|examined|"
    r"investigated|evaluated|followed|treated|included))")
# What a review or a protocol says of itself, which outweighs the trials it counts or the
# patients it plans ("We searched four databases for randomised trials…", "This trial will
# randomise 1,500 patients"): in the title, or said in the first person.
_FIRM_OTHER_TITLE = re.compile(
    r"\b(?:systematic|scoping|umbrella|narrative|literature) review\b|\bmeta-analys[ie]s\b|"
    # a protocol of a study, not a care protocol studied ("an enhanced recovery protocol for …")
    r"\b(?:study|trial) protocol\b|\bprotocol (?:for|of) (?:an? |the )?(?:[\w-]+ ){0,3}?(?:trial|study)\b|"
    r":\s*(?:an? |the )?protocol\W*$")
_FIRM_OTHER_TEXT = _led(
    "otw",
    # a literature search, not a search of a hospital or pharmacovigilance database
    r"\bwe searched (?:[\w-]+ ){0,6}?(?:medline|pubmed|embase|cochrane|scopus|web of science|cinahl|"
    r"psycinfo|the literature)\b|\bwe searched (?:[\w-]+ ){0,4}?databases (?:for|from) (?:[\w-]+ ){0,3}?"
    r"(?:trials|studies|articles|publications)\b|\bthis (?:systematic|scoping|umbrella) review\b|"
    r"\bthis protocol\b|\b(?:the|this) (?:trial|study) will (?:randomi[sz]e|enrol|enroll|recruit|"
    r"compare|include|test)\b")
_FIRM_OTHER_TRIGGERS = ("searched", "this systematic", "this scoping", "this umbrella", "this protocol",
                        "trial will ", "study will ")
# A survey of clinicians' or other professionals' views: not patient data.
_PROFESSIONAL_SURVEY = _led(
    "acdehimnpqrs",
    r"\b(?:surveys?|questionnaires?|interviews?)\b[^.]{0,80}?\b(?:physicians|providers|"
    r"clinicians|nurses|pharmacists|dentists|doctors|practitioners|surgeons|residents|"
    r"health ?care workers|(?:health|medical|healthcare) professionals|staff|experts|"
    r"stakeholders)\b"
    r"|\b(?:physicians|providers|clinicians|nurses|pharmacists|dentists|doctors|practitioners|"
    r"surgeons|residents|staff|experts)\b[^.]{0,60}?\b(?:completed|answered|responded to|"
    r"were surveyed)\b")
_PROFESSIONALS = _led(
    "cdehmnprs",
    r"\b(?:physicians?|providers?|clinicians?|nurses?|pharmacists?|dentists?|doctors?|"
    r"practitioners?|surgeons?|residents|health ?care workers|professionals|staff|experts|"
    r"stakeholders)\b")
# Software, databases and data portals: methods papers even when they count people.
_SOFTWARE = _led(
    "aefgioprstw",
    r"\bopen[- ]source\b|\bweb[- ]?(?:application|portal|server|tool|interface|app)\b|"
    r"\binteractive (?:visuali[sz]ation|tool|platform)\b|\bgithub\b|\btoolkit\b|"
    r"\b(?:r|python) package\b|\bfreely available at\b|\bsoftware (?:tool|package)\b")
# Text-only evidence of people studied must concern health, not e.g. cultural surveys. The
# topic's own conditions come from `[classify] condition_terms`.
_HEALTH_WORDS = frozenset({
    "health", "healthy", "disease", "diseases", "patient", "patients", "clinical", "symptom",
    "symptoms", "treatment", "treated", "therapy", "diagnosis", "diagnosed", "blood", "serum",
    "plasma", "genetic", "gene", "genotype", "polymorphism", "cancer", "tumor", "tumour",
    "infection", "hiv", "mental", "depression", "anxiety", "physiological", "oxygen", "lactate",
    "hormone", "mri", "imaging", "cognitive", "medical", "hospital", "drug", "drugs", "vaccine",
    "vaccinated", "vaccination", "pregnancy", "pregnant", "surgery", "mortality", "morbidity",
    "injury", "pain", "obesity", "diabetes", "cardiovascular", "nutrition", "dietary", "biomarker",
    "biomarkers", "death", "deaths", "dementia", "impairment", "disorder", "disorders",
    "skin", "dermatitis", "admission", "admissions", "admitted", "readmitted", "readmission",
    "surgical", "clinic", "clinics", "emergency", "intensive", "sepsis", "stroke", "cardiac",
    "renal", "kidney", "liver", "lung", "fracture", "fractures", "pregnancies", "births",
    "delivery", "dental", "dentists", "prescribing", "prescriptions", "insomnia", "migraine",
    "epilepsy", "asthma", "hypertension", "bleeding", "haemorrhage", "hemorrhage", "infections",
    "vaccines", "implant", "implants", "prosthesis", "catheter", "transplant", "transplantation",
})  # fmt: skip
# Medical word endings: procedures, inflammations, disorders, bleeding, blood findings.
_MEDICAL_SUFFIXES = (
    "ectomy", "ectomies", "otomy", "ostomy", "plasty", "scopy", "scopies", "itis", "osis",
    "emia", "aemia", "pathy", "algia", "penia", "plegia", "rrhage", "rrhoea", "rrhea", "uria",
    "iasis", "opia", "trophy", "ectasia",
)  # fmt: skip
_PERSON_WORDS = frozenset({
    "patient", "patients", "participants", "participant", "subjects", "volunteers", "women",
    "men", "children", "adults", "infants", "people", "individuals", "persons", "adolescents",
    "athletes", "runners", "students", "survivors", "donors", "recipients", "girls", "boys",
    "males", "females", "users", "smokers", "veterans", "mothers", "youths",
})  # fmt: skip
# Words for subjects that are not people. Only words that say so in any record: not
# "specimens" or "models" (human biopsies, regression models), nor words that matched one
# evaluation record's field ("crystal", "films", "stars").
_NONHUMAN_WORDS = frozenset({
    "mice", "mouse", "murine", "rat", "rats", "rodent", "rodents", "rabbit", "rabbits",
    "zebrafish", "pig", "pigs", "porcine", "dog", "dogs", "canine", "monkeys", "macaques",
    "primates", "sheep", "ovine", "bovine", "cattle", "chickens", "drosophila", "yeast",
    "bacteria", "isolates", "plants", "seedlings", "xenograft", "xenografts", "organoid",
    "organoids", "simulation", "simulations", "algorithm", "algorithms", "computational",
    "fish", "larvae", "eggs", "strains", "vitro", "silico", "lines", "cultured", "nanoparticles",
})  # fmt: skip
_HUMAN_WORDS = frozenset({
    "patient", "patients", "participants", "participant", "subjects", "volunteers", "women",
    "men", "children", "adults", "infants", "humans", "people", "individuals", "persons",
    "clinical", "hospital", "hospitalized", "diagnosed", "cases", "adolescents", "athletes",
    "runners", "students", "survivors", "donors", "recipients", "girl", "boy", "woman", "man",
})  # fmt: skip
_WORD = re.compile(r"[a-z]+")

# Harm named outright; negation, hedging and "did it happen" still apply. Every alternative
# contains one of _HARM_TRIGGERS, so records without any trigger skip the pattern.
_HARM_STRONG = (
    r"adverse (?:drug )?(?:events?|reactions?|effects?|outcomes?|incidents?)|"
    r"side[- ]effects?|(?:hepato|nephro|cardio|neuro|oto|myelo|photo)?toxicit(?:y|ies)|"
    r"poisonings?|intoxications?|overdoses?|anaphyla(?:xis|ctic)|allergic reactions?|"
    r"hypersensitivity reactions?|stevens-johnson|toxic epidermal necrolysis|"
    r"foreign[- ]body (?:reactions?|granulomas?)|iatrogenic|"
    r"contaminated (?:products?|drugs?|batch\w*|lots?|vials?|supply|supplies|injections?|"
    r"medications?|devices?)|(?:product|drug|microbial|bacterial|fungal|endotoxin|"
    r"manufacturing) contamination|adulterat(?:ion|ed)|counterfeit|"
    r"(?:voluntary|nationwide|product|class i{1,3}|drug|device|market) (?:recall|withdrawal)s?|"
    r"recall(?:ed|s)? (?:of|due to|because)|recalled\b|"
    r"safety (?:communication|alert|warning|signal)s?|(?:boxed|black[- ]box) warning|"
    r"warning letters?|fda warns|unapproved"
)
_HARM_TRIGGERS = (
    "advers", "side", "toxic", "poison", "overdos", "anaphyla", "allergic", "hypersens",
    "stevens", "foreign", "iatrogen", "contamin", "adulter", "counterfeit", "recall",
    "withdrawal", "safety", "warning", "warns", "unapproved",
)
_HARM_ABBREV = re.compile(r"\b(?:s|te)?aes?\b")
# Harms an intervention can cause, in any topic: alopecia and hair loss are here as adverse
# drug effects ("chemotherapy-induced alopecia"), like nausea, not as the watched condition.
_HARM_NOUNS = (
    r"(?:toxicity|toxicities|injury|injuries|hepatitis|reactions?|eruptions?|rash|adverse|"
    r"deaths?|mortality|complications?|events?|damage|disorders?|syndrome|hypersensitivity|"
    r"anaphylaxis|alopecia|hair loss|nausea|vomiting|granulomas?|infections?|bleeding|"
    r"ha?emorrhage|\w+itis|\w+pathy|\w+toxicity|\w+emia|harms?)"
)
# Interventions in general medicine; the topic's own products and procedures come from
# `[classify] intervention_terms`.
_INTERVENTIONS = (
    r"(?:surgery|surgical|operation|procedures?|treatments?|therapy|therapies|injections?|"
    r"infusions?|implants?|implantation|vaccines?|vaccination|administration|exposures?|use|"
    r"intake|ingestion|application|doses?|dosing|drugs?|medications?|devices?|fillers?|"
    r"transplant\w*|radiotherapy|radiation|chemotherapy|immunotherapy|laser|products?|"
    r"supplements?|cosmetics?|\w+ectomy|\w+plasty)"
)
# "X-induced <harm>": X must be an intervention or a drug name (checked on the word before).
_CAUSED_BY = re.compile(
    rf"[- ](?:induced|related|associated)\s+(?:[\w-]+\s+){{0,2}}?{_HARM_NOUNS}\b")
_CAUSE_WORDS = (
    r"drugs?|treatment|therapy|vaccine|vaccination|procedure|injection|filler|device|implant|"
    r"radiation|radiotherapy|chemotherapy|immunotherapy|steroid|corticosteroid|medication|"
    r"product|opioid|alcohol|\w+mab|\w+nib|\w+cillin|\w+mycin|\w+statin|\w+pril|"
    r"\w+sartan|\w+olol|\w+azole|\w+floxacin"
)
_CAUSE_WORD = re.compile(rf"(?:{_CAUSE_WORDS})$")


def _harm_linked(interventions: str) -> re.Pattern[str]:
    """Harm tied to a cause: "post-injection infection", "granulomas after <intervention>"."""
    return _led(
        "abcdghinps",
        rf"\b(?:post-?operative|post-?procedur\w*|post-?injection|post-?surgical|surgical[- ]site|"
        rf"injection[- ]site|procedure[- ]related|device[- ]related|catheter[- ]related|"
        rf"implant[- ]related|procedural|perioperative|intraoperative)\s+(?:\w+\s+){{0,2}}?"
        rf"(?:complications?|infections?|bleeding|ha?emorrhage|granulomas?|abscess(?:es)?|"
        rf"necrosis|scarring|injur(?:y|ies)|events?)\b"
        rf"|\b(?:complications?|infections?|bleeding|ha?emorrhage|granulomas?|abscess(?:es)?|"
        rf"necrosis|scarring|nodules?|deaths?|injur(?:y|ies))\s+(?:\w+\s+){{0,2}}?(?:after|"
        rf"following|from|due to|secondary to|caused by|associated with|related to|induced by|"
        rf"attributed to|at the site of)\s+(?:the |an? |their |his |her )?(?:[\w-]+\s+){{0,2}}?"
        rf"{interventions}\b"
        rf"|\bcomplication rates?\b|\bcomplications? (?:occurred|developed|included|were (?:observed|"
        rf"noted|reported|seen))")


_HARM_LINKED = _harm_linked(_INTERVENTIONS)
_EXPOSURE_TRIGGERS = (
    "exposure", "exposed", "use of", "user", "intake", "consumption", "ingestion", "smoking",
    "treatment with", "therapy with",
)
_LINKED_TRIGGERS = (
    "operative", "procedur", "injection", "surgical", "related", "complication", "infection",
    "bleeding", "morrhage", "granuloma", "abscess", "necrosis", "scarring", "nodule", "death",
    "injur",
)
# Exposure studies: "higher exposure to aldrin was positively associated with hypothyroidism".
# Exposure above a safe limit ("daily intakes exceeded the tolerable daily intake").
_ABOVE_SAFE_LIMIT = re.compile(
    r"\b(?:exceed\w*|above|higher than) (?:the )?(?:tolerable|acceptable|reference|safe|"
    r"permissible|recommended|regulatory|safety) (?:daily |weekly |upper )?(?:intakes?|doses?|"
    r"limits?|levels?|thresholds?|values?)")
_EXPOSURE_HARM = _led(
    "ceistu",
    r"\b(?:exposure|exposed|use of|users?|intake|consumption|ingestion|smoking|treatment with|"
    r"therapy with)\b[^.;]{0,120}?\b(?:positively associated with|associated with (?:an? )?"
    r"(?:increased|higher|elevated|greater|excess)|(?:increased|higher|elevated|greater) "
    r"(?:risk|odds|incidence|prevalence) of)")
_NEGATION_BEFORE = re.compile(
    r"\b(?:no|not|without|none|nobody|neither|nor|never|absence of|absent|free (?:of|from)|"
    r"lack of|lacked|zero|nil|did not|didn't|no evidence of|nor any|rule out|ruled out|"
    r"exclude[ds]?|unclear|unknown)\b")
# Litotes affirm: "adverse events were not uncommon", "not infrequently".
_LITOTES = re.compile(
    r"\s+(?:uncommon|unusual|unexpected|unrelated|infrequent\w*|insignificant|negligible|"
    r"rare(?:ly)?|trivial|only|least|limited to)\b")
# A negated severity says the harm happened: "adverse events were not serious".
_NOT_SEVERE = re.compile(
    r"\s+(?:(?:very|particularly|always)\s+)?(?:serious|severe|life-threatening|permanent|"
    r"persistent|long-lasting|dose-limiting|fatal)\b")
_NEGATION_AFTER = re.compile(
    r"\b(?:(?:was|were|is|are|has been|have been)\s+(?:not|never)\b"
    rf"(?!{_LITOTES.pattern}|{_NOT_SEVERE.pattern})|"
    r"did not (?:occur|develop|arise)|(?:was|were) absent|in none of|occurred in none|"
    r"(?:was|were|is|are|remains?) (?:unclear|unknown|understudied)|"
    r"(?:was|were) (?:ruled out|excluded))")
# Between a harm and a negation after it, these show the negation is about something else:
# "adverse events occurred in 5 patients who were not pretreated".
_AFTER_BLOCK = re.compile(
    r"\b(?:occur(?:red|s)?|develop(?:ed|s)?|experienced|suffered|died|caused|led|resulted|"
    r"required|who|whom|whose)\b")
# Negations of a verb ("did not respond") own the verb right after them (auxiliaries and
# adverbs aside); determiners ("no", "none of") own the verb of the phrase they open.
_VERBAL_NEGATION = frozenset({"not", "never", "did not", "didn't"})
_DETERMINER_NEGATION = frozenset({
    "no", "none", "nobody", "neither", "nor", "zero", "nil", "nor any",
})  # fmt: skip
_PRONOUN_NEGATION = frozenset({"none", "nobody"})
_OCCURRENCE_VERB = re.compile(
    r"\b(?:occur(?:red|s)?|develop(?:ed|s)?|experienc(?:ed?|es)|suffer(?:ed|s)?|died|die|"
    r"had|has|have|show(?:ed|s|n)?|present(?:ed|s)?|report(?:ed|s)?|exhibit(?:ed|s)?|"
    r"sustain(?:ed|s)?|caus(?:ed?|es)|result(?:ed|s)|led|le?ads?|induc(?:ed?|es)|"
    r"requir(?:ed?|es)|was|were|is|are|receiv(?:ed?|es)|underwent|undergo|became|meet|met)\b")
_AUXILIARY_ONLY = re.compile(
    r"\s*(?:(?:been|be|have|has|had|yet|ever|previously|subsequently|further|any longer|"
    r"always|often|usually)\s+)*")
# The noun a determiner negation may carry across its verb to the harm: people ("no patient
# developed …") or an occurrence ("no increase was seen in …", "no cases were reported of …").
_CARRIER = re.compile(
    rf"\b(?:{_PEOPLE[3:-1]}|one|differences?|changes?|increases?|rises?|excess|"
    r"signals?|evidence|signs?|cases?|reports?|episodes?|occurrences?|incidences?|instances?)\b")
# A count of people or a counted subject opens a new statement: "… and 3 patients experienced".
_PEOPLE_COUNT = _led(
    _NUMBER_LEAD,
    rf"\b{_NUMBER}\s+(?:[\w-]+\s+){{0,3}}?{_PEOPLE}\b"
    rf"|\b{_NUMBER}\s+(?:of (?:them|these|those)\s+)?(?:occurred|developed|experienced|"
    r"suffered|died|had|reported|presented)\b")
# Efficacy words coordinated with a harm are a separate conjunct: "lack of efficacy or adverse
# events" does not deny the adverse events. The topic's own benefit words come from
# `[classify] efficacy_terms`.
_EFFICACY_WORDS = r"efficacy|effectiveness|benefit|improvement|response"


def _efficacy_and(words: str) -> re.Pattern[str]:
    return re.compile(rf"\b(?:{words})\s+(?:and|or)\b")


_EFFICACY_AND = _efficacy_and(_EFFICACY_WORDS)
# A list of short noun phrases: the items between commas.
_LIST_ITEM = re.compile(r"\s*(?:(?:or|and|nor)\s+)?(?:[\w-]+\s+){0,3}?(?:(?:or|and|nor)\s+)?"
                        r"(?:[\w-]+\s*)?")
_LIST_COORDINATOR = re.compile(r"\b(?:or|and|nor)\b")
_LIST_TAIL = re.compile(r"\s*(?:,|or\b|and\b|nor\b)")
# A sentence opening with its purpose states an aim, whatever its clauses say.
_PURPOSE_LEAD = re.compile(
    r"(?:[a-z ]{2,40}:\s*)?(?:in order )?to (?:assess|evaluate|determine|investigate|examine|"
    r"explore|compare|monitor|characteri[sz]e|identify|minimi[sz]e|avoid|prevent|reduce|"
    r"mitigate|predict|detect|record|document|quantify|describe)\b")
# Two groups' rates of one outcome side by side: "21.2% of the liposomal group and 23.0% of the
# standard group", "5.9% and 6.4%", "(12% vs 15%)", "61 of 74 participants … and 57 of 74".
# Numbers are read up to six digits (a longer run is no rate, and cannot stall the scan).
_PERCENT = r"(?<![\d.,])(\d{1,6}(?:\.\d{1,3})?)\s?%"
_N_OF_N = r"(?<![\d.,])(\d{1,6})\s*(?:of|/)\s*(\d{1,6})(?![\d.,])"
_RATE_PAIR = _led(
    "0-9",
    rf"{_PERCENT}[^%\d;]{{0,60}}?\b(?:and|vs\.?|versus|compared with)\s+[^%\d;]{{0,40}}?{_PERCENT}"
    rf"|{_N_OF_N}[^;\d]{{0,60}}?\b(?:and|vs\.?|versus|compared with)\s+[^\d;]{{0,20}}?{_N_OF_N}")
_RATE = _led("0-9", rf"{_PERCENT}|{_N_OF_N}")
# A record comparing groups: a placebo, a control arm, randomised arms (not "single-arm", "the
# arms" of a body, "pain control" or "age groups").
_COMPARED = re.compile(
    r"\b(?:placebo|vehicle|sham|comparator|usual care|randomi[sz]\w*|controlled|"
    r"control (?:group|arm|participants|patients|subjects)s?|(?:both|each|either|two|three|treatment|"
    r"study|intervention) (?:groups?|arms?))\b")
# A sentence that states or tests a difference, either way: "mortality was higher with …",
# "fewer … with placebo", "significantly", a P value or a ratio with its confidence interval.
# It is left to the model, as is a sentence of several clauses ("…; two deaths in the drug group
# were attributed to treatment").
_STATED_DIFFERENCE = re.compile(
    r"\b(?:higher|lower|more|fewer|less|increased|decreased|reduced|greater|excess|worse|doubled|"
    r"tripled|(?<!not )(?<!no )significant(?:ly)?|p\s*[<=>≤]|ci|hr|rr|or|irr|(?:hazard|odds|risk|rate) "
    r"ratio|relative risk|but|while|whereas|however|although|except)\b|;")
# How far apart two groups' rates may be and still count as similar (the larger over the smaller).
SIMILAR_RATIO = 1.3
_HEDGE = re.compile(
    r"\b(?:may|might|could|can|potential(?:ly)?|possibl[ey]|theoretical(?:ly)?|whether|if|"
    r"should|would|concerns? (?:about|regarding|over)|to (?:assess|evaluate|determine|"
    r"investigate|examine|explore|compare|monitor|characteri[sz]e|identify|minimi[sz]e|avoid|"
    r"prevent|reduce|mitigate|predict|detect)|aims?|aimed|objectives?|purpose|in order to|"
    r"safety and (?:efficacy|tolerability|feasibility)|efficacy and safety|safety profile|"
    r"well[- ]tolerated|tolerability|safe|minimi[sz]\w+|avoid\w*|prevent\w*|mitigat\w*|"
    r"predict\w*|strateg\w+|unclear|unknown|understudied)\b")
# Did the harm happen, in this record's data? Counts, rates, past-tense occurrence.
_NUMERIC = _led(
    f"n{_NUMBER_LEAD}",
    rf"\b\d+(?:\.\d+)?\s*%|\b{_NUMBER}\s+(?:[\w-]+\s+){{0,4}}?{_PEOPLE}\b"
    r"|\bn\s*=\s*\d")
_AFFIRMATIVE = re.compile(
    r"\b(?:occurred|occurring|developed|experienced|suffered|died|resulted in|led to|caused|"
    r"presented with|(?:was|were|been) (?:associated|observed|reported|noted|seen|found|"
    r"detected|documented|recorded|identified|diagnosed|linked)|(?:increased|higher|elevated|"
    r"greater|excess) (?:risk|incidence|rates?|odds|prevalence|frequency)|increas(?:ed|ing)|"
    r"recalled|warns|after|following|reported|exceeded|(?:more|less) likely to (?:report|"
    r"experience|develop|have))\b")
_HARM = re.compile(rf"\b(?:{_HARM_STRONG})")
_CYTO = re.compile(r"cyto-?toxic|genotoxic|phytotoxic|ecotoxic")
# A title about harms of an intervention ("Safety of long-term proton pump inhibitors"), not
# about the risk of a disease ("... and risk of pancreatic cancer").
def _safety_title(interventions: str) -> re.Pattern[str]:
    return re.compile(
        rf"\b(?:safety of|harms? of|hazards? of|(?:risks?|complications?) (?:of|after|following|"
        rf"from|with) (?:the |an? )?(?:[\w-]+ ){{0,3}}?{interventions}\b)")


_SAFETY_TITLE = _safety_title(_INTERVENTIONS)
_TITLE_NOT_SAFETY = re.compile(
    r"safety and (?:efficacy|tolerability|feasibility|effectiveness|immunogenicity)|"
    r"efficacy and safety|effectiveness and safety")
# A topic term in a title counts when the title ties it to a cause ("… after injection").
_TITLE_LINK = re.compile(
    r"\b(?:after|following|due to|associated|induced|related|caused by|from|treated with|"
    r"post-?(?:injection|operative|procedural|treatment))\b")
_INTEGRITY_TITLE = re.compile(
    r"^\W*(?:retraction(?: note| notice|:| of publication| to)|notice of retraction|retracted\b|"
    r"partial retraction|withdrawn\b|expression of concern|editorial expression of concern)")
_CORRECTED_TITLE = re.compile(
    r"^\W*(?:(?:erratum|errata|corrigendum|correction)(?:\s*(?:to\b|for\b|:|\.|$|\())|"
    r"correction notice|publisher correction|author correction)")
_WHY_STOPPED_SAFETY = re.compile(
    r"\b(?:safety|adverse|side[- ]effects?|toxicit\w*|death|deaths|died|fatal\w*|harm\w*|"
    r"risks?|sae|saes|serious|injur\w*|complications?|dsmb|data (?:and )?safety monitoring)\b")
_WHY_STOPPED_NOT = re.compile(
    r"\bno (?:safety|adverse)|\bnot (?:due to|related to|because of) (?:safety|adverse)|"
    r"\bunrelated to safety\b")
_NO_DESIGN = "no study design, people studied or case described"
# People a harm befalls, as case reports and studies name them ("people" alone is too general).
_TREATED_PEOPLE = frozenset({
    "patient", "patients", "woman", "man", "women", "men", "boy", "girl", "child", "children",
    "infant", "infants", "neonate", "participants", "subjects", "volunteers", "recipients",
})  # fmt: skip
_BOILERPLATE = re.compile(
    r"\b(?:funded by|supported by|sponsored by|clinicaltrials\.gov|trial registration|"
    r"registration numbers?|registered (?:at|with|in)|nct\d{8}|isrctn|prospero|copyright|"
    r"all rights reserved|conflicts? of interest|competing interests?)|©")
# Substrings every boilerplate match contains: a record with none of them skips the search.
_BOILERPLATE_TRIGGERS = ("funded by", "supported by", "sponsored by", "clinicaltrials.gov",
                         "trial registration", "registration number", "registered ", "nct",
                         "isrctn", "prospero", "copyright", "all rights reserved", "conflict",
                         "competing interest", "©")
_REGISTRY_URL = re.compile(r"clinicaltrials\.gov/(?:ct2/show|study)/nct\d{8}")
_NCT = re.compile(r"nct\d{8}")
_WS = re.compile(r"\s+")
_FIRST_WORD = re.compile(r"[\s-]+")


@dataclass(frozen=True)
class _Text:
    """One item's title and abstract, lower-cased and split into sentences once."""

    title: str
    text: str  # "title\nabstract", original case, for quoting
    low: str  # the same, lower-cased (same length unless exotic Unicode; then quotes use it)
    starts: tuple[int, ...]  # sentence start offsets into `low`
    ends: tuple[int, ...]
    sections: tuple[int, ...]  # per sentence: _RESULTS, _AIM or _BACKGROUND

    @cached_property
    def words(self) -> frozenset[str]:
        return frozenset(_WORD.findall(self.low))

    @cached_property
    def design(self) -> str | None:
        """Where the text first names a clinical study design (`_CLINICAL_TEXT`), as a reason;
        read once, whichever kind rule asks first."""
        return _find(_CLINICAL_TEXT, self)

    def sentence_of(self, pos: int) -> int:
        return max(0, bisect.bisect_right(self.starts, pos) - 1)

    def quote(self, index: int, start: int | None = None, end: int | None = None) -> str:
        source = self.text if len(self.text) == len(self.low) else self.low
        s, e = self.starts[index], self.ends[index]
        sentence = source[s:e]
        if start is None:
            return _clip(sentence)
        return _clip(sentence, start - s, (end or start) - s)

    def where(self, index: int) -> str:
        return "title" if index == 0 and self.title else "abstract"


class Classifier:
    """Structured rules and the learned harm model over one item's fields; topic vocabulary
    and thresholds come from `[classify]` settings.

    `model` is the harm-sentence model (default: the one shipped in the package, read once);
    `text_rules=True` scores harm in text with the round-1 regular expressions instead (kept
    for `bench/classify.py`, which measures both on the same folds).
    """

    def __init__(self, settings: ClassifySettings | None = None, *,
                 model: SafetyModel | None = None, text_rules: bool = False):
        self.settings = settings = settings or ClassifySettings()
        self.model = None if text_rules else (model or safety_model.shipped()).without(
            settings.condition_terms)
        shipped = self.model.thresholds if self.model else safety_model.Thresholds(0.5, 0.5)
        # Case reports have the model's thresholds of their own; a threshold set in [classify]
        # holds for every kind.
        self.safety_threshold, self.review_threshold = _configured(shipped.safety, shipped.review, settings)
        self.case_safety_threshold, self.case_review_threshold = _configured(
            *shipped.for_case_reports(), settings)
        self._extra_harm = _terms_pattern(settings.safety_terms)
        self._clinical_terms = _terms_pattern(settings.clinical_terms)
        self._case_terms = _terms_pattern(settings.case_report_terms)
        self._condition_terms = _terms_pattern(settings.condition_terms)
        self._extra_triggers = tuple(_FIRST_WORD.split(t.strip().lower())[0]
                                     for t in settings.safety_terms if t.strip())
        # The topic's interventions join the built-in ones wherever harm needs a cause.
        topic = _terms_alternation(settings.intervention_terms)
        if topic is None:
            self._harm_linked, self._safety_title = _HARM_LINKED, _SAFETY_TITLE
            self._cause_word = _CAUSE_WORD
        else:
            interventions = rf"(?:{_INTERVENTIONS}|{topic})"
            self._harm_linked = _harm_linked(interventions)
            self._safety_title = _safety_title(interventions)
            self._cause_word = re.compile(rf"(?:{_CAUSE_WORDS}|{topic})$")
        efficacy = _terms_alternation(settings.efficacy_terms)
        self._efficacy_and = _EFFICACY_AND if efficacy is None else _efficacy_and(
            f"{_EFFICACY_WORDS}|{efficacy}")
        self.identity = _identity(self.model, self._thresholds_named(), settings)

    def thresholds_for(self, kind: Kind) -> tuple[float, float]:
        """(safety, review) thresholds for a record of `kind`."""
        if kind == "case_report":
            return self.case_safety_threshold, self.case_review_threshold
        return self.safety_threshold, self.review_threshold

    def _thresholds_named(self) -> str:
        named = f"{self.safety_threshold:.3f}/{self.review_threshold:.3f}"
        case = (self.case_safety_threshold, self.case_review_threshold)
        return named if case == (self.safety_threshold, self.review_threshold) else \
            f"{named}, case reports {case[0]:.3f}/{case[1]:.3f}"

    def classify(self, item: Item) -> Classification:
        """Label one item; the same item always gets the same labels and reasons."""
        text = _split(item)
        integrity, corrected = _integrity(item, text)
        nonhuman = item.trial is None and _nonhuman(item, text)
        kind, kind_reasons = self._kind(item, text, nonhuman=nonhuman)
        safety_threshold, review_threshold = self.thresholds_for(kind)
        if self.model is None:
            safety, safety_reasons = self._safety(item, text, kind, nonhuman=nonhuman)
            score, evidence = (1.0 if safety else 0.0), safety_reasons
        else:
            # Half weight for the abstract of what is known not to be a primary study; a record
            # the kind rules could not place keeps its full weight if it speaks of people.
            secondary = kind == "other" and (kind_reasons != [_NO_DESIGN]
                                             or not text.words & _TREATED_PEOPLE)
            score, scored = self._safety_score(item, text, kind, nonhuman=nonhuman, secondary=secondary)
            score = round(score, 3)  # what is shown is what is decided
            safety = score >= safety_threshold
            possible = not safety and score >= review_threshold
            label = "safety" if safety else "possible safety signal"
            safety_reasons = [_fit(f"{label} {score:.2f} — ", scored[0][1])] if scored and \
                (safety or possible) else []
            if item.trial is not None:  # every registry reason, as the registry states it
                safety_reasons = [f"safety {score:.2f}"] * safety + _registry_safety(item)[1]
            evidence = [f"{why} ({s:.2f})" for s, why in scored]
        possible = self.model is not None and not safety and score >= review_threshold
        return Classification(kind=kind, safety=safety, integrity=bool(integrity),
                              reasons=tuple(integrity + corrected + kind_reasons + safety_reasons),
                              corrected=bool(corrected), safety_score=score,
                              possible_safety=possible, evidence=tuple(evidence[:3]),
                              labeller=self.identity)

    # --- safety: structured evidence and the learned model ----------------------------------

    def _safety_score(self, item: Item, text: _Text, kind: Kind, *, nonhuman: bool,
                      secondary: bool) -> tuple[float, list[tuple[float, str]]]:
        """The record's safety score and its evidence, strongest first. Structured fields
        score fixed amounts (a trial stopped for safety or posting adverse events: 0.95; MeSH
        adverse-effect indexing of a case report: 0.90; a harm matched by the sentence rules:
        0.80); the learned model scores each sentence, a background or aim sentence at half
        weight, and so every abstract sentence of a `secondary` record (a review, editorial,
        notice: kind other on evidence), and the record's text together; the text scores the
        geometric mean of its strongest sentence (or rule) and the record model. The record
        takes the strongest of text and indexing."""
        if item.trial is not None:  # a registry record: its fields, not its plans in prose
            harmed, reasons = _registry_safety(item)
            return (REGISTRY_SCORE, [(REGISTRY_SCORE, r) for r in reasons]) if harmed else (0.0, [])
        if _registry_in_feed(item):  # a feed's registry entry states plans and no fields
            return 0.0, []
        if kind == "other" and nonhuman:
            return 0.0, []
        assert self.model is not None
        review = self.thresholds_for(kind)[1]
        scored = []
        ids: list[int] = []  # every scored sentence's features, for the record model
        boilerplate = any(t in text.low for t in _BOILERPLATE_TRIGGERS)
        for index, (start, end) in enumerate(zip(text.starts, text.ends, strict=True)):
            if boilerplate and _BOILERPLATE.search(text.low, start, end):
                continue  # funding, registration, copyright: no finding of this record
            score, sentence_ids = self.model.scored(text.text[start:end])
            ids += sentence_ids
            is_title = index == 0 and bool(text.title)
            # A review, editorial or notice counts harm that is its subject (its title, as the
            # labelling guide has it); its abstract speaks at half weight, like a background.
            # So does a sentence that opens with its purpose ("To assess safety, adverse
            # events were recorded…"): an aim or a method, not a finding.
            if text.sections[index] != _RESULTS or (secondary and not is_title) or \
                    (not is_title and _PURPOSE_LEAD.match(text.low, start) is not None) or \
                    _similar_in_both_arms(text.low, start, end):
                score *= BACKGROUND_WEIGHT
            scored.append((score, index))
        scored.sort(key=lambda pair: (-pair[0], pair[1]))
        sentences = [(score, f"{text.where(i)}: '{text.quote(i)}'")
                     for score, i in scored[:2] if score >= review]
        strongest = scored[0][0] if scored else 0.0
        mesh = _mesh_safety(item)
        indexed = [(MESH_CASE_SCORE, m) for m in mesh[:2]] if mesh and kind == "case_report" else []
        # The round-1 sentence rules: few harms match them, but what does is stated as having
        # happened, past their negation and hedge checks ("…; however, 5 of 30 patients
        # reported side effects").
        # They cannot raise a score already above theirs, so they run only below it.
        rules: list[tuple[float, str]] = []
        if max([strongest] + [e[0] for e in indexed]) < TEXT_RULE_SCORE:
            hits, _ = self._text_safety(text, primary=kind != "other")
            rules = [(TEXT_RULE_SCORE, f"{hit} (sentence rules)") for hit in hits[:1]]
        said = max([strongest] + [e[0] for e in rules])
        # What the text of an abstract says is the geometric mean of its strongest sentence and
        # the record model's reading of all of it: one harm-worded sentence in an abstract about
        # something else counts for less, harm told across several sentences for more. Indexing
        # (MeSH) is no text and keeps its score.
        whole = self.model.record_score(ids) if len(scored) >= RECORD_MODEL_SENTENCES else None
        if whole is not None:
            said = math.sqrt(said * whole)
        best = max([said] + [e[0] for e in indexed])
        if scored and not sentences and best >= review:
            # the record model lifted it: quote its strongest sentence all the same
            sentences = [(scored[0][0], f"{text.where(scored[0][1])}: '{text.quote(scored[0][1])}'")]
        evidence = sorted(sentences + indexed + rules, key=lambda pair: -pair[0])
        if whole is not None:
            evidence.append((whole, "title and abstract together"))
        return best, evidence

    # --- kind ------------------------------------------------------------------------------

    def _kind(self, item: Item, text: _Text, *, nonhuman: bool) -> tuple[Kind, list[str]]:
        types = set(item.publication_types)
        if _is_notice(item, text):
            return "other", ["a notice about another record (erratum, retraction or concern)"]
        spec = registry.get(item.source)
        if item.trial is not None or (spec is not None and spec.registry_records):
            return "clinical", [_registry_reason(item)]
        if _registry_in_feed(item):
            return "clinical", [f"registry record in a feed: {_clip(item.url or item.id)}"]
        if types & CASE_REPORT_TYPES:
            series = _series_size(text)
            if series >= 4:
                return "clinical", ["publication type: Case Reports",
                                    f"a series of {series} patients (4 or more: clinical)"]
            return "case_report", ["publication type: Case Reports"]
        clinical_types = sorted(types & CLINICAL_TYPES)
        other_types = types & OTHER_TYPES
        firm_other = sorted(other_types - SOFT_OTHER_TYPES)
        if clinical_types and not firm_other:
            return "clinical", [f"publication type: {pt}" for pt in clinical_types[:2]]
        tagged = [f"publication type: {pt}" for pt in sorted(other_types)[:2]]
        if other_types and other_types <= REVIEW_TYPES:
            primary = _find(_PRIMARY_DATA, text, ("we ", "study "))
            if primary:
                return "clinical", [*tagged, f"{primary} (primary data)"]
        if firm_other:
            return "other", tagged
        if nonhuman:
            return "other", [_nonhuman_reason(item, text)]
        case = self._case_hit(text)
        series = _series_size(text) if case else 0
        if case and series < 4:
            return "case_report", [f"{case} (one to three patients)"]
        if "Review" in types:
            return "other", tagged
        if case:
            return "clinical", [case, f"a series of {series} patients (4 or more: clinical)"]
        return self._kind_from_text(item, text)

    def _kind_from_text(self, item: Item, text: _Text) -> tuple[Kind, list[str]]:
        """Untagged records: a study design or counted people, about health, not a review."""
        firm = _FIRM_OTHER_TITLE.search(text.low, 0, len(text.title)) if text.title else None
        if firm:
            return "other", [f"title: '{text.quote(0)}' (review or protocol)"]
        stated = _find(_FIRM_OTHER_TEXT, text, _FIRM_OTHER_TRIGGERS)
        if stated:
            return "other", [f"{stated} (review or protocol)"]
        design = text.design or (
            _find(self._clinical_terms, text) if self._clinical_terms else None)
        sample = _find(_SAMPLE, text, findings_only=True) or (
            _find(_SAMPLE_N, text, findings_only=True) if "(n" in text.low else None)
        if design or sample:
            survey = _find(_PROFESSIONAL_SURVEY, text, ("survey", "questionnaire", "interview",
                                                        "completed", "answered", "responded"))
            if survey and _mostly_professionals(text):
                return "other", [f"{survey} (survey of professionals, not patient data)"]
        people = bool(design) and not text.words.isdisjoint(_PERSON_WORDS)
        if people and sample:  # a design and counted people: whatever else the text says
            return "clinical", [f"{design} (study design)"]
        review = _find(_REVIEW_TEXT, text, ("review", "meta-anal", "guideline", "consensus",
                                            "protocol", "we ", "in this "))
        if people and not review:
            return "clinical", [f"{design} (study design)"]
        # A title that names its design ("…: a pilot study", "a clinical cohort study") is
        # clinical about health even when the record has no abstract to count people in.
        if design and design.startswith("title:") and not review and self._about_health(text):
            return "clinical", [f"{design} (study design)"]
        if sample and not review and self._about_health(text):
            software = _find(_SOFTWARE, text)
            if software:
                return "other", [f"{software} (software or data resource)"]
            if not design and _most_counted(text) <= 3 and not _GROUP_COUNT.search(text.low):
                # "in two patients", and nothing else counted: cases, not a study
                return "case_report", [f"{sample} (one to three patients)"]
            return "clinical", [f"{sample} (people studied)"]
        if not review and (counted := _find(_COUNTED_STUDY, text, findings_only=True)) \
                and self._about_health(text):
            return "clinical", [f"{counted} (people or procedures studied)"]
        mesh_design = sorted(m.descriptor for m in item.mesh
                             if m.descriptor in CLINICAL_DESIGN_MESH)
        if mesh_design and not review:
            return "clinical", [f"MeSH: {mesh_design[0]} (study design)"]
        if review:
            return "other", [f"{review} (review or opinion)"]
        return "other", [_NO_DESIGN]

    def _about_health(self, text: _Text) -> bool:
        if text.words & _HEALTH_WORDS:
            return True
        if any(len(w) > 5 and w.endswith(_MEDICAL_SUFFIXES) for w in text.words):
            return True  # "tonsillectomy", "colonoscopy", "haemorrhage", "myopia"
        return self._condition_terms is not None and \
            self._condition_terms.search(text.low) is not None

    def _case_hit(self, text: _Text) -> str | None:
        hit = _find(_CASE_TEXT, text, _CASE_TRIGGERS)
        if hit is None and text.title:
            m = _CASE_TITLE.search(text.low, 0, len(text.title))
            hit = f"title: '{text.quote(0)}'" if m and "single" not in m.group() else None
        if hit is None and self._case_terms is not None:
            hit = _find(self._case_terms, text)
        if hit is None and not text.words.isdisjoint(_ONE_PATIENT_WORDS):
            hit = _find(_ONE_PATIENT, text, findings_only=True)
            if hit and (_most_counted(text) > 3 or _GROUP_COUNT.search(text.low)) \
                    and text.design:
                hit = None  # "one patient developed …" in a trial of 120 children: its outcome
        if hit is None and (not text.words.isdisjoint(("she", "he")) or "cases of" in text.low
                            or "case reports of" in text.low) \
                and not text.design and _most_counted(text) <= 3 \
                and not _GROUP_COUNT.search(text.low) and not _REVIEW_TEXT.search(text.low):
            hit = _find(_TOLD_OF_FEW, text, findings_only=True)
        return hit

    # --- safety ----------------------------------------------------------------------------

    def _safety(self, item: Item, text: _Text, kind: Kind, *,
                nonhuman: bool) -> tuple[bool, list[str]]:
        """Text must say harm happened; MeSH adverse-effect qualifiers decide alone only for
        case reports (indexers put them on every trial that tabulates adverse events)."""
        if item.trial is not None:
            return _registry_safety(item)
        if kind == "other" and nonhuman:
            return False, []
        mesh = _mesh_safety(item)
        hits, doubted = self._text_safety(text, primary=kind != "other")
        if hits or (mesh and kind == "case_report"):
            return True, (mesh[:2] + hits[:2])
        return False, doubted[:1]

    def _text_safety(self, text: _Text, *, primary: bool) -> tuple[list[str], list[str]]:
        """Harm stated as having happened; negated, hedged or background mentions set aside."""
        hits: list[str] = []
        doubted: list[str] = []
        low, title_end = text.low, len(text.title)
        if text.title and self._safety_title.search(low, 0, title_end) \
                and not _TITLE_NOT_SAFETY.search(low, 0, title_end) \
                and not _NEGATION_BEFORE.search(low, 0, title_end):
            hits.append(f"title: '{text.quote(0)}'")
        counted: set[int] = set()
        for start, end, topic_term in self._harm_mentions(text, primary=primary):
            # Every mention is weighed on its own: a negated one does not silence the next
            # ("No serious adverse events occurred, but two patients developed anaphylaxis").
            index = text.sentence_of(start)
            if index in counted:
                continue
            s, e = text.starts[index], text.ends[index]
            is_title = index == 0 and bool(text.title)
            if is_title and topic_term and not _TITLE_LINK.search(low, s, e):
                continue  # a topic term in a title needs an intervention ("… after injection")
            quote = f"'{text.quote(index, start, end)}'"
            why_not = _why_not_real(low, s, e, start, end, title=is_title,
                                    section=text.sections[index], efficacy=self._efficacy_and)
            if why_not:
                doubted.append(f"not counted ({why_not}): {quote}")
                continue
            counted.add(index)
            hits.append(f"{text.where(index)}: {quote}")
            if len(hits) >= 2:
                break
        return _unique(hits), _unique(doubted)

    def _harm_mentions(self, text: _Text, *, primary: bool) -> list[tuple[int, int, bool]]:
        """(start, end, is a topic term) of every harm phrase, in text order. Exposure-outcome
        associations count only in primary studies: in reviews they summarise others' work."""
        low = text.low
        spans = [(m.start(), m.end(), False) for m in _around(_HARM, low, _HARM_TRIGGERS, 40, 60)
                 if not _CYTO.match(low, m.start())]
        spans += [(m.start(), m.end(), False) for m in _around(_HARM_ABBREV, low, ("ae",), 3, 3)]
        spans += [(m.start(), m.end(), False)
                  for m in _around(self._harm_linked, low, _LINKED_TRIGGERS, 40, 160)]
        for m in _around(_CAUSED_BY, low, ("induced", "related", "associated"), 2, 80):
            before = low[max(0, m.start() - 30):m.start()].split()
            if before and self._cause_word.search(before[-1]):
                spans.append((m.start() - len(before[-1]), m.end(), False))
        if primary:
            spans += [(m.start(), m.end(), False)
                      for m in _around(_EXPOSURE_HARM, low, _EXPOSURE_TRIGGERS, 2, 240)]
        spans += [(m.start(), m.end(), False) for m in
                  _around(_ABOVE_SAFE_LIMIT, low, ("exceed", "above", "higher than"), 2, 80)]
        if self._extra_harm is not None:
            spans += [(m.start(), m.end(), True)
                      for m in _around(self._extra_harm, low, self._extra_triggers, 2, 80)]
        return sorted(set(spans))


def _configured(safety: float, review: float, settings: ClassifySettings) -> tuple[float, float]:
    """(safety, review) thresholds: the model's, unless `[classify]` sets them; review never above safety."""
    safety = safety if settings.safety_threshold is None else settings.safety_threshold
    return safety, min(safety, review if settings.review_threshold is None else settings.review_threshold)


def _identity(model: SafetyModel | None, thresholds: str, settings: ClassifySettings) -> str:
    """What names a classifier in the labels it gives: the litwatch release and the code of its
    rules, the model file, the thresholds and the topic's `[classify]` terms. Another of any of
    them may label a record otherwise (`litwatch reclassify`)."""
    terms = hashlib.sha256(repr(settings).encode()).hexdigest()[:8]
    weights = "round-1 rules" if model is None else f"model {str(model.meta.get('sha256') or 'unsaved')[:12]}"
    return f"litwatch {__version__} (rules {rules_digest()}), {weights}, thresholds {thresholds}, terms {terms}"


RULE_MODULES = ("classify.py", "corrections.py", "safety_model.py")  # the code that decides labels


@lru_cache(maxsize=4)
def rules_digest(folder: Path = Path(__file__).parent, names: tuple[str, ...] = RULE_MODULES) -> str:
    """A digest of the code that decides labels: a change to a rule or to how the model reads a
    sentence names another classifier, whatever the release number says."""
    digest = hashlib.sha256()
    for name in names:
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()[:8]


def classify(item: Item, settings: ClassifySettings | None = None) -> Classification:
    """Classify one item with the built-in rules plus `settings`' topic terms."""
    return _classifier(ClassifySettings() if settings is None else settings).classify(item)


@lru_cache(maxsize=16)
def _classifier(settings: ClassifySettings) -> Classifier:
    """One classifier per settings: topic terms compile into patterns once, not per item."""
    return Classifier(settings)


# --- helpers ---------------------------------------------------------------------------------

def sentences(item: Item) -> tuple[str, ...]:
    """The item's title (first, when it has one) and abstract sentences, split as the
    classifier splits and scores them."""
    text = _split(item)
    return tuple(text.text[s:e] for s, e in zip(text.starts, text.ends, strict=True))


def _split(item: Item) -> _Text:
    title = _WS.sub(" ", item.title).strip()
    abstract = item.abstract.strip()
    if "  " in abstract or "\t" in abstract or "\r" in abstract:
        abstract = _SPACES.sub(" ", abstract)
    parts = [title] if title else []
    sections = [_RESULTS] if title else []
    section, cut = _RESULTS, 0
    ends = [m.end() if m.group() != "\n" else m.start() for m in _SENTENCE_END.finditer(abstract)]
    for end in [*ends, len(abstract)]:
        sentence = abstract[cut:end].strip()
        cut = end
        if not sentence:
            continue
        if sentence[0].isupper():
            label = _SECTION_LABEL.match(sentence)
            if label:
                section = _SECTION_KINDS.get(label.group(1).strip().lower(), _RESULTS)
        parts.append(sentence)
        sections.append(section)
    starts, pos = [], 0
    for part in parts:
        starts.append(pos)
        pos += len(part) + 1
    text = "\n".join(parts)
    return _Text(title=title, text=text, low=text.lower(), starts=tuple(starts),
                 ends=tuple(start + len(part) for start, part in zip(starts, parts, strict=True)),
                 sections=tuple(sections))


def _find(pattern: re.Pattern[str], text: _Text, triggers: tuple[str, ...] = (), *,
          findings_only: bool = False) -> str | None:
    """Where a pattern first matches, as a reason: "abstract: '…matched words…'"."""
    if triggers and not any(t in text.low for t in triggers):
        return None
    for m in pattern.finditer(text.low):
        index = text.sentence_of(m.start())
        if findings_only and text.sections[index] == _BACKGROUND:
            continue
        return f"{text.where(index)}: '{text.quote(index, m.start(), m.end())}'"
    return None


def _around(pattern: re.Pattern[str], low: str, anchors: Iterable[str], before: int,
            after: int) -> list[re.Match[str]]:
    """Matches of `pattern` in windows around each anchor substring (every match of the
    pattern contains one, starting at most `before` characters ahead of it and ending at most
    `after` characters past it). str.find is far faster than scanning the whole text."""
    windows = []
    for anchor in anchors:
        i = low.find(anchor)
        while i != -1:
            windows.append((max(0, i - before), i + len(anchor) + after))
            i = low.find(anchor, i + len(anchor))
    if not windows:
        return []
    windows.sort()
    merged = [list(windows[0])]
    for start, end in windows[1:]:
        if start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    found: list[re.Match[str]] = []
    for lo, hi in merged:
        # Widen to whole words so that the window edges are not mistaken for word boundaries.
        whi = low.find(" ", hi)
        found += pattern.finditer(low, low.rfind(" ", 0, lo) + 1, len(low) if whi == -1 else whi)
    return found


def _clause_start(low: str, s: int, start: int, end: int) -> tuple[int, bool]:
    """Where the clause holding the harm at [start, end) begins, and whether the harm is an
    item of a list that began earlier ("no fever, rash or adverse events"): list commas do
    not end the clause."""
    lo = max(s, start - 120)
    breaks = list(_CLAUSE_BREAK.finditer(low, lo, start))
    listed = bool(_LIST_TAIL.match(low, end))
    nxt, skipped = start, False
    for b in reversed(breaks):
        item = low[b.end():nxt]
        if b.group() == "," and _LIST_ITEM.fullmatch(item) and not _PEOPLE_COUNT.search(item) \
                and not _OCCURRENCE_VERB.search(item):
            listed = listed or bool(_LIST_COORDINATOR.search(item))
            if listed:
                nxt, skipped = b.start(), True
                continue
        return b.end(), skipped
    return lo, skipped


def _clause_end(low: str, e: int, end: int, *, commas: bool = True) -> int:
    """Where the clause holding the harm ends. Without `commas`, a parenthetical stays in:
    "adverse events, such as rash, were not observed"."""
    for m in _CLAUSE_BREAK.finditer(low, end, e):
        if commas or m.group() != ",":
            return m.start()
    return e


def _negated(low: str, s: int, e: int, start: int, end: int,
             efficacy: re.Pattern[str]) -> bool:
    """A negation that governs the harm words: in their clause, before them and not cut off
    by another verb or a new counted subject, or right after them ("were not observed")."""
    cs, listed = _clause_start(low, s, start, end)
    if low.endswith(("non-", "non "), cs, start):
        return True  # "non-toxic"; "non-serious adverse events" are still adverse events
    negations = [m for m in _NEGATION_BEFORE.finditer(low, max(cs, start - 90), start)
                 if not _LITOTES.match(low, m.end())]
    for m in reversed(negations):
        word = m.group()
        if listed and word not in _DETERMINER_NEGATION and "," in low[m.end():start]:
            # Only a determiner opens a negated list ("no fever, rash or adverse events");
            # "Without benefit, adverse events or deaths occurred" denies the benefit alone.
            continue
        if _reaches(low[m.end():start], word, efficacy):
            return True
    limit = min(_clause_end(low, e, end, commas=False), end + 70)
    after = _NEGATION_AFTER.search(low, end, limit)
    if after is None:
        return False
    gap = low[end:after.start()]
    return not _AFTER_BLOCK.search(gap) and not _PEOPLE_COUNT.search(gap)


def _reaches(gap: str, negation: str, efficacy: re.Pattern[str]) -> bool:
    """Does a negation reach the harm across `gap`, the words between them? Not across an
    efficacy conjunct, a new counted subject, or a verb other than the negation's own."""
    if efficacy.search(gap):
        return False
    verbs = list(_OCCURRENCE_VERB.finditer(gap))
    if not verbs:
        return not _PEOPLE_COUNT.search(gap)
    verb = verbs[0]
    head, tail = gap[:verb.start()], gap[verb.end():]
    if len(verbs) > 1 or _PEOPLE_COUNT.search(tail):
        return False
    if negation in _VERBAL_NEGATION:
        if _AUXILIARY_ONLY.fullmatch(head):
            return True  # "did not develop adverse events"
        # "not a single participant developed …", "not one patient had …"
        return negation == "not" and re.match(r"\s*(?:a single|one|any)\b", head) is not None \
            and _CARRIER.search(head) is not None
    if negation in _DETERMINER_NEGATION:
        if len(head.split()) > 7:
            return False
        # "none of the 20 patients experienced …", "nobody had …", "no patient developed …"
        return negation in _PRONOUN_NEGATION or _CARRIER.search(head) is not None
    return False


def _hedged(low: str, s: int, e: int, start: int, end: int) -> bool:
    """A hedge in the harm's own clause, or a purpose opening the sentence; a count of people
    in that clause outweighs a hedge ("may … in 12% of patients")."""
    if _PURPOSE_LEAD.match(low, s):
        return _NUMERIC.search(low, s, e) is None
    cs, _ = _clause_start(low, s, start, end)
    ce = _clause_end(low, e, end)
    return _HEDGE.search(low, cs, ce) is not None and _NUMERIC.search(low, cs, ce) is None


def _similar_in_both_arms(low: str, s: int, e: int) -> bool:
    """The sentence `low[s:e]`, of one clause, in a record that compares groups, gives its rates
    in pairs side by side, every pair similar ("adverse events in 21.2% of the liposomal group
    and 23.0% of the standard group"): harm both arms had, not harm a treatment caused. One rate
    well above the other ("fatigue 12.0% vs 4.1%"), harm in one group and none in the other, a
    rate left unpaired, or a difference stated or tested (a P value, a ratio) is not similar."""
    pairs = [m.groups() for m in _RATE_PAIR.finditer(low, s, e)]
    if not pairs or _COMPARED.search(low) is None or _STATED_DIFFERENCE.search(low, s, e):
        return False
    if len(_RATE.findall(low, s, e)) != 2 * len(pairs):  # a third rate, unpaired: a third arm
        return False
    for a, b, n1, d1, n2, d2 in pairs:
        if a is not None:
            x, y = float(a), float(b)
        else:
            if not int(d1) or not int(d2):
                return False
            x, y = int(n1) / int(d1), int(n2) / int(d2)
        low_rate, high_rate = min(x, y), max(x, y)
        if high_rate and (not low_rate or high_rate > SIMILAR_RATIO * low_rate):
            return False
    return True


def _why_not_real(low: str, s: int, e: int, start: int, end: int, *, title: bool,
                  section: int, efficacy: re.Pattern[str]) -> str:
    """Why a harm mention does not count ("negated", "hedged", ...); "" when it does."""
    if _negated(low, s, e, start, end, efficacy):
        return "negated"
    if title:
        return ""
    if section != _RESULTS:
        return "background or aim"
    if _hedged(low, s, e, start, end):
        return "hedged"
    if _similar_in_both_arms(low, s, e):
        return "similar in both arms"
    if _NUMERIC.search(low, s, e) or _AFFIRMATIVE.search(low, s, e):
        return ""
    return "not stated as observed"


def _registry_in_feed(item: Item) -> bool:
    spec = registry.get(item.source)
    if spec is None or not spec.may_list_registry_records:
        return False
    where = " ".join((item.url, *item.links, *item.alt_urls)).lower()
    return bool(_REGISTRY_URL.search(where) or _NCT.fullmatch(item.id.strip().lower()))


def _series_size(text: _Text) -> int:
    if not any(t in text.low for t in ("we ", "series", "total of", "cohort of", "consecutive",
                                       "adult", "pediatric", "paediatric")):
        return 0
    best = 0
    for m in _SERIES_COUNT.finditer(text.low):
        best = max(best, _number(m.group(1) or m.group(2) or ""))
    return best


def _number(word: str) -> int:
    """A count written in digits ("1,200") or words ("twelve", "a dozen"); 0 if it is none."""
    word = word.replace(",", "")
    return int(word) if word.isdigit() else _WORD_NUMBERS.get(word, 0)


# Four or more of what a study counts besides people: "2,000 procedures", "11 admissions".
_COUNTED_THINGS = (r"(?:procedures|admissions|cases|operations|visits|records|biopsies|eyes|episodes|"
                   r"injections|sessions|samples|specimens|encounters|prescriptions|reports)")
_GROUP_COUNT = re.compile(
    rf"\b(?:[4-9]|\d{{2,}}|\d{{1,3}}(?:,\d{{3}})+)\s+(?:[\w-]+\s+)?{_COUNTED_THINGS}\b"
    # a rate of a group ("4% of biopsies", "in 12% of the cohort", "12 (40%)", "from 49.8% to
    # 35.1%"), not a strength, a level or a share of cells ("5% cream", "90% of the cells")
    rf"|\d\s?%\s+(?:of|in)\s+(?:(?:the|all|our|these|those)\s+)?(?:[\w'-]+\s+){{0,2}}?"
    rf"(?:{_PERSONS}|{_COUNTED_THINGS}|(?:cohort|sample|population|group|arm)s?)\b"
    r"|\d\s?%\s+(?:to|vs|versus)\b|\d\s*\(\s*\d+(?:[.,]\d+)?\s?%")


def _most_counted(text: _Text) -> int:
    """The largest count of people the text gives ("4 patients", "twelve women", "3 of 120
    patients": 120); a count it cannot read ("one hundred", "4.2 million") counts as four."""
    best = 0
    low = text.low
    for m in _SAMPLE.finditer(low):
        if m.start() and low[m.start() - 1] in "-.,":  # "forty-one", "4.2 million", "1,200"
            return 4
        words = m.group().replace("(", " ").replace("=", " ").replace(")", " ").split()
        if _LARGE_NUMBER.intersection(words):
            return 4
        counted = max(_number(" ".join(words[:2])), *map(_number, words))  # "a dozen", "3 of 120"
        best = max(best, counted or 4)
    return best


_LARGE_NUMBER = frozenset({"hundred", "hundreds", "thousand", "thousands", "million", "millions"})


def _mostly_professionals(text: _Text) -> bool:
    """Professionals are named more often than patients or lay people."""
    professionals = len(_PROFESSIONALS.findall(text.low))
    lay = sum(map(_PERSON_WORDS.__contains__, _WORD.findall(text.low)))
    return professionals > lay


def _nonhuman(item: Item, text: _Text) -> bool:
    descriptors = {m.descriptor for m in item.mesh}
    animals = bool(descriptors & ANIMAL_MESH)
    if animals and "Humans" not in descriptors:
        return True
    if animals:  # both: counted people make it a human study, else the more-named subject
        if _SAMPLE.search(text.low):
            return False
        words = _WORD.findall(text.low)
        animal_words = sum(map(_NONHUMAN_WORDS.__contains__, words))
        return animal_words > sum(map(_PERSON_WORDS.__contains__, words))
    if "Humans" in descriptors:
        return False
    nonhuman = len(text.words & _NONHUMAN_WORDS)
    return nonhuman >= 2 and nonhuman > 2 * len(text.words & _HUMAN_WORDS)


def _nonhuman_reason(item: Item, text: _Text) -> str:
    descriptors = {m.descriptor for m in item.mesh}
    if descriptors & ANIMAL_MESH:
        if "Humans" in descriptors:
            return "MeSH: Animals and Humans, text mostly about animals (not a human study)"
        return "MeSH: Animals without Humans (not a human study)"
    words = ", ".join(sorted(text.words & _NONHUMAN_WORDS)[:3])
    return f"text: {words} and no patients (not a human study)"


def _is_notice(item: Item, text: _Text) -> bool:
    if set(item.publication_types) & corrections.NOTICE_TYPES:
        return True
    if any(c.type in corrections.NOTICE_LINKS for c in item.corrections):
        return True
    title = text.title.lower()
    return not item.abstract.strip() and (_INTEGRITY_TITLE.search(title) is not None
                                          or _CORRECTED_TITLE.search(title) is not None)


def _integrity(item: Item, text: _Text) -> tuple[list[str], list[str]]:
    """Reasons for the two tiers: (integrity, corrected), from publication types,
    CommentsCorrections and, for a record with neither, a notice's title."""
    tiers: dict[str, list[str]] = {"integrity": [], "corrected": []}
    for pt in item.publication_types:
        tier = corrections.tier_of_type(pt)
        if tier:
            tiers[tier].append(f"publication type: {pt}")
    for c in item.corrections:
        tier = corrections.tier_of_link(c.type)
        if tier:
            ref = f" (PMID {c.pmid})" if c.pmid else (f" ({_clip(c.ref)})" if c.ref else "")
            tiers[tier].append(f"CommentsCorrections: {c.type}{ref}")
    title = text.title.lower()
    if not tiers["integrity"] and _INTEGRITY_TITLE.search(title):
        tiers["integrity"].append(f"title: '{_clip(text.title)}'")
    elif not tiers["corrected"] and not tiers["integrity"] and _CORRECTED_TITLE.search(title):
        tiers["corrected"].append(f"title: '{_clip(text.title)}'")
    return _unique(tiers["integrity"])[:3], _unique(tiers["corrected"])[:3]


def _mesh_safety(item: Item) -> list[str]:
    reasons = []
    for m in item.mesh:
        quals = [q for q in m.qualifiers if q in SAFETY_QUALIFIERS]
        star = " (major topic)" if m.major else ""
        if quals:
            reasons.append(f"MeSH: {m.descriptor} / {quals[0]}{star}")
        elif m.descriptor in SAFETY_DESCRIPTORS:
            reasons.append(f"MeSH: {m.descriptor}{star}")
    reasons.sort(key=lambda r: not r.endswith("(major topic)"))
    return reasons


def _registry_reason(item: Item) -> str:
    t = item.trial
    if t is None:
        return "registry record"
    parts = [f"registry record: {t.study_type.lower() or 'study'}"]
    phases = [p for p in t.phases if p and p.upper() != "NA"]
    if phases:
        parts.append(f"({', '.join(phases)})")
    if t.status:
        parts.append(f"status {t.status}")
    return " ".join(parts)


def _registry_safety(item: Item) -> tuple[bool, list[str]]:
    """A trial stopped for safety, or posted results whose adverse-event counts show harm."""
    t = item.trial
    if t is None:
        return False, []
    stopped, stopped_reasons = _stopped_safety(t)
    harmed, results_reasons = _results_safety(t)
    return stopped or harmed, stopped_reasons + results_reasons


def _stopped_safety(t: TrialInfo) -> tuple[bool, list[str]]:
    if not t.why_stopped:
        return False, []
    why, status = t.why_stopped.lower(), t.status.upper()
    if status in STOPPED_STATUSES and _WHY_STOPPED_SAFETY.search(why) \
            and not _WHY_STOPPED_NOT.search(why):
        return True, [f"trial {status}, why stopped: '{_clip(t.why_stopped)}'"]
    return False, [f"trial {status or 'stopped'} for another reason: '{_clip(t.why_stopped)}'"]


def _results_safety(t: TrialInfo) -> tuple[bool, list[str]]:
    """Harm is any participant with a serious or other adverse event, or a death (the
    labelling guide counts adverse events that occurred, serious or not). Results without
    adverse-event counts are not a signal: the record gives nothing to weigh."""
    if not t.has_ae_summary:
        return False, ["registry results posted"] if t.has_results else []
    counts = (t.ae_serious_affected, t.ae_other_affected, t.ae_deaths_affected)
    harmed = any(n is not None and n > 0 for n in counts)
    return harmed, [_ae_reason(t)]


def _ae_reason(t: TrialInfo) -> str:
    """The counts as the registry's adverse-event tables show them, for a reviewer to check:
    serious and other are separate columns (one participant can be in both), and deaths are
    all-cause mortality."""
    def told(n: int | None, done: str, what: str) -> str:
        return f"{what} not reported" if n is None else f"{n} {done}"

    parts = [told(t.ae_serious_affected, "had serious adverse events", "serious adverse events"),
             told(t.ae_other_affected, "had other adverse events", "other adverse events"),
             told(t.ae_deaths_affected, "died (all causes)", "deaths")]
    of = f"of {t.ae_at_risk} participants, " if t.ae_at_risk is not None else ""
    return f"registry results: {of}{', '.join(parts)}"


def _terms_alternation(terms: Iterable[str]) -> str | None:
    """Config terms as regex alternatives on lower-cased text, longest first: a space or
    hyphen matches either."""
    parts = sorted({re.escape(t.strip().lower()).replace(r"\ ", r"[\s-]+").replace(r"\-", r"[\s-]+")
                    for t in terms if t.strip()}, key=lambda p: (-len(p), p))
    return "|".join(parts) if parts else None


def _terms_pattern(terms: Iterable[str]) -> re.Pattern[str] | None:
    """Config terms as one whole-word pattern on lower-cased text."""
    alternation = _terms_alternation(terms)
    return re.compile(rf"\b(?:{alternation})\b") if alternation else None


def _fit(head: str, why: str, width: int = REASON_WIDTH) -> str:
    """`head + why` in at most `width` characters, the quote in `why` ('…') shortened if need be."""
    text = head + why
    over = len(text) - width
    first, last = text.find("'"), text.rfind("'")
    if over <= 0 or last - first - 1 <= over + 1:
        return text
    return text[:last - over - 1] + "…" + text[last:]


def _clip(text: str, start: int = 0, end: int | None = None, width: int = 110) -> str:
    """A short quote: the whole text if short, else a window around [start, end)."""
    text = text.strip()
    if len(text) <= width:
        return text
    end = start if end is None else end
    lo = max(0, min(start - 40, len(text) - width))
    hi = min(len(text), max(end + 40, lo + width))
    lo = max(0, hi - width)
    return ("…" if lo else "") + text[lo:hi].strip() + ("…" if hi < len(text) else "")


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))

