"""The asyncio client: :class:`Client` and the :class:`Batch` it returns.

    import fanoutd.aio
    client = fanoutd.aio.Client()
    async for result in client.batch(urls, concurrency=50):
        print(result["index"], result["ok"])

or, to have a refused batch raise at once and keep the summary::

    batch = await client.batch(urls, concurrency=50)
    async for result in batch:
        ...
    print(batch.summary)

The same arguments, results and exceptions as the blocking
:class:`fanoutd.Client`, on asyncio streams (``asyncio.open_connection``
/ ``open_unix_connection``) with the package's own HTTP/1.1 reader
(:mod:`fanoutd._http`: chunked transfer coding, extensions, trailers,
reads of any size). No third-party package is used, aiohttp included.

Durable jobs: ``await client.job(...)``, ``get_job``, ``cancel_job``,
``retry_job``, ``delete_job``; ``async for page in client.jobs()``; and
``client.results(job_id, after=, follow=)``, a :class:`JobResults` to
``async for`` (and ``await``), with its ``cursor`` to resume from::

    job = await client.job(urls, name="nightly", concurrency=20)
    async for line in client.results(job["id"], follow=True):
        print(line["seq"], line["index"], line["ok"])
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Generator, Mapping
from typing import Any, Optional, cast

from . import _jobs, _request
from ._exchange import Exchange, why
from ._request import BatchRequest, Requests
from ._stream import ProgressCallback
from ._types import Job, JobResult, Progress, Result, Summary
from .client import RECV_BYTES
from .errors import ConnectError, StreamError


class Client:
    """A fanoutd daemon to send batches to, from asyncio code.

    Arguments as :class:`fanoutd.Client`: ``url``, ``token``,
    ``unix_socket``, ``connect_timeout``, ``timeout``, ``ssl_context``.
    Holds no connection: any number of batches may run at once, each on
    its own.
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
        return f"fanoutd.aio.Client({self.endpoint.describe()!r})"

    def batch(self, requests: Requests, *,
              on_progress: Optional[ProgressCallback] = None,
              **options: Any) -> "Batch":
        """One batch, as :meth:`fanoutd.Client.batch`. The request is
        built now (a bad argument raises here) and sent when the batch
        is awaited or first iterated."""
        req = _request.build_batch(self.endpoint, requests, options)
        head = _request.request_head(self.endpoint, self.token, req)
        return Batch(self, head + req.body, on_progress)

    # --- durable jobs: as fanoutd.Client's, awaited ---------------------

    async def job(self, requests: Requests, *, name: Optional[str] = None,
                  ttl_s: Optional[int] = None,
                  idempotency_key: Optional[str] = None,
                  **options: Any) -> Job:
        """Submit a durable job, as :meth:`fanoutd.Client.job`."""
        req, headers = _jobs.create_request(self.endpoint, requests, options,
                                            name, ttl_s, idempotency_key)
        return self._job_doc(await self._document("POST", req, headers))

    async def get_job(self, job_id: str) -> Job:
        """The job as it stands, as :meth:`fanoutd.Client.get_job`."""
        return self._job_doc(await self._document(
            "GET", _jobs.job_target(self.endpoint, job_id)))

    async def jobs(self, state: Optional[_jobs.States] = None,
                   limit: Optional[int] = None,
                   after: Optional[str] = None) -> AsyncIterator[list[Job]]:
        """The jobs a page at a time (``async for page in
        client.jobs()``), as :meth:`fanoutd.Client.jobs`."""
        while True:
            doc = await self._document("GET", _jobs.list_target(
                self.endpoint, state, limit, after))
            yield cast(list[Job], doc["jobs"])
            after = doc["next"]
            if after is None:
                return

    def results(self, job_id: str, after: int = 0, follow: bool = False,
                failed_only: bool = False) -> "JobResults":
        """A job's result lines as they stream, as
        :meth:`fanoutd.Client.results`: a :class:`JobResults` to ``async
        for`` (sent then if not yet awaited), with ``cursor``."""
        req = _jobs.results_target(self.endpoint, job_id, after, follow,
                                   failed_only)
        head = _request.request_head(self.endpoint, self.token, req,
                                     method="GET")
        return JobResults(job_id, after, Batch(self, head, None, "lines",
                                               "request"))

    async def cancel_job(self, job_id: str) -> Job:
        """As :meth:`fanoutd.Client.cancel_job`."""
        return self._job_doc(await self._document(
            "POST", _jobs.job_target(self.endpoint, job_id, "/cancel")))

    async def retry_job(self, job_id: str) -> Job:
        """As :meth:`fanoutd.Client.retry_job`."""
        return self._job_doc(await self._document(
            "POST", _jobs.job_target(self.endpoint, job_id, "/retry")))

    async def delete_job(self, job_id: str) -> None:
        """As :meth:`fanoutd.Client.delete_job`."""
        await self._document("DELETE",
                             _jobs.job_target(self.endpoint, job_id))

    def _job_doc(self, doc: Optional[dict[str, Any]]) -> Job:
        if doc is None or type(doc.get("job")) is not dict:
            raise StreamError(f"fanoutd at {self.endpoint.describe()}: "
                              f"expected {{\"job\": {{...}}}}")
        return cast(Job, doc["job"])

    async def _document(self, method: str, req: BatchRequest,
                        headers: Optional[Mapping[str, str]] = None
                        ) -> dict[str, Any]:
        """One job request and its JSON answer ({} for a 204)."""
        call = _jobs.DocumentCall(self.endpoint.describe(), self.timeout)
        data = _request.request_head(self.endpoint, self.token, req,
                                     method=method,
                                     accept="application/json",
                                     headers=headers) + req.body
        reader, writer = await self._connect()
        try:
            try:
                writer.write(data)
                await writer.drain()
            except OSError as e:
                call.send_failed(e)
            while True:
                try:
                    async with asyncio.timeout(self.timeout):
                        more = await reader.read(RECV_BYTES)
                except OSError as e:  # TimeoutError included
                    raise call.failure(e) from e
                if call.receive(more):
                    break
        finally:
            writer.close()
        return call.result() or {}

    async def _connect(self) -> tuple[asyncio.StreamReader,
                                      asyncio.StreamWriter]:
        """Open a connection to fanoutd (TLS done), or ConnectError."""
        ep = self.endpoint
        try:
            async with asyncio.timeout(self.connect_timeout):
                if ep.unix_path is not None:
                    return await asyncio.open_unix_connection(
                        ep.unix_path, limit=RECV_BYTES)
                ctx = None
                if ep.tls:
                    ctx = self.ssl_context or ssl.create_default_context()
                return await asyncio.open_connection(
                    ep.host, ep.port, ssl=ctx,
                    server_hostname=ep.host if ctx else None,
                    limit=RECV_BYTES)
        except (OSError, ssl.SSLError) as e:
            raise ConnectError(f"cannot connect to fanoutd at "
                               f"{ep.describe()}: {why(e)}") from e


