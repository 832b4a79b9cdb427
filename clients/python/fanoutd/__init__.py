"""fanoutd: a Python client for the fanoutd batch fetching daemon.

fanoutd fetches a batch of URLs concurrently under caps, rate limits,
timeouts and retries, and streams one result line per item as each
finishes, then a summary. This package sends batches and hands back the
results as they stream::

    import fanoutd
    batch = fanoutd.Client().batch(
        ["http://127.0.0.1:7879/delay/1000"] * 50,
        concurrency=50)
    for r in batch:
        print(r["index"], r["ok"], r.get("status") or r["error"]["type"])
    print(batch.summary["ok"], "of", batch.summary["total"])

and the same with ``async for`` from :mod:`fanoutd.aio`. Standard library
only (Python 3.11 or later).

Durable jobs (stored by fanoutd, run whether or not anyone waits, read
back and resumed at any time)::

    client = fanoutd.Client()
    job = client.job(urls, name="nightly", concurrency=20)
    for line in client.results(job["id"], follow=True):
        print(line["seq"], line["index"], line["ok"])

:meth:`Client.job`, :meth:`~Client.get_job`, :meth:`~Client.jobs`,
:meth:`~Client.results` (its ``cursor`` resumes a lost stream),
:meth:`~Client.cancel_job`, :meth:`~Client.retry_job`,
:meth:`~Client.delete_job`; :class:`Job` and :class:`JobResult` are
their shapes.

A failed item (dns, timeout, an HTTP 500) is a result with ``ok`` false,
never an exception: the batch goes on. A whole-request failure raises
one type, :class:`FanoutdError`, carrying the JSON error (``.error``,
``.type``, ``.message``, and ``.status`` when fanoutd answered); its
subclasses :class:`RequestError` (fanoutd refused the batch),
:class:`ConnectError` and :class:`StreamError` say which case it was
(:mod:`fanoutd.errors`). The shape of every line is in
:mod:`fanoutd._types` (:class:`Result`, :class:`Summary`,
:class:`Progress`).
"""

from __future__ import annotations

import base64
from typing import Optional

from ._types import (ITEM_ERROR_TYPES, ItemError, Job, JobCounts, JobResult,
                     JobSummary, Progress, Result, Summary, Timings)
from ._version import __version__
from .client import Batch, Client, JobResults
from .errors import (ConnectError, FanoutdError, RequestError, StreamError,
                     TransportError)

__all__ = [
    "Client", "Batch", "FanoutdError", "RequestError", "TransportError",
    "ConnectError", "StreamError", "Result", "ItemError", "Timings",
    "Summary", "Progress", "ITEM_ERROR_TYPES", "body_bytes", "__version__",
    "JobResults", "Job", "JobCounts", "JobResult", "JobSummary",
]


def body_bytes(result: Result) -> Optional[bytes]:
    """A result's body as bytes (``body_encoding`` undone), or None when
    the result has no body (an item error, or ``body="none"``)."""
    body = result.get("body")
    if body is None:
        return None
    if result.get("body_encoding") == "base64":
        return base64.b64decode(body)
    return body.encode("utf-8")
