"""The blocking client: :class:`Client` and the :class:`Batch` it returns.

    import fanoutd
    client = fanoutd.Client()                  # $FANOUTD_URL or :7878
    batch = client.batch(["http://h/a", {"url": "http://h/b",
                                         "timeout_ms": 500}],
                         concurrency=50, retries=1)
    for result in batch:                       # as each item finishes
        print(result["index"], result["ok"], result.get("status"))
    print(batch.summary)                       # once the stream ended

Each batch is one POST /v1/batch on a connection of its own (closed at
the stream's end, or by :meth:`Batch.close`, which makes fanoutd cancel
what is still running). The response is read with plain sockets and
parsed line by line as it arrives; see :mod:`fanoutd._stream`.

Durable jobs (POST /v1/jobs) are :meth:`Client.job`,
:meth:`Client.get_job`, :meth:`Client.jobs`, :meth:`Client.results`
(a :class:`JobResults` stream with its resume ``cursor``),
:meth:`Client.cancel_job`, :meth:`Client.retry_job` and
:meth:`Client.delete_job`; each request is one connection too.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator, Mapping
from typing import Any, Optional, cast

from . import _jobs, _request
from ._exchange import Exchange, why
from ._request import BatchRequest, Endpoint, Requests
from ._stream import ProgressCallback
from ._types import Job, JobResult, Progress, Result, Summary
from .errors import ConnectError, StreamError

RECV_BYTES = 256 * 1024


class Client:
    """A fanoutd daemon to send batches to.

    ``url``: ``http://host:port[/prefix]``, ``https://...`` or
    ``unix:/path``; default ``$FANOUTD_URL``, else
    ``http://127.0.0.1:7878``. ``unix_socket``: a socket path to connect
    to instead (the URL then only names the Host header and prefix).
    ``token``: sent as ``Authorization: Bearer``; default
    ``$FANOUTD_TOKEN``. ``connect_timeout``: seconds to connect (and
    complete TLS). ``timeout``: seconds any one read may wait, None for no
    limit (a batch may stream for as long as its ``deadline_ms``; ask for
    ``progress_ms`` to keep a quiet one talking). ``ssl_context``: for
    https (default: the system's trust store, host name checked).

    A Client holds no connection and may be shared between threads.
    """

    def __init__(self, url: Optional[str] = None,
                 token: Optional[str] = None, *,
                 unix_socket: Optional[str] = None,
                 connect_timeout: float = 10.0,
                 timeout: Optional[float] = None,
                 ssl_context: Optional[ssl.SSLContext] = None) -> None:
        self.endpoint = _request.resolve_endpoint(url, unix_socket)
        self.token = _request.resolve_token(token)
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self.ssl_context = ssl_context

    def __repr__(self) -> str:
        return f"fanoutd.Client({self.endpoint.describe()!r})"

    def batch(self, requests: Requests, *,
              on_progress: Optional[ProgressCallback] = None,
              **options: Any) -> "Batch":
        """Send one batch; return its results as they stream.

        ``requests``: a list of URL strings and/or dicts (``url``, ``id``,
        ``method``, ``headers``, ``body`` (str, or bytes: sent base64),
        ``timeout_ms``, ``retries``, ``retry_unsafe``), or a str holding a
        URL list (one per line, ``#`` comments). ``options``: the batch
        options by their wire names (``concurrency=50``,
        ``timeout_ms=500``, ``retry_on=["timeout", 503]``, ``body="none"``,
        ``progress_ms=1000``...); None leaves one out. ``on_progress`` is
        called with each progress line's dict (see ``progress_ms``).

        Returns once fanoutd accepted the batch (the items are already
        being fetched). Raises RequestError when fanoutd refuses it (bad
        option, auth, too many items...), ConnectError when fanoutd
        cannot be reached. Failed items are results, never exceptions.
        """
        req = _request.build_batch(self.endpoint, requests, options)
        head = _request.request_head(self.endpoint, self.token, req)
        return Batch(self, head + req.body, on_progress)

    # --- durable jobs (POST /v1/jobs) ------------------------------------

    def job(self, requests: Requests, *, name: Optional[str] = None,
            ttl_s: Optional[int] = None,
            idempotency_key: Optional[str] = None,
            **options: Any) -> Job:
        """Submit a durable job: the ``requests`` and ``options`` of
        :meth:`batch`, stored by fanoutd before it answers, run whether
        or not anyone reads them. ``name`` (up to 200 bytes) and
        ``ttl_s`` (seconds kept once finished) go in the ``"job"``
        object (a list of requests, not a str, then). With an
        ``idempotency_key``, sending the same job again (say after a
        lost answer) returns the job the key made first instead of a
        new one.

        Returns the :class:`~fanoutd.Job` (``id``, ``state``,
        ``counts``...). Raises RequestError when fanoutd refuses it
        (400 naming what was wrong, 413 over ``[jobs] max_items``, 429
        ``too_many_jobs``, 503, 507 ``insufficient_storage``)."""
        req, headers = _jobs.create_request(self.endpoint, requests, options,
                                            name, ttl_s, idempotency_key)
        return self._job_doc(self._document("POST", req, headers))

    def get_job(self, job_id: str) -> Job:
        """The job as it stands (``state``, ``counts``, ``last_seq``,
        times, ``options``); RequestError 404 when there is none."""
        return self._job_doc(self._document(
            "GET", _jobs.job_target(self.endpoint, job_id)))

    def jobs(self, state: Optional[_jobs.States] = None,
             limit: Optional[int] = None,
             after: Optional[str] = None) -> Iterator[list[Job]]:
        """The jobs in creation order, one page (a list of
        :class:`~fanoutd.Job`) at a time, fetched as iterated until the
        last: ``state`` (``"running"``, ``"queued,running"`` or a list),
        ``limit`` jobs a page (1-1000, fanoutd's default 100), ``after``
        a job ID (start after it). The first request goes out at the
        first ``next()``, and a refusal raises there."""
        while True:
            doc = self._document("GET", _jobs.list_target(
                self.endpoint, state, limit, after))
            yield cast(list[Job], doc["jobs"])
            after = doc["next"]
            if after is None:
                return

    def results(self, job_id: str, after: int = 0, follow: bool = False,
                failed_only: bool = False) -> "JobResults":
        """A job's result lines in seq order, as they stream: a
        :class:`JobResults` of :class:`~fanoutd.JobResult` dicts (each a
        batch result line with ``seq``). ``after``: only lines after
        that seq (a ``cursor`` from before). ``follow``: stay open for
        new lines until the job is done or cancelled. ``failed_only``:
        only the lines that are not ok.

        Returns once fanoutd began the answer; RequestError 404 when
        there is no such job. A connection lost midway raises
        StreamError from the iteration; the lines already returned stand
        and ``cursor`` is the seq of the last, so
        ``results(job_id, after=r.cursor, follow=True)`` goes on from
        there, missing and repeating nothing."""
        req = _jobs.results_target(self.endpoint, job_id, after, follow,
                                   failed_only)
        head = _request.request_head(self.endpoint, self.token, req,
                                     method="GET")
        return JobResults(job_id, after, Batch(self, head, None, "lines",
                                               "request"))

    def cancel_job(self, job_id: str) -> Job:
        """Cancel a queued or running job: its pending items end with
        ``cancelled`` lines. Returns the job; RequestError 409 when it
        had already ended, 404 when there is none."""
        return self._job_doc(self._document(
            "POST", _jobs.job_target(self.endpoint, job_id, "/cancel")))

    def retry_job(self, job_id: str) -> Job:
        """Queue a job again: every item whose line is not ok runs again
        (its old lines stay). Returns the job; RequestError 409 while it
        is queued or running."""
        return self._job_doc(self._document(
            "POST", _jobs.job_target(self.endpoint, job_id, "/retry")))

    def delete_job(self, job_id: str) -> None:
        """Remove a done or cancelled job and its lines; RequestError
        409 while it is queued or running, 404 when there is none."""
        self._document("DELETE", _jobs.job_target(self.endpoint, job_id))

    def _job_doc(self, doc: Optional[dict[str, Any]]) -> Job:
        """The ``job`` of an answer ``{"job": {...}}``."""
        if doc is None or type(doc.get("job")) is not dict:
            raise StreamError(f"fanoutd at {self.endpoint.describe()}: "
                              f"expected {{\"job\": {{...}}}}")
        return cast(Job, doc["job"])

    def _document(self, method: str, req: BatchRequest,
                  headers: Optional[Mapping[str, str]] = None
                  ) -> dict[str, Any]:
        """Send one job request; its JSON answer ({} for a 204), or the
        FanoutdError of :class:`~fanoutd._jobs.DocumentCall`."""
        call = _jobs.DocumentCall(self.endpoint.describe(), self.timeout)
        data = _request.request_head(self.endpoint, self.token, req,
                                     method=method,
                                     accept="application/json",
                                     headers=headers) + req.body
        with self._connect() as sock:
            try:
                sock.sendall(data)
            except OSError as e:
                call.send_failed(e)
            while True:
                try:
                    more = sock.recv(RECV_BYTES)
                except OSError as e:
                    raise call.failure(e) from e
                if call.receive(more):
                    break
        return call.result() or {}

    def _connect(self) -> socket.socket:
        """A connected socket to fanoutd (TLS done), or ConnectError."""
        ep: Endpoint = self.endpoint
        sock = None
        try:
            if ep.unix_path is not None:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(self.connect_timeout)
                sock.connect(ep.unix_path)
            else:
                sock = socket.create_connection((ep.host, ep.port),
                                                self.connect_timeout)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if ep.tls:
                    ctx = self.ssl_context or ssl.create_default_context()
                    sock = ctx.wrap_socket(sock, server_hostname=ep.host)
            sock.settimeout(self.timeout)
            return sock
        except (OSError, ssl.SSLError) as e:
            if sock is not None:
                sock.close()
            raise ConnectError(f"cannot connect to fanoutd at "
                               f"{ep.describe()}: {why(e)}") from e


class Batch:
    """One batch's results, an iterator of :class:`~fanoutd.Result`
    dicts in completion order (``index`` says which item each is).

    ``summary``: the summary line's dict once the stream ended whole
    (None before, or when closed early). ``progress``: the latest
    progress line's dict. ``received``: results so far. ``close()``
    (also on leaving a ``with`` block) drops the connection, and fanoutd
    cancels the batch's unfinished items.

    Iterating raises StreamError if the stream breaks before its summary
    (the results already returned stand).
    """

    def __init__(self, client: Client, request: bytes,
                 on_progress: Optional[ProgressCallback],
                 count_key: str = "total", what: str = "batch") -> None:
        self._ex = Exchange(client.endpoint.describe(), client.timeout,
                            on_progress, count_key, what)
        self._ready: list[Result] = []
        self._next = 0
        self._sock: Optional[socket.socket] = client._connect()
        try:
            self._start(request)
        except BaseException:
            self.close()
            raise

    @property
    def summary(self) -> Optional[Summary]:
        return self._ex.decoder.summary

    @property
    def progress(self) -> Optional[Progress]:
        return self._ex.decoder.progress

    @property
    def received(self) -> int:
        return self._ex.decoder.received

    def _recv(self) -> bytes:
        """The next bytes from fanoutd (b"" at the close), or the
        exchange's exception for the phase."""
        assert self._sock is not None
        try:
            return self._sock.recv(RECV_BYTES)
        except OSError as e:
            raise self._ex.failure(e) from e

    def _start(self, request: bytes) -> None:
        """Send the request and read until the stream began (RequestError
        for a refused batch); the first results are queued."""
        assert self._sock is not None
        try:
            self._sock.sendall(request)
        except OSError as e:
            self._ex.send_failed(e)
        while not self._ex.started:
            self._ready = self._ex.receive(self._recv())

    def _fill(self) -> None:
        """Read until results are ready or the stream ended; the socket
        is closed at the end and on any error."""
        try:
            while not self._ready and self._ex.wants_data():
                self._ready = self._ex.receive(self._recv())
                self._next = 0
        except BaseException:
            self.close()
            raise
        if self._ex.at_end:
            self._close_socket()

    def __iter__(self) -> "Batch":
        return self

    def __next__(self) -> Result:
        if self._next >= len(self._ready):
            self._ready = []
            self._next = 0
            if self._sock is not None:
                self._fill()
            if not self._ready:
                raise StopIteration
        r = self._ready[self._next]
        self._next += 1
        return r

    def collect(self) -> list[Result]:
        """Every remaining result, in input order (by ``index``), as
        ``asyncio.gather(..., return_exceptions=True)`` would give them."""
        return sorted(self, key=lambda r: r["index"])

    def _close_socket(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def close(self) -> None:
        """Drop the connection: fanoutd cancels the unfinished items.
        Results not yet returned are discarded."""
        self._ready = []
        self._next = 0
        self._close_socket()

    def __enter__(self) -> "Batch":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class JobResults(_jobs.ResultsCursor):
    """A job's result lines as they stream (:meth:`Client.results`): an
    iterator of :class:`~fanoutd.JobResult` dicts in seq order, each a
    batch result line with ``seq`` first::

        {"seq": 7, "index": 6, "url": "http://h/x", "ok": true,
         "status": 200, "body": "...", "attempts": 1, "elapsed_ms": 1.2}

    ``cursor``: the seq of the last line returned (the ``after`` given
    until one is); pass it as ``after=`` to go on from there.
    ``summary``: once the stream ended whole, the last line's
    ``{"job": {...}, "lines": N}`` (:class:`~fanoutd.JobSummary`), and
    ``job`` its job; None before, and when the stream broke.
    ``received``: lines so far. ``close()`` (or leaving ``with``) drops
    the connection; the job runs on regardless.

    Iterating raises StreamError when the connection is lost before the
    summary (fanoutd restarted, a read timed out): every line that
    arrived whole is returned first, and ``cursor`` says where to resume.
    """

    def __init__(self, job_id: str, after: int, stream: Batch) -> None:
        super().__init__(job_id, after, stream)
        self._stream = stream

    def __iter__(self) -> "JobResults":
        return self

    def __next__(self) -> JobResult:
        r = cast(JobResult, next(self._stream))
        self.cursor = r["seq"]
        return r

    def close(self) -> None:
        """Drop the connection (the job is not affected)."""
        self._stream.close()

    def __enter__(self) -> "JobResults":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