class Batch:
    """One batch's results, an async iterator of result dicts in
    completion order. ``await batch`` sends it (RequestError or
    ConnectError raise there, and again on any later await or
    iteration); iterating sends it too if not yet. ``summary``,
    ``progress``, ``received``, ``collect()`` and ``aclose()`` (also on
    leaving ``async with``) as in :class:`fanoutd.client.Batch`.
    """

    def __init__(self, client: Client, request: bytes,
                 on_progress: Optional[ProgressCallback],
                 count_key: str = "total", what: str = "batch") -> None:
        self._client = client
        self._ex = Exchange(client.endpoint.describe(), client.timeout,
                            on_progress, count_key, what)
        self._request = request
        self._reader: Optional[asyncio.StreamReader] = None
        self._writer: Optional[asyncio.StreamWriter] = None
        self._ready: list[Result] = []
        self._next = 0
        self._started = False
        self._failed: Optional[Exception] = None

    @property
    def summary(self) -> Optional[Summary]:
        return self._ex.decoder.summary

    @property
    def progress(self) -> Optional[Progress]:
        return self._ex.decoder.progress

    @property
    def received(self) -> int:
        return self._ex.decoder.received

    def __await__(self) -> Generator[Any, None, "Batch"]:
        return self._ensure_started().__await__()

    async def _ensure_started(self) -> "Batch":
        """Send the batch once; a batch that failed to start raises its
        error again on every later await or iteration."""
        if self._failed is not None:
            raise self._failed
        if not self._started:
            self._started = True
            try:
                self._reader, self._writer = await self._client._connect()
                await self._start()
            except Exception as e:
                self._close_writer()
                self._failed = e
                raise
            except BaseException:  # cancelled: nothing more to give
                self._close_writer()
                raise
        return self

    async def _recv(self) -> bytes:
        """The next bytes from fanoutd (b"" at the close), or the
        exchange's exception for the phase."""
        assert self._reader is not None
        try:
            if self._ex.timeout is None:
                return await self._reader.read(RECV_BYTES)
            async with asyncio.timeout(self._ex.timeout):
                return await self._reader.read(RECV_BYTES)
        except OSError as e:  # TimeoutError included
            raise self._ex.failure(e) from e

    async def _start(self) -> None:
        """Send the request and read until the stream began (RequestError
        for a refused batch); the first results are queued."""
        assert self._writer is not None
        try:
            self._writer.write(self._request)
            await self._writer.drain()
        except OSError as e:
            self._ex.send_failed(e)
        while not self._ex.started:
            self._ready = self._ex.receive(await self._recv())

    async def _fill(self) -> None:
        """Read until results are ready or the stream ended; the
        connection is closed at the end and on any error (cancellation
        included)."""
        try:
            while not self._ready and self._ex.wants_data():
                self._ready = self._ex.receive(await self._recv())
                self._next = 0
        except BaseException:
            self._close_writer()
            raise
        if self._ex.at_end:
            self._close_writer()

    def __aiter__(self) -> "Batch":
        return self

    async def __anext__(self) -> Result:
        if not self._started or self._failed is not None:
            await self._ensure_started()
        if self._next >= len(self._ready):
            self._ready = []
            self._next = 0
            if self._writer is not None:
                await self._fill()
            if not self._ready:
                raise StopAsyncIteration
        r = self._ready[self._next]
        self._next += 1
        return r

    async def collect(self) -> list[Result]:
        """Every remaining result, in input order (by ``index``)."""
        return sorted([r async for r in self], key=lambda r: r["index"])

    def _close_writer(self) -> None:
        self._started = True
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    async def aclose(self) -> None:
        """Drop the connection: fanoutd cancels the unfinished items."""
        self._ready = []
        self._next = 0
        writer = self._writer
        self._close_writer()
        if writer is not None:
            try:
                await writer.wait_closed()
            except OSError:
                pass

    async def __aenter__(self) -> "Batch":
        return await self._ensure_started()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class JobResults(_jobs.ResultsCursor):
    """A job's result lines as they stream, from asyncio code: ``async
    for`` gives :class:`~fanoutd.JobResult` dicts in seq order; ``await
    results`` sends the request (a 404 raises there), iterating sends it
    if not yet. ``cursor``, ``summary``, ``job``, ``received`` and the
    StreamError of a lost connection as in
    :class:`fanoutd.client.JobResults`; ``aclose()`` or ``async with``.
    """

    def __init__(self, job_id: str, after: int, stream: Batch) -> None:
        super().__init__(job_id, after, stream)
        self._stream = stream

    def __await__(self) -> Generator[Any, None, "JobResults"]:
        return self._start().__await__()

    async def _start(self) -> "JobResults":
        await self._stream
        return self

    def __aiter__(self) -> "JobResults":
        return self

    async def __anext__(self) -> JobResult:
        r = cast(JobResult, await self._stream.__anext__())
        self.cursor = r["seq"]
        return r

    async def aclose(self) -> None:
        """Drop the connection (the job is not affected)."""
        await self._stream.aclose()

    async def __aenter__(self) -> "JobResults":
        return await self._start()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
