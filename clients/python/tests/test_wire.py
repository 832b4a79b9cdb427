"""Both clients against a scripted server: the bytes fanoutd does not send
today but HTTP/1.1 allows (chunk extensions, trailers, a head and body
cut anywhere, other framings) and the failures a connection can have
(closed early, garbage, silence). The server writes its pieces with a
pause between them, so each client's reads really end at the cuts.
"""

import json
import re
import unittest

import fanoutd

from .support import ScriptedServer, chunked
from .test_aio import AioDriver
from .test_client import SyncDriver

HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n")


def line(obj) -> bytes:
    return json.dumps(obj).encode() + b"\n"


R0 = line({"index": 0, "url": "http://a/", "ok": True, "status": 200,
           "body": "x"})
R1 = line({"index": 1, "url": "http://b/", "ok": False,
           "error": {"type": "dns", "message": "cannot resolve b"}})
PROGRESS = line({"progress": {"done": 1, "total": 2, "in_flight": 1,
                              "queued": 0}})
SUMMARY = line({"summary": {"total": 2, "ok": 1, "failed": 1, "retries": 0,
                            "elapsed_ms": 1.0, "effective": {}}})
BODY = R0 + PROGRESS + R1 + SUMMARY


def cut(data: bytes, *offsets: int) -> list[bytes]:
    offs = [0, *offsets, len(data)]
    return [data[a:b] for a, b in zip(offs, offs[1:])]


class WireCases:
    """Cases for one driver (mixed with SyncDriver or AioDriver)."""

    def serve(self, pieces, **kw):
        srv = ScriptedServer(pieces, **kw)
        self.addCleanup(srv.close)
        return srv

    def test_extensions_trailers_and_reads_cut_anywhere(self):
        body = chunked(BODY, [3, len(R0) + 5, len(R0) + len(PROGRESS) + 1],
                       b';ext="a;b" ; n=1')
        data = HEAD + body + b"0;end\r\nX-Trailer: t\r\n\r\n"
        # Cuts inside the status line, a field, a size line, an
        # extension, chunk data, a JSON line, the CR LF, the trailer.
        pieces = cut(data, 5, 40, len(HEAD) + 2, len(HEAD) + 9,
                     len(HEAD) + 30, len(data) - 20, len(data) - 2)
        srv = self.serve(pieces)
        seen = []
        b = self.start(self.client(srv.url, "tok"), ["http://a/"],
                       on_progress=seen.append)
        got = self.drain(b)
        self.assertEqual([r["index"] for r in got], [0, 1])
        self.assertEqual(got[1]["error"]["type"], "dns")
        self.assertEqual(b.summary["total"], 2)
        self.assertEqual(seen, [json.loads(PROGRESS)["progress"]])

    def test_every_byte_on_its_own(self):
        data = HEAD + chunked(BODY, [10, 100]) + b"0\r\n\r\n"
        srv = self.serve([data[i:i + 1] for i in range(len(data))],
                         pause=0.0005)
        got = self.drain(self.start(self.client(srv.url, "t"), ["x"]))
        self.assertEqual([r["index"] for r in got], [0, 1])

    def test_content_length_and_close_delimited_bodies(self):
        for framing in (b"Content-Length: %d\r\n" % len(BODY), b""):
            with self.subTest(framing=framing):
                srv = self.serve([
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson"
                    b"\r\n" + framing + b"\r\n" + BODY[:50], BODY[50:]])
                b = self.start(self.client(srv.url, "t"), ["x"])
                self.assertEqual(len(self.drain(b)), 2)
                self.assertEqual(b.summary["ok"], 1)

    def test_the_request_on_the_wire(self):
        srv = self.serve([HEAD + chunked(BODY, []) + b"0\r\n\r\n"])
        self.drain(self.start(self.client(srv.url + "/gw", "tok"),
                              ["http://a/", {"url": "http://b/"}],
                              concurrency=3))
        head, _, body = srv.requests[0].partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        self.assertEqual(lines[0], "POST /gw/v1/batch HTTP/1.1")
        self.assertIn("Authorization: Bearer tok", lines)
        self.assertIn("Content-Type: application/json", lines)
        self.assertIn("Accept: application/x-ndjson", lines)
        self.assertEqual(json.loads(body), {
            "requests": ["http://a/", {"url": "http://b/"}],
            "options": {"concurrency": 3}})

    def test_a_stream_cut_short_raises_after_its_results(self):
        cases = {
            "closed inside the chunked body":
                HEAD + chunked(R0 + R1, []),
            "ended before its summary (2 results received)":
                HEAD + chunked(R0 + R1, []) + b"0\r\n\r\n",
            "not a JSON line":
                HEAD + chunked(R0 + R1 + b"{oops\n", []),
            "bad chunk size":
                HEAD + chunked(R0 + R1, []) + b"zz\r\n",
        }
        for message, data in cases.items():
            with self.subTest(message=message):
                srv = self.serve([data])
                b = self.start(self.client(srv.url, "t"), ["x"])
                self.assertEqual(self.step(b)["index"], 0)
                self.assertEqual(self.step(b)["index"], 1)
                with self.assertRaisesRegex(fanoutd.StreamError,
                                            re.escape(message)) as cm:
                    self.step(b)
                self.assertIsNone(b.summary)
                self.assertEqual((cm.exception.type, cm.exception.status),
                                 ("stream", None))
                self.assertIn(message, cm.exception.error["message"])

    def test_what_is_not_the_stream_raises(self):
        srv = self.serve([b"SSH-2.0-OpenSSH_9.2\r\n\r\n"])
        with self.assertRaisesRegex(fanoutd.StreamError,
                                    "not an HTTP/1.1 response"):
            self.start(self.client(srv.url, "t"), ["x"])
        srv = self.serve([b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                          b"Content-Length: 2\r\n\r\nhi"])
        with self.assertRaisesRegex(fanoutd.StreamError, "text/html"):
            self.start(self.client(srv.url, "t"), ["x"])

    def test_no_response_is_a_connect_error(self):
        srv = self.serve([])
        with self.assertRaisesRegex(fanoutd.ConnectError,
                                    "no response from fanoutd at http://"
                                    ".*closed before a response head"):
            self.start(self.client(srv.url, "t"), ["x"])

    def test_a_refusal_that_is_not_json(self):
        srv = self.serve([b"HTTP/1.1 502 Bad Gateway\r\nRetry-After: 3\r\n"
                          b"Content-Length: 23\r\n\r\n<html>upstream down\n",
                          b"</html>"])
        with self.assertRaises(fanoutd.RequestError) as cm:
            self.start(self.client(srv.url, "t"), ["x"])
        e = cm.exception
        self.assertEqual((e.status, e.type, e.message, e.retry_after),
                         (502, "http", "<html>upstream down", 3.0))

    def test_a_silent_daemon_times_out_after_its_results(self):
        srv = self.serve([HEAD + chunked(R0, [])], hold=True)
        b = self.start(self.client(srv.url, "t", timeout=0.3), ["x"])
        self.assertEqual(self.step(b)["index"], 0)
        with self.assertRaisesRegex(fanoutd.StreamError,
                                    "no data from fanoutd .* for 0.3 s"):
            self.step(b)


class SyncWire(SyncDriver, WireCases, unittest.TestCase):
    pass


class AioWire(AioDriver, WireCases, unittest.TestCase):
    pass


if __name__ == "__main__":
    unittest.main()
