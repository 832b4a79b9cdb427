"""An HTTP/1.1 response reader without I/O: bytes in, head and body out.

asyncio has no HTTP client, and the standard library's http.client is
blocking; both clients of this package read fanoutd's response through
this one reader instead, so they frame it the same way and fail the same
way. Feed it whatever the socket returned, in pieces of any size
(:meth:`ResponseReader.feed`); it parses the head (RFC 9112 §4, §5),
skips interim 1xx responses (RFC 9110 §15.2), frames the body by RFC 9112
§6.3 (chunked, Content-Length, or to the close) and returns the body's
bytes as they come, never buffering more than one incomplete line of
framing. Chunks are decoded per RFC 9112 §7.1: extensions are ignored
(§7.1.1), trailer fields are parsed and kept apart, never merged into the
head (§7.1.2, RFC 9110 §6.5.1), and one huge chunk streams in pieces.

Anything that is not such a response raises :class:`ProtocolError`; the
clients turn it into :class:`~fanoutd.errors.StreamError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional, Union

MAX_HEAD_BYTES = 64 * 1024  # a response head, or all of a chunked trailer
MAX_LINE_BYTES = 8 * 1024  # one chunk-size line, extensions included

_STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([0-9]{3})(?: (.*))?")
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")


class ProtocolError(Exception):
    """The bytes are not an HTTP/1.1 response this reader accepts."""


class IncompleteResponse(ProtocolError):
    """The connection closed before the response was complete."""


@dataclass
class ResponseHead:
    """A final response's status line and fields. ``fields`` maps each
    lower-cased name to its values in order (one per field line)."""

    status: int
    reason: str
    minor_version: int
    fields: dict[str, list[str]] = field(default_factory=dict)

    def get(self, name: str) -> Optional[str]:
        """The field's values joined with ", " (RFC 9110 §5.3), or None."""
        values = self.fields.get(name.lower())
        return None if values is None else ", ".join(values)


def _find_blank_line(buf: bytearray, start: int) -> tuple[int, int]:
    """Scan ``buf`` from ``start`` (the start of a line) for an empty
    line ending the head. Returns (end, next_start): end is the offset
    past the empty line, or -1 when not there yet; next_start is where a
    later scan may resume. A bare LF ends a line too (RFC 9112 §2.2)."""
    pos = start
    while True:
        nl = buf.find(b"\n", pos)
        if nl < 0:
            return -1, pos
        if pos > 0 and (nl == pos or (nl == pos + 1 and buf[pos] == 0x0D)):
            return nl + 1, nl + 1
        pos = nl + 1


def _parse_fields(lines: list[bytes], into: dict[str, list[str]],
                  what: str) -> None:
    """Field lines (``name: value``, RFC 9112 §5) into ``into``. An
    obs-fold continuation is joined with a space (§5.2, user agents)."""
    last: Optional[list[str]] = None
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            if last is None:
                raise ProtocolError(f"{what}: a continuation line with no "
                                    "field before it")
            last[-1] = (last[-1] + " " + line.strip(b" \t").decode(
                "latin-1")).strip()
            continue
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name):
            raise ProtocolError(f"{what}: not a field line: "
                                f"{line[:60]!r}")
        last = into.setdefault(name.decode("ascii").lower(), [])
        last.append(value.strip(b" \t").decode("latin-1"))


def _parse_head(block: bytes) -> ResponseHead:
    """A response head (status line and field lines, the blank line
    included) into a ResponseHead (RFC 9112 §4, §5)."""
    lines = [ln[:-1] if ln.endswith(b"\r") else ln
             for ln in block.split(b"\n")]
    while lines and not lines[-1]:
        lines.pop()
    m = _STATUS_LINE.fullmatch(lines[0]) if lines else None
    if m is None:
        raise ProtocolError("not an HTTP/1.1 response: "
                            f"{bytes(block[:60])!r}")
    head = ResponseHead(status=int(m.group(2)),
                        reason=(m.group(3) or b"").decode("latin-1"),
                        minor_version=int(m.group(1)))
    _parse_fields(lines[1:], head.fields, "response head")
    return head


