"""A fake ClinicalTrials.gov API v2 (`GET /studies`) built from study records (the project's own or
the real recorded ones: tests/corpus.py).

No real list page was ever recorded, so pages are assembled here the way the API shapes
them: `{"studies": [...], "nextPageToken": ..., "totalCount": n}`, `totalCount` only on
the first page and only with `countTotal=true`. The fake is strict where the real API is:
unknown parameters are a text/plain 400, and a page token must come back with exactly the
parameters of the request that produced it.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import secrets
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bot.sources.ctgov_json import PIECES
from tests.fakes.http import FakeServer, Request, Response

RECORDED = ("NCT00973089", "NCT04207047", "NCT05594173", "NCT06171568")
KNOWN_PARAMS = {
    "format", "fields", "pageSize", "pageToken", "countTotal", "sort", "query.term", "query.cond",
    "query.intr", "filter.overallStatus", "filter.advanced",
}  # fmt: skip
DAY = r"\d{4}-\d{2}-\d{2}"
ADVANCED = re.compile(rf"^AREA\[LastUpdatePostDate\]RANGE\[({DAY}|MIN),(MAX|{DAY})\]$")


def recorded_studies(fixtures: Path | None = None) -> list[dict[str, Any]]:
    """The four real v2 study records from the shared fixtures (`fixtures`: their folder,
    for benchmarks that run without pytest; tests leave it to conftest)."""
    if fixtures is None:
        from tests.conftest import fixture_bytes  # skips, or fails under CI, when missing

        return [json.loads(fixture_bytes("clinicaltrials", _file(n))) for n in RECORDED]
    return [json.loads((fixtures / "clinicaltrials" / _file(n)).read_bytes()) for n in RECORDED]


def _file(nct: str) -> str:
    return f"ctgov_v2_study_{nct}.json"


def synthetic_studies(count: int, *, updated: str = "2024-01-15", fixtures: Path | None = None,
                      templates: Sequence[dict[str, Any]] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """`count` studies cloned from `templates` (default: the real records), each with its own
    NCT ID and update date."""
    base = templates if templates is not None else recorded_studies(fixtures)
    studies = []
    for n, template in zip(range(count), itertools.cycle(base), strict=False):
        study = copy.deepcopy(template)
        study["protocolSection"]["identificationModule"]["nctId"] = f"NCT9{n:07d}"
        _status(study)["lastUpdatePostDateStruct"] = {"date": updated, "type": "ACTUAL"}
        studies.append(study)
    return studies


def _status(study: dict[str, Any]) -> dict[str, Any]:
    module: dict[str, Any] = study["protocolSection"]["statusModule"]
    return module


def _nct(study: dict[str, Any]) -> str:
    return str(study["protocolSection"]["identificationModule"]["nctId"])


def _updated(study: dict[str, Any]) -> str:
    return str(_status(study).get("lastUpdatePostDateStruct", {}).get("date", ""))


class FakeClinicalTrials(FakeServer):
    """Serves `studies` as the result set of every query, honouring status and date filters."""

    def __init__(self, studies: Iterable[dict[str, Any]], *, empty_page_after: int | None = None):
        super().__init__(self._handle)
        self._studies = {_nct(s): s for s in studies}  # never edited in place: see `change`
        self._tokens: dict[str, tuple[dict[str, list[str]], int, bool]] = {}
        self._state = threading.Lock()
        self.empty_page_after = empty_page_after  # insert one empty page after this many pages
        self.fail_next: list[Response] = []  # answered, in order, before any real page
        self.violations: list[str] = []  # what a client did that the real API would reject

    # ------------------------------------------------------------ changing the registry

    def change(self, nct: str, *, updated: str, status: str | None = None,
               why_stopped: str | None = None, has_results: bool | None = None,
               enrollment: int | None = None,
               event_groups: list[dict[str, Any]] | None = None) -> None:  # fmt: skip
        """Edit a study as the registry would between runs; the update date always moves.
        `event_groups` replaces the posted adverse-event groups (counts per arm)."""
        with self._state:
            study = copy.deepcopy(self._studies[nct])  # copy on write: pages being cut keep theirs
            self._studies[nct] = study
            module = _status(study)
            module["lastUpdatePostDateStruct"] = {"date": updated, "type": "ACTUAL"}
            if status is not None:
                module["overallStatus"] = status
            if why_stopped is not None:
                module["whyStopped"] = why_stopped
            if has_results is not None:
                study["hasResults"] = has_results
            if enrollment is not None:
                design = study["protocolSection"].setdefault("designModule", {})
                design.setdefault("enrollmentInfo", {})["count"] = enrollment
            if event_groups is not None:
                results = study.setdefault("resultsSection", {})
                results.setdefault("adverseEventsModule", {})["eventGroups"] = event_groups

    def add(self, study: dict[str, Any]) -> None:
        with self._state:
            self._studies[_nct(study)] = copy.deepcopy(study)

    # ------------------------------------------------------------ serving

    def _handle(self, request: Request) -> Response:
        if self.fail_next:
            return self.fail_next.pop(0)
        if request.path.rstrip("/") != "/studies":
            return _text(404, f"Not found: {request.path}")
        unknown = sorted(set(request.query) - KNOWN_PARAMS)
        if unknown:
            return _text(400, f"`{unknown[0]}` is unknown parameter")
        params = {k: v for k, v in request.query.items() if k != "pageToken"}
        token = request.param("pageToken")
        offset, empty_served = 0, False
        if token:
            with self._state:
                issued = self._tokens.get(token)
            if issued is None:
                return _text(400, f"pageToken {token} is invalid or expired")
            first_params, offset, empty_served = issued
            if first_params != params:
                self.violations.append(f"page token {token} came back with other parameters")
                return _text(400, "pageToken must come with the parameters of the first page")
        try:
            size = int(request.param("pageSize", "10") or "10")
        except ValueError:
            return _text(400, "pageSize must be an integer")
        if not 1 <= size <= 1000:
            return _text(400, f"pageSize must be between 1 and 1000, got {size}")
        matches = self._matching(request)
        if isinstance(matches, Response):
            return matches
        fields = (request.param("fields") or "").split(",") if request.param("fields") else None
        if fields and not set(fields) <= set(PIECES):
            # The real API also takes area names and dotted field paths; litwatch sends only
            # piece names (see ctgov_json.PIECES), so anything else here is a client bug.
            bad = sorted(set(fields) - set(PIECES))[0]
            return _text(400, f"Parameter 'fields' contains invalid field name: '{bad}'")

        page: dict[str, Any]
        if offset and offset // size == self.empty_page_after and not empty_served:
            page = {"studies": [], "nextPageToken": self._issue(params, offset, True)}
            return Response(200, json.dumps(page), {"Content-Type": "application/json"})
        chunk = matches[offset: offset + size]
        page = {"studies": [_project(s, fields) for s in chunk]}
        if offset + size < len(matches):
            page["nextPageToken"] = self._issue(params, offset + size, empty_served)
        if not token and request.param("countTotal") == "true":
            page["totalCount"] = len(matches)
        return Response(200, json.dumps(page), {"Content-Type": "application/json"})

    def _issue(self, params: dict[str, list[str]], offset: int, empty_served: bool) -> str:
        token = secrets.token_urlsafe(11)  # the real tokens look like "NF0g5JGBlPMuwQY"
        with self._state:
            self._tokens[token] = (params, offset, empty_served)
        return token

    def _matching(self, request: Request) -> list[dict[str, Any]] | Response:
        with self._state:  # `change` replaces a study, never edits one a page is reading
            studies = list(self._studies.values())
        statuses = request.param("filter.overallStatus")
        if statuses:
            wanted = set(re.split(r"[,|]", statuses))
            studies = [s for s in studies if _status(s).get("overallStatus") in wanted]
        advanced = request.param("filter.advanced")
        if advanced:
            m = ADVANCED.match(advanced)
            if not m:
                return _text(400, f"filter.advanced: unsupported expression {advanced!r}")
            low, high = m.group(1), m.group(2)
            studies = [
                s for s in studies
                if (low == "MIN" or _updated(s) >= low) and (high == "MAX" or _updated(s) <= high)
            ]  # fmt: skip
        if request.param("sort") == "LastUpdatePostDate:desc":
            studies.sort(key=lambda s: (_updated(s), _nct(s)), reverse=True)
        else:
            studies.sort(key=_nct)
        return studies


def _text(status: int, message: str) -> Response:
    return Response(status, message, {"Content-Type": "text/plain"})


def _project(study: dict[str, Any], fields: Sequence[str] | None) -> dict[str, Any]:
    """Only the requested pieces, nested as in the full record (what `fields=` does)."""
    if not fields:
        return copy.deepcopy(study)
    out: dict[str, Any] = {}
    for field in fields:
        _copy_path(study, out, PIECES[field])
    return out


def _copy_path(src: Any, dst: dict[str, Any], path: Sequence[str]) -> None:
    """Copy the value at `path`, creating only the containers that lead to a value: a study
    without results gets no empty `resultsSection` for an adverse-event piece."""
    step, rest = path[0], path[1:]
    if not isinstance(src, dict) or step not in src:
        return
    value = src[step]
    if not rest:
        dst[step] = value  # serialised at once, never kept
    elif rest[0] == "[]":
        if not isinstance(value, list):
            return
        target = dst.get(step) or [{} for _ in value]
        for element, out in zip(value, target, strict=True):
            _copy_path(element, out, rest[1:])
        if any(target):
            dst[step] = target
    else:
        inner = dst.get(step, {})
        _copy_path(value, inner, rest)
        if inner:
            dst[step] = inner
