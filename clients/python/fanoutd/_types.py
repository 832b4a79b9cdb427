"""The line schema of fanoutd's NDJSON stream, as types.

POST /v1/batch answers 200 with one JSON object per line, in completion
order: a *result* line per item, *progress* lines when the batch asked for
them (``progress_ms``), and the *summary* line last. The clients hand
result lines to the caller as plain ``dict`` objects shaped like
:class:`Result`; the summary and progress lines are kept by the batch
(:attr:`Batch.summary`, :attr:`Batch.progress`). These ``TypedDict``
classes only describe the dicts, they add nothing at run time.

A result that got a response (``ok`` is ``status < 400``)::

    {"index": 0, "id": "a", "url": "http://h/x", "ok": true, "status": 200,
     "headers": {"content-type": "text/plain"}, "body": "...",
     "body_encoding": "utf8", "body_bytes": 3, "truncated": false,
     "attempts": 1, "elapsed_ms": 1.2, "timings": {"queued": 0.0, "ttfb": 1.1}}

A result that got none (``error.type`` is one of :data:`ITEM_ERROR_TYPES`)::

    {"index": 1, "url": "http://no.invalid/", "ok": false,
     "error": {"type": "dns", "message": "cannot resolve no.invalid: ..."},
     "attempts": 1, "elapsed_ms": 0.4, "timings": {"queued": 0.0}}

Progress: ``{"progress": {"done": 1, "total": 2, "in_flight": 1,
"queued": 0}}``. Summary: ``{"summary": {"total": 2, "ok": 1, "failed":
1, "retries": 0, "elapsed_ms": 351.0, "effective": {...every option...}}}``.

A durable job (POST /v1/jobs) is described by :class:`Job`; its results
(GET /v1/jobs/ID/results) are the same result lines with ``seq`` first
(:class:`JobResult`: 1, 2, 3, ... per job, in commit order, no gap), and
the stream ends with ``{"summary": {"job": {...}, "lines": N}}``
(:class:`JobSummary`: the job as it stands, and the lines of this reply).
"""

from __future__ import annotations

from typing import Any, Literal, Optional, TypedDict, Union

#: The closed set of ``error.type`` values of a result line (DESIGN.md §1).
ITEM_ERROR_TYPES = frozenset({
    "invalid_request", "denied", "dns", "connect", "tls", "timeout",
    "reset", "protocol", "too_many_redirects", "deadline", "cancelled",
    "interrupted",
})


class ItemError(TypedDict):
    """Why an item got no response: ``type`` (closed set), one sentence."""

    type: str
    message: str


class Timings(TypedDict, total=False):
    """Where an item's time went, in milliseconds (absent when unmeasured)."""

    queued: float  # batch accepted -> first dispatch
    dns: float
    ttfb: float  # last request sent -> response headers


class Result(TypedDict, total=False):
    """One result line. ``index``, ``ok``, ``attempts`` and ``elapsed_ms``
    are always there; ``status`` and the body fields when a response
    arrived, ``error`` when none did."""

    index: int  # the item's position in the batch
    id: Union[str, int]  # echoed when the item had one
    url: str  # as given
    ok: bool  # a response arrived with status < 400
    status: int
    headers: dict[str, str]  # lower-cased names; absent with headers=False
    body: str  # absent with body="none"
    body_encoding: Literal["utf8", "base64"]
    body_bytes: int
    truncated: bool  # the body was cut at max_body_bytes
    content_encoding: str  # codings left on the body (not decoded)
    final_url: str  # when redirects were followed
    redirects: int
    error: ItemError
    attempts: int
    elapsed_ms: float
    timings: Timings


class Progress(TypedDict):
    """A progress line's object (``progress_ms`` option)."""

    done: int
    total: int
    in_flight: int
    queued: int  # waiting for a slot, a token or a retry


class Summary(TypedDict):
    """The summary line's object: counts, and every option's effective
    value (after defaults and caps)."""

    total: int
    ok: int
    failed: int
    retries: int
    elapsed_ms: float
    effective: dict[str, Any]


class JobCounts(TypedDict):
    """A job's items by where they are; ``total`` is their sum."""

    total: int
    pending: int  # not yet started (or back to pending after a stop)
    in_flight: int
    ok: int
    failed: int


class Job(TypedDict, total=False):
    """A job as fanoutd describes it (``{"job": {...}}``).

    ``state`` is ``queued``, ``running``, ``done`` or ``cancelled`` (and
    ``deleted`` in a results summary when the job went meanwhile, which
    then holds only ``id`` and ``state``). ``paused`` says why a running
    job waits (the store cannot write), absent otherwise. Times are RFC
    3339 in UTC (``"2026-12-01T03:23:01.123Z"``) or None::

        {"id": "3f0c...(32 hex digits)", "name": "nightly", "state": "done",
         "counts": {"total": 3, "pending": 0, "in_flight": 0, "ok": 2,
                    "failed": 1},
         "last_seq": 3, "created_at": "...", "started_at": "...",
         "finished_at": "...", "expires_at": "...", "ttl_s": 604800,
         "options": {...every effective option...}}
    """

    id: str
    name: Optional[str]
    state: str
    paused: str
    counts: JobCounts
    last_seq: int  # the seq of the job's last committed line
    created_at: Optional[str]
    started_at: Optional[str]
    finished_at: Optional[str]
    expires_at: Optional[str]
    ttl_s: int
    options: dict[str, Any]


class JobResult(Result, total=False):
    """A result line of a job: a :class:`Result` with ``seq``, its place
    in the job's results (1, 2, 3, ...; after a retry, an item's new line
    has a new seq and its old one stays)."""

    seq: int


class JobSummary(TypedDict):
    """The last line of a job's results: the job as it stands when the
    reply ended, and how many lines this reply carried."""

    job: Job
    lines: int