class _Length:
    """A body of Content-Length bytes."""

    def __init__(self, n: int) -> None:
        self.left = n
        self.done = n == 0

    def feed(self, data: bytes) -> list[bytes]:
        if len(data) > self.left:
            raise ProtocolError("bytes after the end of the response")
        self.left -= len(data)
        self.done = self.left == 0
        return [data] if data else []

    def eof(self) -> None:
        if not self.done:
            raise IncompleteResponse(f"the connection closed {self.left} "
                                     "bytes before the body's end")


class _UntilClose:
    """A body delimited by the connection's close (RFC 9112 §6.3 rule 8)."""

    done = False

    def feed(self, data: bytes) -> list[bytes]:
        return [data] if data else []

    def eof(self) -> None:
        self.done = True


class ChunkedDecoder:
    """The chunked transfer coding (RFC 9112 §7.1), incrementally.

    ``feed`` returns the chunk data found so far, in pieces; ``done`` is
    true once the last chunk and the trailer section were read, and
    ``trailers`` then holds the trailer fields (lower-cased names). CR LF
    ends every framing line here: a bare LF is a ProtocolError.
    """

    # One state per thing awaited: a size line, chunk data, the CR LF
    # after the data, a trailer line, nothing (done).
    SIZE, DATA, DATA_END, TRAILER, DONE = range(5)

    def __init__(self) -> None:
        self.state = self.SIZE
        self.left = 0  # data bytes still due in the current chunk
        self.trailers: dict[str, list[str]] = {}
        self.done = False
        self.error: Optional[ProtocolError] = None  # found, not raised yet
        self._buf = bytearray()
        self._trailer_lines: list[bytes] = []
        self._trailer_bytes = 0

    def _line(self, pos: int, limit: int) -> tuple[Optional[bytes], int]:
        """The CR LF-terminated line at ``pos`` without its CR LF, and the
        offset after it; (None, pos) when it is not all there yet."""
        nl = self._buf.find(b"\n", pos)
        if nl < 0:
            if len(self._buf) - pos > limit:
                raise ProtocolError(f"a chunked-body line over {limit} "
                                    "bytes")
            return None, pos
        if nl == pos or self._buf[nl - 1] != 0x0D:
            raise ProtocolError("a chunked-body line not ended by CR LF")
        if nl - pos > limit:
            raise ProtocolError(f"a chunked-body line over {limit} bytes")
        return bytes(self._buf[pos:nl - 1]), nl + 1

    def _size(self, line: bytes) -> int:
        """chunk-size [ chunk-ext ] (§7.1, §7.1.1): the size; extensions,
        after BWS and ';', are ignored as the RFC requires of recipients
        that do not know them."""
        size, _, ext = line.partition(b";")
        size = size.rstrip(b" \t")
        if not _HEX.fullmatch(size):
            raise ProtocolError(f"bad chunk size {line[:40]!r}")
        if any(c < 0x20 and c != 0x09 or c == 0x7F for c in ext):
            raise ProtocolError("a control character in a chunk extension")
        return int(size, 16)

    def feed(self, data: bytes) -> list[bytes]:
        """Decode ``data`` (any piece of the body); returns chunk data.
        A fault after some data is raised by the next call, so the data
        before it is delivered first."""
        if self.error is not None:
            raise self.error
        if self.done:
            if data:
                raise ProtocolError("bytes after the end of the response")
            return []
        out: list[bytes] = []
        try:
            self._decode(data, out)
        except ProtocolError as e:
            if not out:
                raise
            self.error = e
        return out

    def _decode(self, data: bytes, out: list[bytes]) -> None:
        """The state machine: consume ``data``, append chunk data to out."""
        buf = self._buf
        buf += data
        pos = 0
        while True:
            if self.state == self.DATA:
                take = min(len(buf) - pos, self.left)
                if take == 0:
                    break
                out.append(bytes(buf[pos:pos + take]))
                pos += take
                self.left -= take
                if self.left == 0:
                    self.state = self.DATA_END
            elif self.state == self.DATA_END:
                if len(buf) - pos < 2:
                    break
                if buf[pos:pos + 2] != b"\r\n":
                    raise ProtocolError("chunk data not followed by CR LF")
                pos += 2
                self.state = self.SIZE
            elif self.state == self.SIZE:
                line, pos = self._line(pos, MAX_LINE_BYTES)
                if line is None:
                    break
                self.left = self._size(line)
                self.state = self.DATA if self.left else self.TRAILER
            elif self.state == self.TRAILER:
                line, after = self._line(pos, MAX_HEAD_BYTES)
                if line is None:
                    break
                self._trailer_bytes += after - pos
                if self._trailer_bytes > MAX_HEAD_BYTES:
                    raise ProtocolError("a trailer section over "
                                        f"{MAX_HEAD_BYTES} bytes")
                pos = after
                if line:
                    self._trailer_lines.append(line)
                    continue
                _parse_fields(self._trailer_lines, self.trailers, "trailer")
                self.state = self.DONE
                self.done = True
                if pos < len(buf):
                    raise ProtocolError("bytes after the end of the "
                                        "response")
                break
        del buf[:pos]

    def eof(self) -> None:
        if self.error is not None:
            raise self.error
        if not self.done:
            raise IncompleteResponse("the connection closed inside the "
                                     "chunked body")


