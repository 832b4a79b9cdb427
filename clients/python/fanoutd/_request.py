"""What the clients send: where fanoutd is, and the batch request's bytes.

Pure (no I/O), shared by the blocking client and :mod:`fanoutd.aio`.

Where: ``url`` (else ``$FANOUTD_URL``, else ``http://127.0.0.1:7878``),
``http://`` or ``https://`` with an optional path prefix, or
``unix:/path`` (fanoutd's own ``listen`` syntax); ``unix_socket=`` names a
socket and keeps the URL's host and prefix for the request line. The
token: ``token`` (else ``$FANOUTD_TOKEN``), sent as ``Authorization:
Bearer``.

What: the three body forms of POST /v1/batch (DESIGN.md §1):

- a list (any iterable) of items, each a URL string or a dict
  (``url``, ``id``, ``method``, ``headers``, ``body``, ``timeout_ms``,
  ``retries``...), sent as ``{"requests": [...], "options": {...}}``;
  a ``bytes`` ``body`` is sent as ``body_base64``;
- a ``str`` (or ``bytes``): a URL list, one per line (``#`` comments),
  sent as ``text/plain`` with the options in the query string.

Options are the wire's own names (``concurrency``, ``timeout_ms``,
``retry_on``...) and values; an option given as ``None`` is left out (the
server's default applies), and ``retry_on`` may hold status codes as
integers. An unknown option is sent as given: fanoutd answers 400 naming
it, raised as :class:`~fanoutd.errors.RequestError`.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Optional, Union
from urllib.parse import quote, urlencode, urlsplit

from ._version import __version__

DEFAULT_URL = "http://127.0.0.1:7878"
USER_AGENT = f"fanoutd-python/{__version__}"

#: What ``batch()`` takes as its requests.
Requests = Union[str, bytes, Iterable[Union[str, Mapping[str, Any]]]]


@dataclass(frozen=True)
class Endpoint:
    """A resolved fanoutd address: a TCP host and port (``tls`` for https)
    or a unix socket path, the Host header and the path prefix."""

    host: str
    port: int
    tls: bool
    unix_path: Optional[str]
    host_header: str
    prefix: str  # "" or "/some/prefix", never a trailing slash

    def describe(self) -> str:
        """The address as people write it, for error messages."""
        if self.unix_path is not None:
            return f"unix:{self.unix_path}"
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host_header}{self.prefix}"


def resolve_endpoint(url: Optional[str],
                     unix_socket: Optional[str]) -> Endpoint:
    """The endpoint for a client's ``url`` and ``unix_socket`` arguments
    (see the module docstring); ValueError names what is wrong."""
    if url is None:
        url = os.environ.get("FANOUTD_URL") or DEFAULT_URL
    if url.startswith("unix:"):
        if unix_socket is not None:
            raise ValueError("give the socket as url='unix:PATH' or as "
                             "unix_socket=, not both")
        unix_socket, url = url[len("unix:"):], "http://localhost"
        if not unix_socket:
            raise ValueError("url 'unix:' names no socket path")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"fanoutd url {url!r}: expected http://, "
                         "https:// or unix:/path")
    if not parts.hostname:
        raise ValueError(f"fanoutd url {url!r}: no host")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"fanoutd url {url!r}: give only scheme, host, "
                         "port and path prefix")
    tls = parts.scheme == "https"
    try:
        port = parts.port or (443 if tls else 80)
    except ValueError:
        raise ValueError(f"fanoutd url {url!r}: bad port") from None
    return Endpoint(host=parts.hostname, port=port, tls=tls,
                    unix_path=unix_socket, host_header=parts.netloc,
                    prefix=parts.path.rstrip("/"))


def resolve_token(token: Optional[str]) -> Optional[str]:
    """``token``, else ``$FANOUTD_TOKEN``, else None (no header)."""
    if token is None:
        token = os.environ.get("FANOUTD_TOKEN") or None
    if token is not None and (not token or any(
            c in token for c in "\r\n\0")):
        raise ValueError("the token must be non-empty, on one line")
    return token


def _clean_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options without the ``None`` ones; retry_on codes as strings."""
    out = {k: v for k, v in options.items() if v is not None}
    if "retry_on" in out and not isinstance(out["retry_on"], str):
        out["retry_on"] = [str(w) if isinstance(w, int) else w
                           for w in out["retry_on"]]
    return out


