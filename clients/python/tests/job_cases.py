"""The durable-job tests (POST /v1/jobs and below) against the real
daemon, written once for both clients like cases.py: test_client.py
runs them on fanoutd.Client, test_aio.py on fanoutd.aio.Client, through
the driver's ``call`` (run a client method), ``results`` (open a job's
results) and ``pages`` (every page of ``jobs()``), plus ``step``,
``drain`` and ``close``.

The resume case starts a fanoutd of its own (support.Daemon), stops it
in the middle of a follow and starts it again on the same store.
"""

from __future__ import annotations

import re
import signal
import uuid
from typing import Any

import fanoutd

from .support import TOKEN, UP, Daemon, new_tag, tag_stats, wait_until


class JobCases:
    """Mixed into a unittest.TestCase with a driver (client, call,
    results, pages, step, drain, close)."""

    assertEqual: Any
    assertIn: Any
    assertIsNone: Any
    assertTrue: Any
    assertRaises: Any
    assertRaisesRegex: Any
    assertGreaterEqual: Any
    assertLessEqual: Any
    subTest: Any
    addCleanup: Any

    client: Any
    call: Any
    results: Any
    pages: Any
    step: Any
    drain: Any
    close: Any

    def refused(self, status: int, type_: str, fn: Any, *args: Any,
                **kw: Any) -> fanoutd.RequestError:
        """Run fn; it must raise RequestError with fanoutd's JSON error."""
        with self.assertRaises(fanoutd.RequestError) as cm:
            self.call(fn, *args, **kw)
        e = cm.exception
        self.assertEqual((e.status, e.type), (status, type_), str(e))
        self.assertEqual(e.error, {"type": type_, "message": e.message})
        self.assertIsInstance(e, fanoutd.FanoutdError)
        return e

    def follow_all(self, c: Any, job_id: str, **kw: Any) -> Any:
        r = self.results(c, job_id, follow=True, **kw)
        return self.drain(r), r

    # --- submit, follow, read back ---------------------------------------

    def test_a_job_is_submitted_and_its_results_followed(self):
        c = self.client()
        job = self.call(c.job, [f"{UP}/delay/200", f"{UP}/status/503",
                                "http://no-such-host.invalid/",
                                f"{UP}/text/5"],
                        name="nightly", ttl_s=3600, concurrency=1,
                        retries=0)
        self.assertTrue(re.fullmatch(r"[0-9a-f]{32}", job["id"]), job)
        self.assertEqual((job["name"], job["ttl_s"],
                          job["counts"]["total"],
                          job["options"]["concurrency"]),
                         ("nightly", 3600, 4, 1))
        self.assertIn(job["state"], ("queued", "running"))
        lines, r = self.follow_all(c, job["id"])
        # Every item once, in seq order 1..4, each a batch line + seq.
        self.assertEqual([ln["seq"] for ln in lines], [1, 2, 3, 4])
        self.assertEqual(sorted(ln["index"] for ln in lines), [0, 1, 2, 3])
        self.assertEqual(list(lines[0])[0], "seq")
        by = {ln["index"]: ln for ln in lines}
        self.assertEqual((by[0]["ok"], by[0]["status"]), (True, 200))
        # Item errors are values, never exceptions.
        self.assertEqual((by[1]["ok"], by[1]["status"]), (False, 503))
        self.assertEqual(by[2]["error"]["type"], "dns")
        self.assertEqual(by[3]["body"], "abcde")
        self.assertEqual(r.cursor, 4)
        self.assertEqual(r.received, 4)
        self.assertEqual(r.summary["lines"], 4)
        self.assertEqual(r.job, r.summary["job"])
        self.assertEqual((r.job["id"], r.job["state"], r.job["counts"]),
                         (job["id"], "done",
                          {"total": 4, "pending": 0, "in_flight": 0,
                           "ok": 2, "failed": 2}))
        got = self.call(c.get_job, job["id"])
        self.assertEqual((got["state"], got["last_seq"]), ("done", 4))
        self.assertTrue(got["finished_at"].endswith("Z"))

    def test_lines_stream_while_the_job_runs_and_cancel_ends_it(self):
        tag = new_tag()
        c = self.client(timeout=30)
        job = self.call(c.job, [f"{UP}/text/1",
                                {"url": f"{UP}/delay/60000?tag={tag}",
                                 "timeout_ms": 60000}], retries=0)
        r = self.results(c, job["id"], follow=True)
        first = self.step(r)
        self.assertEqual((first["seq"], first["index"]), (1, 0))
        wait_until("the slow item in flight upstream",
                   lambda: tag_stats(tag)["inflight"] == 1)
        self.assertIsNone(r.summary)
        self.assertEqual(r.cursor, 1)
        cancelled = self.call(c.cancel_job, job["id"])
        self.assertEqual(cancelled["state"], "cancelled")
        rest = self.drain(r)
        self.assertEqual(r.job["state"], "cancelled")
        # The attempt in flight ends with a "cancelled" line. fanoutd
        # ends a follow once the job is cancelled, which may be before
        # that line commits (the summary then counts it in_flight): the
        # cursor reads on from there once nothing is in flight.
        wait_until("no attempt in flight", lambda: self.call(
            c.get_job, job["id"])["counts"]["in_flight"] == 0)
        rest += self.drain(self.results(c, job["id"], after=r.cursor))
        self.assertEqual([(ln["seq"], ln["index"], ln["error"]["type"])
                          for ln in rest], [(2, 1, "cancelled")])
        wait_until("fanoutd cancelled the slow item",
                   lambda: tag_stats(tag)["aborted"] == 1)
        # Ended: cancel again is a conflict.
        self.refused(409, "conflict", c.cancel_job, job["id"])

    def test_after_and_failed_only_select_lines(self):
        c = self.client()
        job = self.call(c.job, [f"{UP}/text/1", f"{UP}/status/500",
                                f"{UP}/text/2"], concurrency=1, retries=0)
        self.follow_all(c, job["id"])
        r = self.results(c, job["id"], after=1)
        self.assertEqual([ln["seq"] for ln in self.drain(r)], [2, 3])
        self.assertEqual((r.summary["lines"], r.cursor), (2, 3))
        r = self.results(c, job["id"], failed_only=True)
        self.assertEqual([(ln["index"], ln["status"])
                          for ln in self.drain(r)], [(1, 500)])
        r = self.results(c, job["id"], after=3)
        self.assertEqual(self.drain(r), [])
        self.assertEqual((r.summary["lines"], r.cursor), (0, 3))

    def test_retry_runs_the_failed_items_again(self):
        c = self.client()
        job = self.call(c.job, [f"{UP}/text/1", f"{UP}/status/503"],
                        concurrency=1, retries=0)
        self.follow_all(c, job["id"])
        again = self.call(c.retry_job, job["id"])
        self.assertIn(again["state"], ("queued", "running"))
        lines, r = self.follow_all(c, job["id"], after=2)
        self.assertEqual([(ln["seq"], ln["index"]) for ln in lines],
                         [(3, 1)])
        self.assertEqual(r.job["counts"]["total"], 2)

    def test_idempotency_key_returns_the_first_job(self):
        c = self.client()
        key = "py-" + uuid.uuid4().hex
        first = self.call(c.job, [f"{UP}/text/1"], idempotency_key=key)
        again = self.call(c.job, [f"{UP}/text/1"], idempotency_key=key)
        self.assertEqual(again["id"], first["id"])
        other = self.call(c.job, [f"{UP}/text/1"])
        self.assertTrue(other["id"] != first["id"])
        for bad in ("", "a b", "x" * 256, "caf\u00e9", "a\r\nX: 1"):
            with self.subTest(key=bad):
                with self.assertRaisesRegex(ValueError, "idempotency_key"):
                    self.call(c.job, [f"{UP}/text/1"], idempotency_key=bad)

    def test_jobs_lists_pages_and_filters_by_state(self):
        c = self.client()
        mine = [self.call(c.job, [f"{UP}/text/1"], name=f"list-{i}")["id"]
                for i in range(3)]
        for job_id in mine:
            self.follow_all(c, job_id)
        pages = self.pages(c, limit=2)
        self.assertGreaterEqual(len(pages), 2)
        for page in pages:
            self.assertLessEqual(len(page), 2)
        ids = [j["id"] for page in pages for j in page]
        self.assertEqual(len(ids), len(set(ids)))  # no job twice
        self.assertEqual([i for i in ids if i in mine], mine)  # in order
        # after= starts after a job, as a page's "next" does.
        rest = [j["id"] for p in self.pages(c, after=mine[0]) for j in p]
        self.assertEqual([i for i in rest if i in mine], mine[1:])
        for state in ("done", ["queued", "running"], "queued,running"):
            with self.subTest(state=state):
                want = {state} if state == "done" else {"queued", "running"}
                for page in self.pages(c, state=state):
                    for j in page:
                        self.assertIn(j["state"], want)
        done = [j["id"] for p in self.pages(c, state="done") for j in p]
        self.assertEqual([i for i in done if i in mine], mine)

    def test_delete_removes_an_ended_job(self):
        tag = new_tag()
        c = self.client()
        job = self.call(c.job, [f"{UP}/delay/60000?tag={tag}"])
        self.refused(409, "conflict", c.delete_job, job["id"])
        self.call(c.cancel_job, job["id"])
        self.assertIsNone(self.call(c.delete_job, job["id"]))
        for fn in (c.get_job, c.delete_job, c.cancel_job, c.retry_job):
            with self.subTest(fn=fn.__name__):
                e = self.refused(404, "not_found", fn, job["id"])
                self.assertIn(job["id"], e.message)
                self.assertIn("fanoutd refused the request: 404", str(e))
        self.refused(404, "not_found", self.results, c, job["id"])

    # --- whole-request errors -------------------------------------------

    def test_refused_jobs_raise_with_fanoutds_message(self):
        c = self.client()
        one = [f"{UP}/text/1"]
        cases = [(one, {"bogus": 1}, 400, "bad_request",
                  "options.bogus: unknown option"),
                 (one, {"deadline_ms": 1000}, 400, "bad_request",
                  "options.deadline_ms: a job has no deadline"),
                 (one, {"ttl_s": 0}, 400, "bad_request", "job.ttl_s"),
                 ([], {}, 400, "bad_request", "at least one item"),
                 (one * 101, {}, 413, "too_large", "101")]
        for requests, kw, status, type_, message in cases:
            with self.subTest(kw=kw, n=len(requests)):
                e = self.refused(status, type_, c.job, requests, **kw)
                self.assertIn(message, e.message)
        for bad in ("0" * 32, "not-a-job", "../batch"):
            with self.subTest(job_id=bad):
                self.refused(404, "not_found", c.get_job, bad)
        e = self.refused(400, "bad_request", self.pages, c, limit=0)
        self.assertIn("limit", e.message)
        self.refused(400, "bad_request", self.pages, c, state="lost")
        with self.assertRaisesRegex(ValueError, "name and ttl_s"):
            self.call(c.job, f"{UP}/text/1\n", name="text")
        with self.assertRaisesRegex(ValueError, "after"):
            self.results(c, "0" * 32, after=-1)

    def test_a_job_needs_the_token(self):
        e = self.refused(401, "unauthorized", self.client(token="wrong").job,
                         [f"{UP}/text/1"])
        self.assertTrue(e.message)
        job = self.call(self.client(token=TOKEN).job, [f"{UP}/text/1"])
        self.refused(401, "unauthorized", self.client(token="wrong").get_job,
                     job["id"])

    # --- a follow that loses its connection resumes with after= ---------

    def test_a_follow_resumes_after_fanoutd_restarts(self):
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with self.subTest(signal=sig.name):
                self.resume_after_restart(sig)

    def resume_after_restart(self, sig: signal.Signals) -> None:
        d = Daemon()
        self.addCleanup(d.cleanup)
        d.start()
        c = self.client(url=d.url, token=None, timeout=30)
        n = 8
        job = self.call(c.job, [f"{UP}/delay/100"] * n, concurrency=1,
                        retries=0)
        r = self.results(c, job["id"], follow=True)
        got = [self.step(r), self.step(r)]
        # fanoutd goes away mid-follow: the lines that came stand, the
        # stream raises StreamError, and cursor is the last seq returned.
        rc = d.stop(sig)
        self.assertEqual(rc, 0 if sig == signal.SIGTERM else -sig)
        with self.assertRaises(fanoutd.StreamError):
            while True:
                got.append(self.step(r))
        self.assertIsNone(r.summary)
        self.assertEqual(r.cursor, got[-1]["seq"])
        self.assertEqual(r.cursor, len(got))
        # While it is down: no response at all.
        with self.assertRaises(fanoutd.ConnectError):
            self.call(c.get_job, job["id"])
        d.start()
        rest, r2 = self.follow_all(c, job["id"], after=r.cursor)
        lines = got + rest
        self.assertEqual([ln["seq"] for ln in lines], list(range(1, n + 1)))
        self.assertEqual(sorted(ln["index"] for ln in lines),
                         list(range(n)))
        self.assertTrue(all(ln["ok"] for ln in lines))
        self.assertEqual((r2.summary["lines"], r2.cursor), (len(rest), n))
        self.assertEqual(r2.job["state"], "done")
        self.assertEqual(d.stop(), 0)
