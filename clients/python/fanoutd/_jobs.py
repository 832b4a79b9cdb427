"""The /v1/jobs requests and their one-document answers, without I/O.

Shared by both clients (issue #16's durable jobs, README "Jobs"):

- :func:`create_request` builds POST /v1/jobs: the body forms and
  options of a batch (:mod:`fanoutd._request`), plus the ``"job"``
  object (``name``, ``ttl_s``) and the ``Idempotency-Key`` header;
- :func:`job_target`, :func:`results_target` and :func:`list_target`
  spell the other endpoints' paths and query strings;
- :class:`DocumentCall` reads an answer that is one JSON document (a
  job, a page of jobs, a 204) from the bytes a client reads, and turns
  anything but a 2xx into :class:`~fanoutd.errors.RequestError` with
  fanoutd's JSON error, as a refused batch is.

A job's results are a stream like a batch's, read by
:class:`~fanoutd._exchange.Exchange` with ``count_key="lines"``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Optional, Protocol, Union, cast
from urllib.parse import quote, urlencode

from ._exchange import why
from ._http import IncompleteResponse, ProtocolError, ResponseReader
from ._request import BatchRequest, Endpoint, Requests, build_batch
from ._stream import MAX_ERROR_BYTES, request_error
from ._types import Job, JobSummary, Summary
from .errors import ConnectError, FanoutdError, StreamError

#: The longest answer read as one document (a page of 1,000 jobs, each
#: with its options, fits).
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024

#: What ``state=`` of ``jobs()`` takes: one state, "a,b", or a list.
States = Union[str, Iterable[str]]


def _check_key(key: str) -> str:
    """An Idempotency-Key as fanoutd accepts it (1 to 255 visible ASCII
    characters); ValueError otherwise, so that no header is ever sent
    broken."""
    if not 1 <= len(key) <= 255 or any(
            not 0x21 <= ord(c) <= 0x7e for c in key):
        raise ValueError("idempotency_key: expected 1 to 255 visible "
                         "ASCII characters")
    return key


def create_request(endpoint: Endpoint, requests: Requests,
                   options: Mapping[str, Any], name: Optional[str],
                   ttl_s: Optional[int], idempotency_key: Optional[str]
                   ) -> tuple[BatchRequest, dict[str, str]]:
    """POST /v1/jobs for ``requests`` (any body form of a batch) with
    ``options``; the "job" object holds ``name`` and ``ttl_s`` when
    given. Returns the request and its extra headers."""
    job: dict[str, Any] = {}
    if name is not None:
        job["name"] = name
    if ttl_s is not None:
        job["ttl_s"] = ttl_s
    req = build_batch(endpoint, requests, options, "/v1/jobs", job)
    headers = {}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = _check_key(idempotency_key)
    return req, headers


def _request(target: str) -> BatchRequest:
    return BatchRequest(target, "", b"")


def job_target(endpoint: Endpoint, job_id: str,
               rest: str = "") -> BatchRequest:
    """/v1/jobs/ID and below (``rest``: "/cancel", "/retry"); the ID is
    percent-encoded whole (fanoutd answers 404 for one it never made)."""
    if not isinstance(job_id, str) or not job_id:
        raise ValueError("job_id: expected a job ID (a str)")
    return _request(f"{endpoint.prefix}/v1/jobs/{quote(job_id, safe='')}"
                    f"{rest}")


def results_target(endpoint: Endpoint, job_id: str, after: int,
                   follow: bool, failed_only: bool) -> BatchRequest:
    """GET /v1/jobs/ID/results?after=&follow=&state=failed (NDJSON)."""
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise ValueError("after: expected a seq (an int >= 0)")
    query: dict[str, str] = {"format": "ndjson"}
    if after:
        query["after"] = str(after)
    if follow:
        query["follow"] = "true"
    if failed_only:
        query["state"] = "failed"
    req = job_target(endpoint, job_id, "/results")
    return _request(req.target + "?" + urlencode(query))


def list_target(endpoint: Endpoint, state: Optional[States],
                limit: Optional[int], after: Optional[str]) -> BatchRequest:
    """GET /v1/jobs?state=a,b&limit=N&after=ID."""
    query: dict[str, str] = {}
    if state is not None:
        query["state"] = state if isinstance(state, str) else ",".join(state)
    if limit is not None:
        query["limit"] = str(limit)
    if after is not None:
        query["after"] = after
    target = endpoint.prefix + "/v1/jobs"
    if query:
        target += "?" + urlencode(query, quote_via=quote, safe=",")
    return _request(target)


class _Stream(Protocol):
    """What a results reader needs of either client's Batch."""

    @property
    def summary(self) -> Optional[Summary]: ...

    @property
    def received(self) -> int: ...


