"""The one exception type of the fanoutd client, for whole requests only.

An item that fails (dns, timeout, an HTTP 500 from its upstream) is a
result line like any other, never an exception: the batch goes on. What
raises is the batch as a whole, always as :class:`FanoutdError` (catch
that one type), which carries the JSON error::

    try:
        for r in client.batch(urls, concurrency=50):
            ...
    except fanoutd.FanoutdError as e:
        print(e.status, e.error)   # 400 {'type': 'bad_request', 'message':
                                   #      'options.rate: expected a number
                                   #       from 0 to 1000000000'}

``e.error`` is fanoutd's own ``{"type": ..., "message": ...}`` when it
refused the batch, and one in the same shape made by the client when no
answer came (``type`` ``"connect"`` or ``"stream"``). Three subclasses
say which case it was, for callers that care:

- :class:`RequestError`: fanoutd answered the batch with a 4xx or 5xx
  status and its JSON error (a bad option, a bad token, too many items,
  too many batches, draining); ``status`` is set, and ``retry_after``
  when fanoutd sent ``Retry-After`` (429, 503).
- :class:`ConnectError` (type ``connect``): no response came: fanoutd
  could not be reached, the request could not be sent, or the connection
  closed before a response head. No result was delivered.
- :class:`StreamError` (type ``stream``): the response began but broke:
  the connection closed before the summary, a read timed out, or the
  bytes were not the stream fanoutd sends. The results already delivered
  stand.

The two transport ones derive from :class:`TransportError`, with the
underlying ``OSError`` (when there was one) as ``__cause__``.
"""

from __future__ import annotations

from typing import Any, Optional


class FanoutdError(Exception):
    """A whole request failed; item failures are results, never this.

    Attributes: ``error``, the JSON error object (``{"type": ...,
    "message": ...}``, fanoutd's own for a refused batch); ``type`` and
    ``message``, its two fields; ``status``, the HTTP status of a refusal
    (None when no response came); ``retry_after``, seconds from a
    ``Retry-After`` header (429, 503), or None.
    """

    #: ``error.type`` when the client makes the error itself.
    default_type = "client"

    def __init__(self, message: str, *, type: Optional[str] = None,
                 status: Optional[int] = None,
                 error: Optional[dict[str, Any]] = None,
                 retry_after: Optional[float] = None) -> None:
        super().__init__(message)
        self.type: str = type or self.default_type
        self.message = message
        self.status = status
        self.error: dict[str, Any] = (
            error if error is not None
            else {"type": self.type, "message": message})
        self.retry_after = retry_after


class RequestError(FanoutdError):
    """fanoutd refused the whole batch (HTTP 4xx/5xx, before any result),
    or a job request (``what`` says which: ``"batch"``, ``"request"``):
    404 no such job, 409 not in a state that allows it, 413, 429
    ``too_many_jobs``, 503, 507 ``insufficient_storage``.

    ``type`` and ``message`` are fanoutd's JSON error's; when the body was
    not fanoutd's JSON, ``type`` is ``"http"``, ``message`` the body's
    first line, and ``error`` is made in the same shape.
    """

    default_type = "http"

    def __init__(self, status: int, type: str, message: str,
                 error: Optional[dict[str, Any]] = None,
                 retry_after: Optional[float] = None,
                 what: str = "batch") -> None:
        super().__init__(message, type=type, status=status, error=error,
                         retry_after=retry_after)
        self.what = what

    def __str__(self) -> str:
        return (f"fanoutd refused the {self.what}: {self.status} "
                f"{self.type}: {self.message}")


class TransportError(FanoutdError):
    """The connection to fanoutd failed; see the two subclasses."""


class ConnectError(TransportError):
    """No response from fanoutd: not reachable, or closed before answering."""

    default_type = "connect"


class StreamError(TransportError):
    """The response stream broke or was malformed before its summary."""

    default_type = "stream"
