"""The HTTP/1.1 response reader (fanoutd._http), without sockets.

The team's rule for parsers: the input fed whole and the same input fed
in random pieces must agree. Every case here is run both ways (whole, one
byte at a time, and 200 random splits), and the malformed ones must fail
the same way however they are cut.
"""

import random
import unittest

from fanoutd import _http
from fanoutd._http import (ChunkedDecoder, IncompleteResponse,
                           ProtocolError, ResponseReader)

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"


def splits(data: bytes, rng: random.Random):
    """Ways to cut data: whole, byte by byte, then random pieces."""
    yield [data]
    yield [data[i:i + 1] for i in range(len(data))]
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(data)),
                                 min(len(data) - 1, rng.randint(1, 8))))
        yield [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]


def read_all(pieces, eof=True):
    """Feed pieces to a ResponseReader: (head, body, reader)."""
    r = ResponseReader()
    body = b""
    for p in pieces:
        body += b"".join(r.feed(p))
    if eof:
        r.feed_eof()
    return r.head, body, r


def outcome(pieces, eof=True):
    """What reading gives: ("ok", status, body, trailers) or the error."""
    try:
        head, body, r = read_all(pieces, eof)
    except ProtocolError as e:
        return ("error", type(e).__name__, str(e))
    return ("ok", head.status, body, r.trailers, r.done)