class ResultsCursor:
    """What both clients' JobResults share: the job, the resume cursor
    (the seq of the last line returned; the ``after`` given until one
    is) and the stream's summary, ``{"job": {...}, "lines": N}``."""

    def __init__(self, job_id: str, after: int, stream: _Stream) -> None:
        self.job_id = job_id
        self.cursor = after
        self._lines = stream

    @property
    def summary(self) -> Optional[JobSummary]:
        return cast(Optional[JobSummary], self._lines.summary)

    @property
    def job(self) -> Optional[Job]:
        """The summary's job (its state and counts at the end)."""
        summary = self.summary
        return summary["job"] if summary is not None else None

    @property
    def received(self) -> int:
        return self._lines.received


class DocumentCall:
    """The answer to one job request that is a single JSON document.

    A client sends the request (:meth:`send_failed` when that fails:
    fanoutd may have answered first), then feeds each read to
    :meth:`receive` (``b""`` at the close) until it returns True, and
    takes :meth:`result`. A read that fails is :meth:`failure`'s
    exception. ``where`` names fanoutd in messages.
    """

    def __init__(self, where: str, timeout: Optional[float]) -> None:
        self.where = where
        self.timeout = timeout
        self.reader = ResponseReader()
        self._body = bytearray()
        self._send_error: Optional[OSError] = None
        self._done = False

    def send_failed(self, e: OSError) -> None:
        self._send_error = e

    def receive(self, data: bytes) -> bool:
        """One read's bytes; True once the answer is complete."""
        try:
            pieces = (self.reader.feed(data) if data
                      else self.reader.feed_eof())
        except IncompleteResponse as e:
            if self.reader.head is not None:
                raise StreamError(f"fanoutd at {self.where}: the answer "
                                  f"was cut short: {e}") from e
            cause = self._send_error or e
            raise ConnectError(f"no response from fanoutd at "
                               f"{self.where}: {why(cause)}") from cause
        except ProtocolError as e:
            raise StreamError(f"fanoutd at {self.where}: {e}") from e
        for piece in pieces:
            self._body += piece
        if len(self._body) > MAX_DOCUMENT_BYTES:
            raise StreamError(f"fanoutd at {self.where}: an answer over "
                              f"{MAX_DOCUMENT_BYTES} bytes")
        head = self.reader.head
        if head is not None and head.status >= 300 and \
                len(self._body) >= MAX_ERROR_BYTES:
            self._done = True  # the status says enough
        self._done = self._done or self.reader.done or not data
        return self._done

    def failure(self, e: BaseException) -> FanoutdError:
        """The exception for a read that failed with ``e``."""
        if self.reader.head is None:
            return ConnectError(f"no response from fanoutd at "
                                f"{self.where}: {why(self._send_error or e)}")
        if isinstance(e, TimeoutError):
            return StreamError(f"no data from fanoutd at {self.where} for "
                               f"{self.timeout} s")
        return StreamError(f"reading from fanoutd at {self.where} "
                           f"failed: {why(e)}")

    def result(self) -> Optional[dict[str, Any]]:
        """The answer's JSON object (None for a 204); RequestError with
        fanoutd's JSON error for anything but a 2xx."""
        head = self.reader.head
        assert head is not None and self._done
        if not 200 <= head.status < 300:
            raise request_error(head, bytes(self._body), "request")
        if head.status == 204:
            return None
        try:
            doc = json.loads(self._body)
        except ValueError as e:
            raise StreamError(f"fanoutd at {self.where}: the answer is "
                              f"not JSON: {e}") from None
        if type(doc) is not dict:
            raise StreamError(f"fanoutd at {self.where}: the answer is "
                              f"not a JSON object")
        return doc
