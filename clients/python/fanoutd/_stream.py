"""fanoutd's answer to a batch, without I/O: response bytes in, results out.

Shared by both clients. :func:`request_error` turns a refused batch (any
status but 200) into :class:`~fanoutd.errors.RequestError`;
:func:`check_stream_head` accepts only the NDJSON stream;
:class:`StreamDecoder` takes the response's raw bytes as the socket
returns them (through :class:`~fanoutd._http.ResponseReader`), splits the
body into lines as they complete, parses each line as it arrives (never
the whole response) and sorts them: result lines are returned, progress
lines go to the callback and to ``progress``, the summary line to
``summary``. It holds the stream to its contract (DESIGN.md §1): every
line one JSON object of a known kind, nothing after the summary, one
result per item (the summary's ``total``), and the summary before the end.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any, Optional

from ._http import ProtocolError, ResponseHead, ResponseReader
from ._types import Progress, Result, Summary
from .errors import RequestError

#: The longest line accepted: a result with a 16 MiB body (the servers'
#: cap) in base64 and its headers fits with room to spare.
MAX_LINE_BYTES = 64 * 1024 * 1024
#: How much of a refused batch's error body is read.
MAX_ERROR_BYTES = 1024 * 1024

ProgressCallback = Callable[[Progress], Any]

_decode = json.JSONDecoder().decode


def request_error(head: ResponseHead, body: bytes,
                  what: str = "batch") -> RequestError:
    """The RequestError for a response that is not the stream (or not
    a success): fanoutd's JSON error when the body is one, else the
    status and the body's first line (or the reason phrase). ``what``
    names the request refused ("batch", "request")."""
    retry_after = None
    ra = head.get("retry-after")
    if ra is not None and ra.strip().isdigit():
        retry_after = float(ra.strip())
    try:
        doc = json.loads(body)
        err = doc["error"]
        if isinstance(err, dict) and isinstance(err.get("type"), str) \
                and isinstance(err.get("message"), str):
            return RequestError(head.status, err["type"], err["message"],
                                err, retry_after, what)
    except (ValueError, TypeError, KeyError):
        pass
    text = body.decode("utf-8", "replace").strip().split("\n", 1)[0]
    return RequestError(head.status, "http",
                        text[:200] or head.reason or "no message",
                        None, retry_after, what)


def check_stream_head(head: ResponseHead) -> None:
    """Raise ProtocolError unless a 200 answer is the NDJSON stream."""
    ctype = (head.get("content-type") or "").split(";")[0].strip().lower()
    if ctype != "application/x-ndjson":
        raise ProtocolError(f"expected application/x-ndjson, got a 200 "
                            f"with Content-Type {ctype or 'none'!r}")


class StreamDecoder:
    """The NDJSON stream of one batch, fed raw response bytes.

    ``feed(data)`` returns the result dicts completed by ``data``, in
    stream (completion) order; ``feed_eof()`` checks the stream ended
    whole. ``summary`` is set when the summary line arrives, ``progress``
    to the latest progress line (each also passed to ``on_progress``),
    ``received`` counts result lines. Malformed input raises
    ProtocolError naming the line.

    ``count_key`` is the summary's member that must equal the number of
    result lines: ``total`` for a batch, ``lines`` for a job's results
    (whose summary is ``{"job": {...}, "lines": N}``).
    """

    def __init__(self, reader: ResponseReader,
                 on_progress: Optional[ProgressCallback] = None,
                 count_key: str = "total") -> None:
        self.reader = reader
        self.count_key = count_key
        self.on_progress = on_progress
        self.summary: Optional[Summary] = None
        self.progress: Optional[Progress] = None
        self.received = 0
        self._parts: list[bytes] = []  # an incomplete last line
        self._partlen = 0
        self._broken: Optional[ProtocolError] = None
        self._nonce = random.getrandbits(62)
        self._sep = f",\n{self._nonce},"

    def feed(self, data: bytes) -> list[Result]:
        self.check_broken()
        try:
            pieces = self.reader.feed(data)
        except ProtocolError as e:
            self._broken = e
            pieces = []  # what the reader took before the fault is lost
        return self.feed_body(pieces)

    def feed_body(self, pieces: list[bytes]) -> list[Result]:
        """Body bytes already taken from the reader (read with the head).

        When a line is malformed, the results before it are returned
        and the error is raised by the next call (check_broken): every
        result that arrived whole is delivered first."""
        out: list[Result] = []
        try:
            for piece in pieces:
                self._lines(piece, out)
        except ProtocolError as e:
            self._broken = e
        if not out:
            self.check_broken()
        return out

    def check_broken(self) -> None:
        """Raise the ProtocolError found after the results returned."""
        if self._broken is not None:
            raise self._broken
        if self.reader.pending_error is not None:
            raise self.reader.pending_error

    def _lines(self, data: bytes, out: list[Result]) -> None:
        """Complete lines of ``data`` (with what came before) into out."""
        cut = data.rfind(b"\n")
        if cut < 0:
            self._partlen += len(data)
            if self._partlen > MAX_LINE_BYTES:
                raise ProtocolError(f"a line over {MAX_LINE_BYTES} bytes")
            self._parts.append(data)
            return
        if self._parts:
            self._parts.append(data[:cut])
            block = b"".join(self._parts)
            self._parts = []
        else:
            block = data[:cut]
        rest = data[cut + 1:]
        self._partlen = len(rest)
        if rest:
            self._parts.append(rest)
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ProtocolError(f"the stream is not UTF-8: {e}") from None
        objs = self._parse_block(text)
        if objs is None:  # some line is not a JSON value: find which
            for line in text.split("\n"):
                self._line(line, out)
            return
        for obj in objs:
            if type(obj) is dict and "index" in obj and self.summary is None:
                self.received += 1
                out.append(obj)  # type: ignore[arg-type]
            else:
                self._object(obj, None, out)

    def _parse_block(self, text: str) -> Optional[list[Any]]:
        """Every line of ``text`` parsed, in one decoder call; None when
        any line is not a JSON value on its own.

        One call per block, not per line, is what makes the client fast
        (the decoder's per-call cost and its key memo shared by the
        block). The lines are joined as ``[L1, S, L2, S, ...]``, S a
        random number drawn per stream: a line's value can neither
        swallow the line break (no JSON string holds a raw newline) nor
        span lines unseen (a value spread over lines takes the S between
        them with it, so the S's no longer fall on every other place)."""
        n = text.count("\n") + 1
        try:
            objs = _decode("[" + text.replace("\n", self._sep) + "]")
        except ValueError:
            return None
        if type(objs) is not list or len(objs) != 2 * n - 1 or \
                objs[1::2].count(self._nonce) != n - 1:
            return None
        values: list[Any] = objs[0::2]
        return values

    def _line(self, line: str, out: list[Result]) -> None:
        """One line on its own (the slow path: it names a bad line)."""
        try:
            obj = _decode(line)
        except ValueError:
            if not line.strip():  # fanoutd may space a line out
                return
            raise ProtocolError(f"not a JSON line: {line[:80]!r}") from None
        self._object(obj, line, out)

    def _object(self, obj: Any, line: Optional[str],
                out: list[Result]) -> None:
        """One line's value: a result into out, or progress, or the
        summary; ProtocolError for anything else, or for a line after the
        summary. ``line`` is the text, for messages (None: rebuilt)."""
        if line is None:
            line = json.dumps(obj)
        if self.summary is not None:
            raise ProtocolError(f"a line after the summary: {line[:80]!r}")
        if type(obj) is not dict:
            raise ProtocolError(f"not a JSON object: {line[:80]!r}")
        if "index" in obj:
            self.received += 1
            out.append(obj)  # type: ignore[arg-type]
        elif "progress" in obj:
            self.progress = obj["progress"]
            if self.on_progress is not None:
                self.on_progress(obj["progress"])
        elif "summary" in obj:
            summary = obj["summary"]
            if type(summary) is not dict or \
                    summary.get(self.count_key) != self.received:
                raise ProtocolError(
                    f"{self.received} result lines for a summary of "
                    f"{line[:120]!r}")
            self.summary = summary  # type: ignore[assignment]
        else:
            raise ProtocolError(f"a line of no known kind: {line[:80]!r}")

    def feed_eof(self) -> None:
        """The connection closed: the response and the stream must be
        complete (ProtocolError says what is missing)."""
        self.check_broken()
        self.reader.feed_eof()
        self.check_end()

    def check_end(self) -> None:
        """At the body's end: no partial line, and the summary arrived."""
        self.check_broken()
        rest = b"".join(self._parts)
        if rest.strip():
            raise ProtocolError(f"the stream ended inside a line: "
                                f"{rest[:80]!r}")
        if self.summary is None:
            raise ProtocolError(f"the stream ended before its summary "
                                f"({self.received} results received)")
