"""Stand-ins for E-utilities, ClinicalTrials.gov API v2 and a journal feed, on 127.0.0.1 only.

They speak just enough of each protocol for litwatch's real clients: esearch (with the
history server and PubMed's integrity filter) and efetch (by ID list, GET or POST, or by
WebEnv) for PubMed; `GET /studies` for ClinicalTrials.gov; one RSS 2.0 document. Searches
ignore date windows and terms: every record is a hit, and the store tells new from known,
as it does with the real services' overlapping windows.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from bot.demo.records import Upstream

EUTILS_PATH = "/entrez/eutils"
CTGOV_PATH = "/api/v2"
FEED_PATH = "/feed.xml"
EFETCH_HEAD = '<?xml version="1.0" ?>\n<PubmedArticleSet>\n'
ESEARCH_HEAD = '<?xml version="1.0" encoding="UTF-8" ?>\n'

Answer = tuple[int, str, bytes]  # status, content type, body
Route = Callable[[str, dict[str, str]], Answer]


class StandIns:
    """The three stand-ins on one loopback port (port 0: the system picks a free one)."""

    def __init__(self, upstream: Upstream):
        self.upstream = upstream
        self.requests = 0
        self._histories: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self._route))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    @property
    def eutils_url(self) -> str:
        return self.base + EUTILS_PATH

    @property
    def ctgov_url(self) -> str:
        return self.base + CTGOV_PATH

    @property
    def feed_url(self) -> str:
        return self.base + FEED_PATH

    def __enter__(self) -> StandIns:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------ routing

    def _route(self, path: str, params: dict[str, str]) -> Answer:
        with self._lock:
            self.requests += 1
            if path == f"{EUTILS_PATH}/esearch.fcgi":
                return 200, "text/xml; charset=UTF-8", self._esearch(params)
            if path == f"{EUTILS_PATH}/efetch.fcgi":
                return 200, "text/xml; charset=UTF-8", self._efetch(params)
            if path.rstrip("/") == f"{CTGOV_PATH}/studies":
                return 200, "application/json", self.upstream.studies_json()
            if path == FEED_PATH:
                return 200, "application/rss+xml; charset=UTF-8", self.upstream.feed_xml(self.base)
        return 404, "text/plain", f"the litwatch demo serves no {path}".encode()

    def _esearch(self, params: dict[str, str]) -> bytes:
        term = params.get("term", "")
        papers = list(self.upstream.papers.values())
        # The client's retraction watch ANDs PubMed's integrity filter onto the saved term.
        if "hasretractionin" in term:
            papers = [p for p in papers if p.integrity]
        ids = sorted((p.pmid for p in papers), reverse=True)  # newest first, as PubMed does
        history = ""
        if params.get("usehistory") == "y":
            webenv = f"DEMO_{len(self._histories) + 1}"
            self._histories[webenv] = ids
            history = f"<QueryKey>1</QueryKey><WebEnv>{webenv}</WebEnv>"
        listed = "".join(f"<Id>{pmid}</Id>" for pmid in ids)
        return (
            f"{ESEARCH_HEAD}<eSearchResult><Count>{len(ids)}</Count><RetMax>{len(ids)}</RetMax>"
            f"<RetStart>0</RetStart>{history}<IdList>{listed}</IdList>"
            f"<QueryTranslation>{escape(term)}</QueryTranslation></eSearchResult>\n"
        ).encode()

    def _efetch(self, params: dict[str, str]) -> bytes:
        if params.get("id"):
            pmids = [p.strip() for p in params["id"].split(",") if p.strip()]
        else:
            start = int(params.get("retstart") or 0)
            size = int(params.get("retmax") or 20)
            pmids = self._histories.get(params.get("WebEnv", ""), [])[start:start + size]
        papers = [self.upstream.papers[p].xml() for p in pmids if p in self.upstream.papers]
        return (EFETCH_HEAD + "\n".join(papers) + "\n</PubmedArticleSet>\n").encode()


def _handler(route: Route) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            params = {k: v[0] for k, v in parse_qs(parts.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            if length:  # E-utilities take POSTed forms too (long ID lists)
                body = self.rfile.read(length).decode("utf-8", "replace")
                params.update({k: v[0] for k, v in parse_qs(body).items()})
            status, content_type, payload = route(parts.path, params)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: object) -> None:
            pass  # the demo narrates; request logs would drown it

    return Handler
