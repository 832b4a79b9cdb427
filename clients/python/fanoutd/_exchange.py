"""One batch's exchange with fanoutd, without I/O: what both clients run.

The blocking client reads with ``socket.recv``, the asyncio one with
``StreamReader.read``; everything between those bytes and the caller is
here, so the two frame, decode and fail alike. A client sends the request
(reporting a failed send with :meth:`Exchange.send_failed`: fanoutd may
have answered before reading it all, as with a 413), then feeds every
read to :meth:`Exchange.receive` (``b""`` at the close):

- until ``started``: the response head. A refusal (any status but 200)
  raises :class:`~fanoutd.errors.RequestError` with fanoutd's JSON error
  once its body is in; no response raises
  :class:`~fanoutd.errors.ConnectError`.
- then while :meth:`Exchange.wants_data`: the stream, each read giving
  the results it completed. A fault found after some results is raised
  by the next ``wants_data`` (every result that arrived whole comes
  first), as :class:`~fanoutd.errors.StreamError`.

A read that fails (an ``OSError``, a timeout) is turned into the right
exception for the phase by :meth:`Exchange.failure`.
"""

from __future__ import annotations

from typing import Optional

from ._http import IncompleteResponse, ProtocolError, ResponseReader
from ._stream import (MAX_ERROR_BYTES, ProgressCallback, StreamDecoder,
                      check_stream_head, request_error)
from ._types import Result
from .errors import ConnectError, FanoutdError, StreamError


def why(e: BaseException) -> str:
    """An exception in words for a message (a timeout says so)."""
    if isinstance(e, TimeoutError):
        return "timed out"
    return e.strerror or str(e) if isinstance(e, OSError) else str(e)


class Exchange:
    """The response side of one POST /v1/batch (see the module text), or
    of one GET /v1/jobs/ID/results (``count_key="lines"``,
    ``what="request"``: see :class:`~fanoutd._stream.StreamDecoder`).

    ``where`` names fanoutd in messages; ``timeout`` is the read timeout
    the client applies (for the message when it fires). ``decoder`` is
    the stream's :class:`~fanoutd._stream.StreamDecoder` (``summary``,
    ``progress``, ``received``).
    """

    # What is awaited: the response head, the rest of a refusal's body,
    # the stream; or nothing (the stream ended whole).
    HEAD, REFUSED, STREAM, DONE = range(4)

    def __init__(self, where: str, timeout: Optional[float],
                 on_progress: Optional[ProgressCallback],
                 count_key: str = "total", what: str = "batch") -> None:
        self.where = where
        self.timeout = timeout
        self.what = what
        self.reader = ResponseReader()
        self.decoder = StreamDecoder(self.reader, on_progress, count_key)
        self.state = self.HEAD
        self._send_error: Optional[OSError] = None
        self._refusal = bytearray()

    def send_failed(self, e: OSError) -> None:
        """Sending the request failed: read on, since fanoutd may have
        answered; the send is the cause if no answer came."""
        self._send_error = e

    @property
    def started(self) -> bool:
        """fanoutd accepted the batch: its stream has begun."""
        return self.state >= self.STREAM

    @property
    def at_end(self) -> bool:
        """No more bytes will be needed (the connection may go)."""
        return self.state == self.DONE or self.reader.done

    def receive(self, data: bytes) -> list[Result]:
        """The bytes of one read (``b""``: the connection closed); returns
        the results they completed, in stream order."""
        if self.state == self.HEAD:
            return self._head(data)
        if self.state == self.REFUSED:
            return self._refused(data)
        if self.state == self.DONE:
            return []
        try:
            if data:
                return self.decoder.feed(data)
            self.state = self.DONE
            self.decoder.feed_eof()
            return []
        except ProtocolError as e:
            raise self._broken(e) from e

    def wants_data(self) -> bool:
        """True while the stream needs more bytes, False once it ended
        whole; raises the StreamError found after the results already
        returned."""
        if self.state != self.STREAM:
            return self.state != self.DONE
        try:
            self.decoder.check_broken()
            if self.reader.done:
                self.state = self.DONE
                self.decoder.check_end()
                return False
        except ProtocolError as e:
            self.state = self.DONE
            raise self._broken(e) from e
        return True

    def failure(self, e: BaseException) -> FanoutdError:
        """The exception for a read that failed with ``e`` (raise it
        ``from e``)."""
        if self.state == self.REFUSED:
            return self._refusal_error()  # the status says enough
        if self.state == self.HEAD:
            cause = self._send_error or e
            return ConnectError(f"no response from fanoutd at "
                                f"{self.where}: {why(cause)}")
        self.state = self.DONE
        if isinstance(e, TimeoutError):
            return StreamError(f"no data from fanoutd at {self.where} for "
                               f"{self.timeout} s")
        return StreamError(f"reading from fanoutd at {self.where} "
                           f"failed: {why(e)}")

    def _head(self, data: bytes) -> list[Result]:
        """Read the response head: a refusal, or the stream's start."""
        reader = self.reader
        try:
            pieces = reader.feed(data) if data else reader.feed_eof()
        except IncompleteResponse as e:
            cause = self._send_error or e
            raise ConnectError(f"no response from fanoutd at "
                               f"{self.where}: {why(cause)}") from cause
        except ProtocolError as e:
            raise self._broken(e) from e
        if reader.head is None:
            return []
        if reader.head.status != 200:
            self.state = self.REFUSED
            self._refusal += b"".join(pieces)
            if reader.done or len(self._refusal) >= MAX_ERROR_BYTES:
                raise self._refusal_error()
            return []
        try:
            check_stream_head(reader.head)
            self.state = self.STREAM
            return self.decoder.feed_body(pieces)
        except ProtocolError as e:
            raise self._broken(e) from e

    def _refused(self, data: bytes) -> list[Result]:
        """More of a refusal's body; raises RequestError once it is in
        (or cut: the status says enough, the message may be short)."""
        try:
            for piece in (self.reader.feed(data) if data
                          else self.reader.feed_eof()):
                self._refusal += piece
        except ProtocolError:
            raise self._refusal_error() from None
        if self.reader.done or len(self._refusal) >= MAX_ERROR_BYTES:
            raise self._refusal_error()
        return []

    def _refusal_error(self) -> FanoutdError:
        self.state = self.DONE
        assert self.reader.head is not None
        return request_error(self.reader.head, bytes(self._refusal),
                             self.what)

    def _broken(self, e: ProtocolError) -> StreamError:
        self.state = self.DONE
        return StreamError(f"fanoutd at {self.where}: {e}")
