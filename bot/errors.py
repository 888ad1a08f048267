"""Exceptions that cross module boundaries, each carrying a message a user can act on."""


class LitwatchError(Exception):
    """Base of every error litwatch reports to a user instead of a traceback."""


class ConfigError(LitwatchError):
    """The config file is invalid; `problems` lists every problem found, one line each."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class StoreError(LitwatchError):
    """The store cannot be opened or written (corrupt file, held lock, bad schema)."""


class StoreLocked(StoreError):
    """Another process holds the data directory for writing."""


class UnknownRecord(StoreError):
    """A screening decision names a record the store does not hold."""


class CommitsFrozen(StoreError):
    """The process is stopping: a run may no longer commit (its watermark stays put)."""


class SourceError(LitwatchError):
    """A fetch failed after its retries; the query keeps its watermark."""

    def __init__(self, message: str, *, query: str | None = None, retryable: bool = False):
        self.message = message
        self.query = query
        self.retryable = retryable
        super().__init__(f"{query}: {message}" if query else message)


class QuerySyntaxError(SourceError):
    """The upstream search engine rejected or rewrote the query as typed."""
