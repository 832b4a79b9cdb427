"""The NDJSON stream decoder (fanoutd._stream), without sockets.

Lines are fed inside a real chunked response, whole and in random
pieces; the stream's contract (DESIGN.md §1) is held: one JSON object
per line, of a known kind, one result per item, the summary last.
"""

import json
import random
import unittest

from fanoutd._http import ProtocolError, ResponseHead, ResponseReader
from fanoutd._stream import StreamDecoder, check_stream_head, request_error

from .test_http import HEAD, splits


def response(lines: list[str], chunk: int = 7, end: str = "\n") -> bytes:
    """A chunked NDJSON response holding these lines, chunk bytes per
    chunk (so chunks and lines never line up); ``end`` ends the last."""
    body = ("\n".join(lines) + end).encode()
    out = HEAD + b"Transfer-Encoding: chunked\r\n\r\n"
    for i in range(0, len(body), chunk):
        part = body[i:i + chunk]
        out += b"%x\r\n%s\r\n" % (len(part), part)
    return out + b"0\r\n\r\n"


def result(i: int, **kw) -> str:
    return json.dumps({"index": i, "url": f"http://h/{i}", "ok": True,
                       "status": 200, "body": "a\nb", **kw})


def summary(total: int) -> str:
    return json.dumps({"summary": {"total": total, "ok": total,
                                   "failed": 0, "retries": 0,
                                   "elapsed_ms": 1.0, "effective": {}}})


def decode(pieces, on_progress=None):
    """Feed pieces; (results, decoder) once the stream ended whole."""
    d = StreamDecoder(ResponseReader(), on_progress)
    got = []
    for p in pieces:
        got += d.feed(p)
    d.feed_eof()
    return got, d


def outcome(pieces):
    """The results and summary, or the first error, and the results
    delivered before it."""
    d = StreamDecoder(ResponseReader())
    got = []
    try:
        for p in pieces:
            got += d.feed(p)
        d.feed_eof()
    except ProtocolError as e:
        return ("error", str(e), [r["index"] for r in got])
    return ("ok", [r["index"] for r in got], d.summary["total"])


class Decoding(unittest.TestCase):

    def same_every_way(self, data):
        rng = random.Random(len(data))
        expect = outcome([data])
        for pieces in splits(data, rng):
            self.assertEqual(outcome(pieces), expect)
        return expect

    def test_results_in_stream_order_then_the_summary(self):
        lines = [result(2), result(0), result(1, id="b"), summary(3)]
        self.assertEqual(self.same_every_way(response(lines)),
                         ("ok", [2, 0, 1], 3))
        got, d = decode([response(lines)])
        self.assertEqual(got[2]["id"], "b")
        self.assertEqual(got[0]["body"], "a\nb")
        self.assertEqual(d.received, 3)

    def test_progress_lines_go_to_the_callback(self):
        seen = []
        lines = [result(0), '{"progress":{"done":1,"total":2,'
                 '"in_flight":1,"queued":0}}', result(1), summary(2)]
        got, d = decode([response(lines)], seen.append)
        self.assertEqual([r["index"] for r in got], [0, 1])
        self.assertEqual(seen, [{"done": 1, "total": 2, "in_flight": 1,
                                 "queued": 0}])
        self.assertEqual(d.progress["done"], 1)

    def test_space_before_a_line_and_blank_lines_are_allowed(self):
        # fanoutd writes a space before the next line to probe a caller
        # that half-closed.
        lines = [" " + result(0), "", "  ", summary(1)]
        self.assertEqual(self.same_every_way(response(lines)),
                         ("ok", [0], 1))

    def test_results_before_a_bad_line_are_delivered_first(self):
        lines = [result(0), result(1), "{not json", result(2), summary(3)]
        self.assertEqual(self.same_every_way(response(lines, 1000)),
                         ("error", "not a JSON line: '{not json'", [0, 1]))

    def test_contract_violations_fail(self):
        cases = {
            "not a JSON line": [result(0), '{"index": 1', summary(1)],
            "not a JSON object": [result(0), "[1]", summary(1)],
            "of no known kind": [result(0), '{"other": 1}', summary(1)],
            "after the summary": [result(0), summary(1), result(1)],
            "1 result lines for a summary": [result(0), summary(2)],
            "ended before its summary (2 results": [result(0), result(1)],
        }
        for message, lines in cases.items():
            with self.subTest(message=message):
                kind, text, _ = self.same_every_way(response(lines))
                self.assertEqual(kind, "error")
                self.assertIn(message, text)

    def test_a_value_spread_over_lines_is_not_taken_for_one_line(self):
        # Valid JSON once the lines are joined, but no line is on its own.
        lines = ['{"index":0,"a":[1', '2]}', '{"index":1},{"index":2}',
                 summary(2)]
        kind, text, _ = self.same_every_way(response(lines))
        self.assertEqual((kind, text), ("error",
                                        "not a JSON line: '{\"index\":0,"
                                        "\"a\":[1'"))

    def test_a_partial_last_line_fails(self):
        for lines, end in (([result(0), summary(1)], ""),
                           ([result(0), summary(1), '{"ind'], "")):
            with self.subTest(lines=lines):
                kind, text, got = self.same_every_way(response(lines, 7, end))
                self.assertEqual((kind, got), ("error", [0]))
                self.assertIn("the stream ended inside a line", text)


class Heads(unittest.TestCase):

    def head(self, status, fields):
        return ResponseHead(status, "X", 1,
                            {k: [v] for k, v in fields.items()})

    def test_a_refused_batch_carries_fanoutd_json_error(self):
        e = request_error(self.head(429, {"retry-after": "1"}),
                          b'{"error":{"type":"overloaded","message":"too '
                          b'many batches"}}\n')
        self.assertEqual((e.status, e.type, e.message, e.retry_after),
                         (429, "overloaded", "too many batches", 1.0))
        self.assertEqual(e.error["type"], "overloaded")

    def test_a_refusal_that_is_not_fanoutd_json_says_what_came(self):
        e = request_error(self.head(502, {}), b"<html>Bad gateway</html>\n")
        self.assertEqual((e.status, e.type, e.message, e.error),
                         (502, "http", "<html>Bad gateway</html>",
                          {"type": "http",
                           "message": "<html>Bad gateway</html>"}))
        e = request_error(self.head(503, {}), b"")
        self.assertEqual(e.message, "X")

    def test_only_ndjson_is_a_stream(self):
        check_stream_head(self.head(200, {
            "content-type": "application/x-ndjson; charset=utf-8"}))
        with self.assertRaisesRegex(ProtocolError, "text/html"):
            check_stream_head(self.head(200, {"content-type": "text/html"}))


if __name__ == "__main__":
    unittest.main()