_Body = Union[_Length, _UntilClose, ChunkedDecoder]


def _framing(head: ResponseHead) -> _Body:
    """The body decoder RFC 9112 §6.3 picks for this response head."""
    if head.status in (204, 304):
        return _Length(0)
    te = head.get("transfer-encoding")
    if te is not None:
        codings = [c.strip().lower() for c in te.split(",") if c.strip()]
        if codings != ["chunked"]:
            # We send no TE, so chunked is the only coding a server may
            # use (RFC 9112 §6.1); anything else cannot be decoded.
            raise ProtocolError(f"unsupported Transfer-Encoding {te!r}")
        return ChunkedDecoder()
    cl = head.get("content-length")
    if cl is not None:
        values = {v.strip() for v in cl.split(",")}
        if len(values) != 1 or not next(iter(values)).isdigit():
            raise ProtocolError(f"bad Content-Length {cl!r}")
        return _Length(int(values.pop()))
    return _UntilClose()


class ResponseReader:
    """One HTTP/1.1 response, fed in pieces.

    ``feed(data)`` returns the body bytes ``data`` completed (a list of
    pieces, maybe empty); ``head`` is set once the final response's head
    is in. ``feed_eof()`` says the connection closed: it raises
    IncompleteResponse unless the response is complete (a body delimited
    by the close is complete then). ``done`` is true at the body's end.
    """

    def __init__(self) -> None:
        self.head: Optional[ResponseHead] = None
        self.done = False
        self._buf = bytearray()
        self._scan = 0
        self._body: Optional[_Body] = None

    @property
    def pending_error(self) -> Optional[ProtocolError]:
        """A fault found after the body bytes last returned: the next
        feed raises it."""
        return getattr(self._body, "error", None)

    @property
    def trailers(self) -> dict[str, list[str]]:
        """The chunked trailer fields, once done (else empty)."""
        return getattr(self._body, "trailers", {})

    def feed(self, data: bytes) -> list[bytes]:
        if self._body is None:
            self._buf += data
            if not self._read_head():
                return []
            data = bytes(self._buf)
            self._buf = bytearray()
        assert self._body is not None  # set with the head
        out = self._body.feed(data)
        self.done = self._body.done
        return out

    def _read_head(self) -> bool:
        """Parse final-response head from the buffer, skipping interim
        ones; True once it is in and the body decoder is chosen."""
        while True:
            end, self._scan = _find_blank_line(self._buf, self._scan)
            if end < 0:
                if len(self._buf) > MAX_HEAD_BYTES:
                    raise ProtocolError("a response head over "
                                        f"{MAX_HEAD_BYTES} bytes")
                return False
            head = _parse_head(bytes(self._buf[:end]))
            del self._buf[:end]
            self._scan = 0
            if head.status == 101:
                raise ProtocolError("101 Switching Protocols: none asked")
            if head.status >= 200:
                break
        self.head = head
        self._body = _framing(head)
        return True

    def feed_eof(self) -> list[bytes]:
        if self._body is None:
            raise IncompleteResponse("the connection closed before a "
                                     "response head"
                                     + (" was complete" if self._buf
                                        else ""))
        self._body.eof()
        self.done = True
        return []