class WholeAndPieces(unittest.TestCase):
    """Each response read whole and in pieces gives the same outcome."""

    def same_every_way(self, data: bytes, eof: bool = True):
        rng = random.Random(len(data))
        expect = outcome([data], eof)
        for pieces in splits(data, rng):
            self.assertEqual(outcome(pieces, eof), expect, pieces)
        return expect

    def test_chunked_body_with_extensions_and_trailers(self):
        data = (HEAD + b"Transfer-Encoding: chunked\r\n\r\n"
                b"5;name=value;q=\"a;b\"\r\nhello\r\n"
                b"6 ; ext\r\n world\r\n"
                b"A\r\n0123456789\r\n"
                b"0;last\r\nX-Checksum: abc\r\nX-More:  d e \r\n\r\n")
        self.assertEqual(self.same_every_way(data),
                         ("ok", 200, b"hello world0123456789",
                          {"x-checksum": ["abc"], "x-more": ["d e"]}, True))

    def test_chunked_response_is_done_without_waiting_for_the_close(self):
        data = HEAD + b"Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"
        self.assertEqual(self.same_every_way(data, eof=False),
                         ("ok", 200, b"ab", {}, True))

    def test_upper_case_hex_and_leading_zeros(self):
        data = (HEAD + b"Transfer-Encoding: Chunked\r\n\r\n"
                b"000B\r\n0123456789a\r\n0000\r\n\r\n")
        self.assertEqual(self.same_every_way(data)[2], b"0123456789a")

    def test_interim_responses_are_skipped(self):
        data = (b"HTTP/1.1 100 Continue\r\n\r\n"
                b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
                + HEAD + b"Content-Length: 3\r\n\r\nabc")
        self.assertEqual(self.same_every_way(data),
                         ("ok", 200, b"abc", {}, True))

    def test_bare_lf_ends_head_lines(self):
        data = (b"HTTP/1.1 400 Bad Request\nContent-Length: 2\n"
                b"X-Folded: a\n  b\n\nhi")
        head, body, _ = read_all([data])
        self.assertEqual((head.status, body, head.get("x-folded")),
                         (400, b"hi", "a b"))
        self.assertEqual(self.same_every_way(data)[2], b"hi")

    def test_content_length_list_of_one_value(self):
        data = HEAD + b"Content-Length: 4, 4\r\nContent-Length: 4\r\n\r\nabcd"
        self.assertEqual(self.same_every_way(data)[2], b"abcd")

    def test_body_delimited_by_the_close(self):
        data = HEAD + b"\r\nuntil the end"
        self.assertEqual(self.same_every_way(data),
                         ("ok", 200, b"until the end", {}, True))

    def test_repeated_fields_join_with_comma(self):
        head, _, _ = read_all(
            [HEAD + b"Retry-After: 1\r\nX-A: 1\r\nx-a: 2\r\n"
             b"Content-Length: 0\r\n\r\n"])
        self.assertEqual(head.get("X-A"), "1, 2")
        self.assertEqual(head.get("retry-after"), "1")

    def assert_fails_every_way(self, data, error=ProtocolError,
                               message=None, eof=True):
        expect = self.same_every_way(data, eof)
        self.assertEqual(expect[0], "error", expect)
        self.assertTrue(issubclass(getattr(_http, expect[1]), error), expect)
        if message is not None:
            self.assertIn(message, expect[2])

    def test_malformed_chunked_bodies_fail(self):
        te = HEAD + b"Transfer-Encoding: chunked\r\n\r\n"
        cases = {
            b"Z\r\n": "bad chunk size",
            b"\r\n": "bad chunk size",
            b"-1\r\n": "bad chunk size",
            b"0x5\r\n": "bad chunk size",
            b"11111111111111111\r\n": "bad chunk size",  # 17 hex digits
            b"5\nhello\r\n0\r\n\r\n": "not ended by CR LF",
            b"5\r\nhelloXX0\r\n\r\n": "not followed by CR LF",
            b"3;a=\x01\r\nabc\r\n0\r\n\r\n": "control character",
            b"0\r\nbad trailer\r\n\r\n": "not a field line",
            b"0\r\n\r\nextra": "after the end",
            b"8" * 9000: "line over",
        }
        for body, message in cases.items():
            with self.subTest(body=body[:40]):
                self.assert_fails_every_way(te + body, message=message)

    def test_a_body_cut_short_is_incomplete(self):
        te = HEAD + b"Transfer-Encoding: chunked\r\n\r\n"
        for data in (te + b"5\r\nhel", te + b"5\r\nhello\r\n",
                     te + b"0\r\nX: y\r\n",
                     HEAD + b"Content-Length: 5\r\n\r\nabc", HEAD,
                     b"HTTP/1.1 200 OK\r\n", b""):
            with self.subTest(data=data[-30:]):
                if data:
                    self.assert_fails_every_way(data, IncompleteResponse)
                else:
                    with self.assertRaises(IncompleteResponse):
                        ResponseReader().feed_eof()

    def test_malformed_heads_fail(self):
        cases = {
            b"SSH-2.0-OpenSSH\r\n\r\n": "not an HTTP/1.1 response",
            b"HTTP/2 200\r\n\r\n": "not an HTTP/1.1 response",
            b"HTTP/1.1 20 OK\r\n\r\n": "not an HTTP/1.1 response",
            b"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n": "not a field line",
            b"HTTP/1.1 200 OK\r\n folded first\r\n\r\n": "continuation",
            b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n": "not a field line",
            b"HTTP/1.1 101 Switching Protocols\r\n\r\n": "101",
            HEAD + b"Transfer-Encoding: gzip, chunked\r\n\r\n": "unsupported",
            HEAD + b"Content-Length: 3, 4\r\n\r\nabc": "bad Content-Length",
            HEAD + b"Content-Length: -3\r\n\r\n": "bad Content-Length",
            HEAD + b"Content-Length: 1\r\n\r\nab": "after the end",
            b"HTTP/1.1 200 OK\r\n" + b"X: " + b"y" * 70000: "over",
        }
        for data, message in cases.items():
            with self.subTest(data=data[:50]):
                self.assert_fails_every_way(data, message=message)

    def test_chunked_wins_over_content_length(self):
        data = (HEAD + b"Content-Length: 100\r\nTransfer-Encoding: chunked"
                b"\r\n\r\n1\r\nx\r\n0\r\n\r\n")
        self.assertEqual(self.same_every_way(data)[2], b"x")


class ChunkedDecoderAlone(unittest.TestCase):

    def test_one_huge_chunk_streams_in_pieces(self):
        d = ChunkedDecoder()
        self.assertEqual(d.feed(b"100000\r\n"), [])  # 1 MiB announced
        got = 0
        for _ in range(16):
            pieces = d.feed(b"x" * 65536)
            self.assertEqual(sum(map(len, pieces)), 65536)
            got += 65536
        self.assertEqual(d.feed(b"\r\n0\r\n\r\n"), [])
        self.assertTrue(d.done)
        self.assertEqual(got, 1 << 20)

    def test_data_before_a_fault_is_delivered_first(self):
        d = ChunkedDecoder()
        self.assertEqual(d.feed(b"3\r\nabc\r\nZZ\r\n"), [b"abc"])
        self.assertIsNotNone(d.error)
        with self.assertRaisesRegex(ProtocolError, "bad chunk size"):
            d.feed(b"")
        with self.assertRaisesRegex(ProtocolError, "bad chunk size"):
            d.eof()


if __name__ == "__main__":
    unittest.main()
