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
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Mapping
from typing import Any, Optional

from . import _request
from ._http import IncompleteResponse, ProtocolError, ResponseReader
from ._request import Endpoint, Requests
from ._stream import (MAX_ERROR_BYTES, ProgressCallback, StreamDecoder,
                      check_stream_head, request_error)
from ._types import Progress, Result, Summary
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
                               f"{ep.describe()}: {_why(e)}") from e


def _why(e: BaseException) -> str:
    """An OSError in words (a timeout says so)."""
    if isinstance(e, TimeoutError):
        return "timed out"
    return e.strerror or str(e) if isinstance(e, OSError) else str(e)


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
                 on_progress: Optional[ProgressCallback]) -> None:
        self._where = client.endpoint.describe()
        self._timeout = client.timeout
        self._ready: list[Result] = []
        self._next = 0
        self._finished = False
        self._sock = client._connect()
        try:
            self._decoder = self._start(request, on_progress)
        except BaseException:
            self.close()
            raise

    @property
    def summary(self) -> Optional[Summary]:
        return self._decoder.summary

    @property
    def progress(self) -> Optional[Progress]:
        return self._decoder.progress

    @property
    def received(self) -> int:
        return self._decoder.received

    def _recv(self) -> bytes:
        """The next bytes from fanoutd (b"" at the close); OSError mapped
        by the caller."""
        return self._sock.recv(RECV_BYTES)

    def _start(self, request: bytes,
               on_progress: Optional[ProgressCallback]) -> StreamDecoder:
        """Send the request, read the response head; raise RequestError
        for a refused batch. Returns the decoder, first results queued."""
        reader = ResponseReader()
        pieces: list[bytes] = []
        sent_error: Optional[OSError] = None
        try:
            self._sock.sendall(request)
        except OSError as e:
            # fanoutd may have answered (413) and closed before reading
            # everything: read on, and report the send only if no answer.
            sent_error = e
        try:
            while reader.head is None:
                data = self._recv()
                pieces = reader.feed(data) if data else reader.feed_eof()
        except (OSError, IncompleteResponse) as e:
            cause = sent_error or e
            raise ConnectError(f"no response from fanoutd at "
                               f"{self._where}: {_why(cause)}") from cause
        except ProtocolError as e:
            raise StreamError(f"fanoutd at {self._where}: {e}") from e
        head = reader.head
        if head.status != 200:
            raise request_error(head, self._error_body(reader, pieces))
        decoder = StreamDecoder(reader, on_progress)
        try:
            check_stream_head(head)
            self._ready = decoder.feed_body(pieces)
        except ProtocolError as e:
            raise StreamError(f"fanoutd at {self._where}: {e}") from e
        return decoder

    def _error_body(self, reader: ResponseReader,
                    pieces: list[bytes]) -> bytes:
        """A refused batch's body (as much as arrives, up to a bound)."""
        body = bytearray(b"".join(pieces))
        try:
            while not reader.done and len(body) < MAX_ERROR_BYTES:
                data = self._recv()
                for p in (reader.feed(data) if data else reader.feed_eof()):
                    body += p
        except (OSError, ProtocolError):
            pass  # the status says enough; the message may be cut
        return bytes(body)

    def _fill(self) -> None:
        """Read until results are ready or the stream ended."""
        decoder = self._decoder
        try:
            while not self._ready and not self._finished:
                # Faults and the end are reported once every result
                # before them was returned.
                decoder.check_broken()
                if decoder.reader.done:
                    self._finish()
                    decoder.check_end()
                    break
                data = self._recv()
                if not data:
                    self._finish()
                    decoder.feed_eof()
                    break
                self._ready = decoder.feed(data)
                self._next = 0
        except ProtocolError as e:
            self.close()
            raise StreamError(f"fanoutd at {self._where}: {e}") from e
        except TimeoutError as e:
            self.close()
            raise StreamError(f"no data from fanoutd at {self._where} for "
                              f"{self._timeout} s") from e
        except OSError as e:
            self.close()
            raise StreamError(f"reading from fanoutd at {self._where} "
                              f"failed: {_why(e)}") from e
        except BaseException:
            self.close()
            raise

    def __iter__(self) -> "Batch":
        return self

    def __next__(self) -> Result:
        if self._next >= len(self._ready):
            self._ready = []
            self._next = 0
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

    def _finish(self) -> None:
        self._finished = True
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def close(self) -> None:
        """Drop the connection: fanoutd cancels the unfinished items.
        Results not yet returned are discarded."""
        self._ready = []
        self._next = 0
        self._finish()

    def __enter__(self) -> "Batch":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
