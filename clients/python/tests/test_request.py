"""What the clients send (fanoutd._request), without sockets: where
fanoutd is, the token, and the batch's bytes in each body form."""

import json
import os
import unittest
from unittest import mock
from urllib.parse import parse_qsl, urlsplit

from fanoutd import _request
from fanoutd._request import build_batch, request_head, resolve_endpoint

NO_ENV = {k: v for k, v in os.environ.items()
          if k not in ("FANOUTD_URL", "FANOUTD_TOKEN")}


class Endpoints(unittest.TestCase):

    def test_default_and_environment(self):
        with mock.patch.dict(os.environ, NO_ENV, clear=True):
            ep = resolve_endpoint(None, None)
            self.assertEqual((ep.host, ep.port, ep.tls, ep.unix_path),
                             ("127.0.0.1", 7878, False, None))
            self.assertIsNone(_request.resolve_token(None))
        with mock.patch.dict(os.environ, {"FANOUTD_URL": "https://h:9/p/",
                                          "FANOUTD_TOKEN": "tok"}):
            ep = resolve_endpoint(None, None)
            self.assertEqual((ep.host, ep.port, ep.tls, ep.prefix,
                              ep.describe()),
                             ("h", 9, True, "/p", "https://h:9/p"))
            self.assertEqual(_request.resolve_token(None), "tok")
            self.assertEqual(_request.resolve_token("mine"), "mine")
            self.assertEqual(resolve_endpoint("http://x", None).host, "x")

    def test_unix_sockets(self):
        ep = resolve_endpoint("unix:/run/f.sock", None)
        self.assertEqual((ep.unix_path, ep.host_header, ep.describe()),
                         ("/run/f.sock", "localhost", "unix:/run/f.sock"))
        ep = resolve_endpoint("http://fanoutd/pre", "/s")
        self.assertEqual((ep.unix_path, ep.host_header, ep.prefix),
                         ("/s", "fanoutd", "/pre"))

    def test_ipv6_and_default_ports(self):
        ep = resolve_endpoint("http://[::1]:7000", None)
        self.assertEqual((ep.host, ep.port, ep.host_header),
                         ("::1", 7000, "[::1]:7000"))
        self.assertEqual(resolve_endpoint("https://h", None).port, 443)
        self.assertEqual(resolve_endpoint("http://h", None).port, 80)

    def test_bad_addresses_and_tokens_say_what_is_wrong(self):
        for url, message in (("ftp://h", "expected http://"),
                             ("http://", "no host"),
                             ("http://h:x", "bad port"),
                             ("http://h/?a=1", "only scheme"),
                             ("http://u:p@h", "only scheme"),
                             ("unix:", "no socket path")):
            with self.subTest(url=url):
                with self.assertRaisesRegex(ValueError, message):
                    resolve_endpoint(url, None)
        with self.assertRaisesRegex(ValueError, "not both"):
            resolve_endpoint("unix:/a", "/b")
        for token in ("", "a\r\nX-Evil: 1"):
            with self.assertRaisesRegex(ValueError, "one line"):
                _request.resolve_token(token)


class Bodies(unittest.TestCase):
    ep = resolve_endpoint("http://127.0.0.1:7878/gw", None)

    def test_a_list_is_the_json_object_form(self):
        req = build_batch(self.ep, ["http://a/", {"url": "http://b/",
                                                  "id": 1}],
                          {"concurrency": 5, "retry_on": ["timeout", 429],
                           "headers": False, "rate": None})
        self.assertEqual((req.target, req.content_type),
                         ("/gw/v1/batch", "application/json"))
        self.assertEqual(json.loads(req.body), {
            "requests": ["http://a/", {"url": "http://b/", "id": 1}],
            "options": {"concurrency": 5, "retry_on": ["timeout", "429"],
                        "headers": False}})

    def test_no_options_no_options_key(self):
        req = build_batch(self.ep, iter(["http://a/"]), {})
        self.assertEqual(json.loads(req.body), {"requests": ["http://a/"]})

    def test_a_bytes_body_goes_as_base64(self):
        item = {"url": "http://a/", "method": "POST", "body": b"\x00\xff"}
        req = build_batch(self.ep, [item], {})
        self.assertEqual(json.loads(req.body)["requests"][0],
                         {"url": "http://a/", "method": "POST",
                          "body_base64": "AP8="})
        self.assertEqual(item["body"], b"\x00\xff")  # the caller's dict

    def test_a_string_is_the_text_form_with_a_query(self):
        req = build_batch(self.ep, "http://a/\n# c\nhttp://b/\n",
                          {"concurrency": 5, "headers": False,
                           "retry_on": ["timeout", 503], "rate": 0.5,
                           "body": "none", "timeout_ms": None})
        target = urlsplit(req.target)
        self.assertEqual(target.path, "/gw/v1/batch")
        self.assertEqual(dict(parse_qsl(target.query)), {
            "concurrency": "5", "headers": "false",
            "retry_on": "timeout,503", "rate": "0.5", "body": "none"})
        self.assertEqual(req.content_type, "text/plain; charset=utf-8")
        self.assertEqual(req.body, b"http://a/\n# c\nhttp://b/\n")
        self.assertEqual(build_batch(self.ep, b"http://a/", {}).target,
                         "/gw/v1/batch")

    def test_what_cannot_be_sent_is_refused_here(self):
        with self.assertRaisesRegex(TypeError, r"requests\[1\]"):
            build_batch(self.ep, ["http://a/", 3], {})
        with self.assertRaisesRegex(TypeError, "keyword arguments"):
            build_batch(self.ep, {"requests": []}, {})
        with self.assertRaisesRegex(TypeError, "option x"):
            build_batch(self.ep, "http://a/", {"x": {"a": 1}})


class Heads(unittest.TestCase):

    def test_the_request_head(self):
        ep = resolve_endpoint("http://[::1]:7000", None)
        req = build_batch(ep, ["http://a/"], {})
        head = request_head(ep, "tok", req).decode()
        self.assertTrue(head.startswith("POST /v1/batch HTTP/1.1\r\n"))
        self.assertTrue(head.endswith("\r\n\r\n"))
        fields = dict(line.split(": ", 1)
                      for line in head.split("\r\n")[1:-2])
        self.assertEqual(fields, {
            "Host": "[::1]:7000", "User-Agent": _request.USER_AGENT,
            "Accept": "application/x-ndjson",
            "Content-Type": "application/json",
            "Content-Length": str(len(req.body)), "Connection": "close",
            "Authorization": "Bearer tok"})
        self.assertNotIn("Authorization", request_head(ep, None, req)
                         .decode())


if __name__ == "__main__":
    unittest.main()