def _query_value(name: str, value: Any) -> str:
    """One option as the query string spells it (true/false, a,b,c)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return ",".join(str(w) for w in value)
    raise TypeError(f"option {name}: cannot send {type(value).__name__} "
                    "in a text batch's query string")


def _item(i: int, item: Any) -> Union[str, dict[str, Any]]:
    """One request item, checked; a bytes body becomes body_base64."""
    if isinstance(item, str):
        return item
    if isinstance(item, Mapping):
        body = item.get("body")
        if isinstance(body, (bytes, bytearray, memoryview)):
            item = {k: v for k, v in item.items() if k != "body"}
            item["body_base64"] = base64.b64encode(body).decode("ascii")
        return dict(item)
    raise TypeError(f"requests[{i}]: expected a URL string or a dict, "
                    f"not {type(item).__name__}")


@dataclass(frozen=True)
class BatchRequest:
    """The request target (path and query) and body of one batch."""

    target: str
    content_type: str
    body: bytes


def build_batch(endpoint: Endpoint, requests: Requests,
                options: Mapping[str, Any], path: str = "/v1/batch",
                job: Optional[Mapping[str, Any]] = None) -> BatchRequest:
    """The POST /v1/batch request for ``requests`` in one of the body
    forms, with ``options`` in the JSON or, for a URL list, the query.
    The same body posted to ``path="/v1/jobs"`` makes a job; ``job``
    (``name``, ``ttl_s``) is sent as the JSON body's ``"job"`` object,
    which a URL list cannot carry (ValueError)."""
    opts = _clean_options(options)
    path = endpoint.prefix + path
    if isinstance(requests, (str, bytes, bytearray)):
        if job:
            raise ValueError("a job's name and ttl_s need the JSON body: "
                             "pass the URLs as a list, not one str")
        body = (requests.encode("utf-8") if isinstance(requests, str)
                else bytes(requests))
        query = urlencode({k: _query_value(k, v) for k, v in opts.items()},
                          quote_via=quote)
        return BatchRequest(path + ("?" + query if query else ""),
                            "text/plain; charset=utf-8", body)
    if isinstance(requests, Mapping):
        raise TypeError("requests: expected a list of items or a str of "
                        "URLs; pass options as keyword arguments")
    items = [_item(i, it) for i, it in enumerate(requests)]
    doc: dict[str, Any] = {"requests": items}
    if opts:
        doc["options"] = opts
    if job:
        doc["job"] = dict(job)
    body = json.dumps(doc, separators=(",", ":")).encode("utf-8")
    return BatchRequest(path, "application/json", body)


def request_head(endpoint: Endpoint, token: Optional[str],
                 req: BatchRequest, *, method: str = "POST",
                 accept: str = "application/x-ndjson",
                 headers: Optional[Mapping[str, str]] = None) -> bytes:
    """The HTTP/1.1 request head (RFC 9112 §3) for ``req``. One request
    per connection (``Connection: close``): the stream's end is the
    connection's, and a caller that stops reading closes it, which
    cancels the batch on fanoutd. A GET sends no body (no
    Content-Type or Content-Length when ``req`` has none); ``headers``
    are added as given (checked by the caller: one line each)."""
    lines = [
        f"{method} {req.target} HTTP/1.1",
        f"Host: {endpoint.host_header}",
        f"User-Agent: {USER_AGENT}",
        f"Accept: {accept}",
    ]
    if req.content_type:
        lines.append(f"Content-Type: {req.content_type}")
    if req.body or method != "GET":
        lines.append(f"Content-Length: {len(req.body)}")
    lines.append("Connection: close")
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
