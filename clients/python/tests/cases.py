"""The client tests against the real daemon, written once for both
clients: test_client.py runs them on fanoutd.Client, test_aio.py on
fanoutd.aio.Client, each through a small driver (client, start, step,
drain, close) so every case holds for both.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any
from unittest import mock

import fanoutd

from .support import TOKEN, UNIX, UP, URL, new_tag, tag_stats, wait_until


class Driver:
    """How a case drives one client; test_client/test_aio define it."""

    def client(self, url: Any = URL, token: Any = TOKEN, **kw: Any) -> Any:
        raise NotImplementedError

    def start(self, client: Any, requests: Any, **options: Any) -> Any:
        """Send a batch; return it once fanoutd accepted it."""
        raise NotImplementedError

    def step(self, batch: Any) -> Any:
        """The next result, or StopIteration at the end."""
        raise NotImplementedError

    def drain(self, batch: Any) -> list[dict[str, Any]]:
        raise NotImplementedError

    def collect(self, batch: Any) -> list[dict[str, Any]]:
        raise NotImplementedError

    def close(self, batch: Any) -> None:
        raise NotImplementedError

    def whole(self, client: Any, requests: Any, **options: Any):
        """(results, summary) of a whole batch."""
        b = self.start(client, requests, **options)
        return self.drain(b), b.summary


class Cases(Driver):
    """The cases; mixed into a unittest.TestCase with a Driver."""

    assertEqual: Any
    assertIn: Any
    assertIsNone: Any
    assertTrue: Any
    assertRaises: Any
    assertRaisesRegex: Any
    assertNotIn: Any
    assertGreaterEqual: Any

    def by_index(self, results):
        return {r["index"]: r for r in results}

    # --- streaming -------------------------------------------------------

    def test_results_arrive_while_the_batch_still_runs(self):
        tag = new_tag()
        c = self.client(timeout=20)
        b = self.start(c, [
            {"url": f"{UP}/delay/60000?tag={tag}", "timeout_ms": 60000},
            f"{UP}/text/4"], retries=0)
        first = self.step(b)
        self.assertEqual((first["index"], first["body"]), (1, "abcd"))
        # The other item is still being fetched: the batch cannot have
        # ended, yet its first result is here.
        wait_until("the slow item in flight upstream",
                   lambda: tag_stats(tag)["inflight"] == 1)
        self.assertIsNone(b.summary)
        self.assertEqual(b.received, 1)
        # Closing the stream makes fanoutd cancel the slow item.
        self.close(b)
        wait_until("fanoutd cancelled the slow item",
                   lambda: tag_stats(tag)["aborted"] == 1)
        self.assertIsNone(b.summary)
        self.assertRaises(StopIteration, self.step, b)

    def test_every_item_once_then_the_summary(self):
        urls = [f"{UP}/delay/{ms}" for ms in (300, 0, 150, 50, 100)]
        results, summary = self.whole(self.client(), urls, concurrency=5)
        self.assertEqual(sorted(r["index"] for r in results), [0, 1, 2, 3, 4])
        # Completion order: the fast ones first.
        self.assertEqual(results[0]["index"], 1)
        self.assertEqual(results[-1]["index"], 0)
        self.assertEqual((summary["total"], summary["ok"]), (5, 5))

    def test_collect_gives_input_order(self):
        urls = [f"{UP}/delay/{ms}" for ms in (200, 0, 100)]
        b = self.start(self.client(), urls)
        got = self.collect(b)
        self.assertEqual([r["index"] for r in got], [0, 1, 2])
        self.assertEqual([r["url"] for r in got], urls)
        self.assertEqual(b.summary["total"], 3)

    def test_progress_lines_reach_the_callback(self):
        seen = []
        b = self.start(self.client(), [f"{UP}/delay/600", f"{UP}/text/1"],
                       progress_ms=100, on_progress=seen.append)
        self.drain(b)
        self.assertGreaterEqual(len(seen), 2)
        self.assertEqual(set(seen[0]), {"done", "total", "in_flight",
                                        "queued"})
        self.assertEqual(seen[0]["total"], 2)
        self.assertEqual(b.progress, seen[-1])

    # --- the body forms --------------------------------------------------

    def test_a_list_of_urls(self):
        results, summary = self.whole(self.client(),
                                    (f"{UP}/text/{n}" for n in (1, 2, 3)))
        self.assertEqual({r["index"]: r["body"] for r in results},
                         {0: "a", 1: "ab", 2: "abc"})
        self.assertEqual(summary["ok"], 3)

    def test_dicts_with_their_own_options(self):
        results, _ = self.whole(self.client(), [
            {"id": "a", "url": f"{UP}/echo", "method": "POST",
             "headers": {"X-Test": "1"}, "body": b"\xff\x00bin"},
            {"id": 7, "url": f"{UP}/echo", "method": "PUT", "body": "text"},
            {"url": f"{UP}/delay/3000", "timeout_ms": 200, "retries": 0},
        ], headers=False)
        r = self.by_index(results)
        echo = json.loads(r[0]["body"])
        self.assertEqual((r[0]["id"], echo["method"]), ("a", "POST"))
        self.assertEqual(base64.b64decode(echo["body_base64"]),
                         b"\xff\x00bin")
        self.assertIn(["X-Test", "1"], echo["headers"])
        echo = json.loads(r[1]["body"])
        self.assertEqual((r[1]["id"], echo["method"],
                          base64.b64decode(echo["body_base64"])),
                         (7, "PUT", b"text"))
        self.assertEqual(r[2]["error"]["type"], "timeout")
        self.assertEqual(r[2]["attempts"], 1)

    def test_a_text_list_with_options_in_the_query(self):
        text = (f"{UP}/text/2\n# a comment\n\n{UP}/status/404\n")
        results, summary = self.whole(self.client(), text, concurrency=3,
                                    headers=False, retry_on=["timeout", 503],
                                    rate=2.5, deadline_ms=None)
        r = self.by_index(results)
        self.assertEqual((r[0]["body"], r[1]["status"]), ("ab", 404))
        self.assertNotIn("headers", r[0])
        eff = summary["effective"]
        self.assertEqual((eff["concurrency"], eff["headers"], eff["retry_on"],
                          eff["rate"]), (3, False, ["timeout", "503"], 2.5))
        self.assertEqual(eff["deadline_ms"], 300000)  # None: the default

    def test_options_map_to_the_wire(self):
        results, summary = self.whole(
            self.client(), [f"{UP}/bytes/5", f"{UP}/status/200"],
            concurrency=2, timeout_ms=1234, retries=1, retry_on=[502, "reset"],
            body="none", headers=False, decode=False, max_body_bytes=4,
            follow_redirects=None)
        eff = summary["effective"]
        self.assertEqual(
            {k: eff[k] for k in ("concurrency", "timeout_ms", "retries",
                                 "retry_on", "body", "headers", "decode",
                                 "max_body_bytes", "follow_redirects")},
            {"concurrency": 2, "timeout_ms": 1234, "retries": 1,
             "retry_on": ["reset", "502"], "body": "none", "headers": False,
             "decode": False, "max_body_bytes": 4, "follow_redirects": 5})
        r = self.by_index(results)
        self.assertNotIn("body", r[0])
        self.assertNotIn("headers", r[0])
        self.assertEqual((r[0]["body_bytes"], r[0]["truncated"]), (4, True))

    def test_body_bytes_undoes_the_encoding(self):
        results, _ = self.whole(self.client(), [f"{UP}/bytes/64",
                                              f"{UP}/text/3",
                                              "http://x.invalid/"])
        r = self.by_index(results)
        self.assertEqual(r[0]["body_encoding"], "base64")
        self.assertEqual(len(fanoutd.body_bytes(r[0])), 64)
        self.assertEqual(fanoutd.body_bytes(r[1]), b"abc")
        self.assertIsNone(fanoutd.body_bytes(r[2]))

    # --- item errors are values -----------------------------------------

    def test_item_errors_are_results_not_exceptions(self):
        results, summary = self.whole(self.client(), [
            f"{UP}/status/200", f"{UP}/status/500",
            {"url": f"{UP}/delay/3000", "timeout_ms": 300},
            "http://no-such-host.invalid/", "not a url"], retries=0)
        r = self.by_index(results)
        self.assertEqual(len(results), 5)
        self.assertEqual((r[0]["ok"], r[0]["status"]), (True, 200))
        self.assertEqual((r[1]["ok"], r[1]["status"]), (False, 500))
        self.assertNotIn("error", r[1])
        self.assertEqual(r[2]["error"]["type"], "timeout")
        self.assertEqual(r[3]["error"]["type"], "dns")
        self.assertIn("no-such-host.invalid", r[3]["error"]["message"])
        self.assertEqual(r[4]["error"]["type"], "invalid_request")
        for i in (2, 3, 4):
            self.assertIn(r[i]["error"]["type"], fanoutd.ITEM_ERROR_TYPES)
        self.assertEqual((summary["total"], summary["ok"],
                          summary["failed"]), (5, 1, 4))

    # --- whole-request errors raise RequestError -------------------------

    def test_a_bad_option_raises_with_fanoutds_message(self):
        c = self.client()
        cases = [([f"{UP}/text/1"], {"bogus": 1}, 400, "bad_request",
                  "options.bogus: unknown option"),
                 ([f"{UP}/text/1"], {"rate": "fast"}, 400, "bad_request",
                  "options.rate: expected a number from 0 to 1000000000"),
                 (f"{UP}/text/1\n", {"bogus": 1}, 400, "bad_request",
                  "query.bogus: unknown option"),
                 ([f"{UP}/text/1"] * 1001, {}, 413, "too_large",
                  "requests: 1001 items exceed the limit of 1000")]
        for requests, options, status, type_, message in cases:
            with self.subTest(options=options, n=len(requests)):
                with self.assertRaises(fanoutd.RequestError) as cm:
                    self.start(c, requests, **options)
                e = cm.exception
                self.assertEqual((e.status, e.type), (status, type_))
                self.assertIn(message, e.message)
                self.assertEqual(e.error, {"type": type_,
                                           "message": e.message})
                self.assertIn(message, str(e))
                self.assertIsInstance(e, fanoutd.FanoutdError)

    def test_nothing_was_fetched_for_a_refused_batch(self):
        tag = new_tag()
        with self.assertRaises(fanoutd.RequestError):
            self.start(self.client(), [f"{UP}/text/1?tag={tag}"], bogus=1)
        self.assertEqual(tag_stats(tag)["requests"], 0)

    # --- the token -------------------------------------------------------

    def test_the_token_is_sent_as_a_bearer(self):
        env = {k: v for k, v in os.environ.items() if k != "FANOUTD_TOKEN"}
        with mock.patch.dict(os.environ, env, clear=True):
            for token in (None, "wrong-token"):
                with self.subTest(token=token):
                    with self.assertRaises(fanoutd.RequestError) as cm:
                        self.start(self.client(token=token),
                                   [f"{UP}/text/1"])
                    self.assertEqual(cm.exception.status, 401)
            results, _ = self.whole(self.client(token=TOKEN), [f"{UP}/text/1"])
            self.assertEqual(results[0]["body"], "a")

    def test_url_and_token_default_from_the_environment(self):
        with mock.patch.dict(os.environ, {"FANOUTD_URL": URL,
                                          "FANOUTD_TOKEN": TOKEN}):
            results, _ = self.whole(self.client(url=None, token=None),
                                  [f"{UP}/text/2"])
            self.assertEqual(results[0]["body"], "ab")
            # An explicit argument wins over the environment.
            with self.assertRaises(fanoutd.RequestError) as cm:
                self.start(self.client(url=None, token="other"),
                           [f"{UP}/text/1"])
            self.assertEqual(cm.exception.status, 401)

    # --- unix socket -----------------------------------------------------

    def test_a_unix_socket(self):
        for kw in ({"unix_socket": UNIX}, {"url": "unix:" + UNIX}):
            with self.subTest(**kw):
                results, summary = self.whole(self.client(**kw),
                                            [f"{UP}/text/3"])
                self.assertEqual(results[0]["body"], "abc")
                self.assertEqual(summary["total"], 1)

    # --- connection errors -----------------------------------------------

    def test_connection_errors_name_the_address(self):
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))  # a port nobody listens on
            dead = "http://127.0.0.1:%d" % s.getsockname()[1]
            cases = [({"url": dead}, dead),
                     ({"unix_socket": UNIX + ".missing"},
                      "unix:" + UNIX + ".missing")]
            for kw, where in cases:
                with self.subTest(where=where):
                    with self.assertRaisesRegex(fanoutd.ConnectError,
                                                "cannot connect to fanoutd "
                                                "at " + where) as cm:
                        self.start(self.client(**kw), [f"{UP}/text/1"])
                    e = cm.exception
                    self.assertIsInstance(e.__cause__, OSError)
                    # The one type to catch, with an error in fanoutd's
                    # JSON shape though no answer came.
                    self.assertIsInstance(e, fanoutd.FanoutdError)
                    self.assertEqual((e.status, e.type, e.error),
                                     (None, "connect",
                                      {"type": "connect",
                                       "message": str(e)}))
