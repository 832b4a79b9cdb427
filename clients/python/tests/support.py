"""What the client tests share: the daemon under test, the test upstream's
books, and a scripted HTTP server for the bytes fanoutd never sends.

tests/integration/python.sh starts fanoutd (TCP and a unix socket, with
auth_tokens_file) and the test upstream, and exports:

- FANOUTD_TEST_URL     fanoutd's http:// address
- FANOUTD_TEST_UNIX    its unix socket
- FANOUTD_TEST_TOKEN   a token it accepts
- FANOUTD_TEST_UPSTREAM  the test upstream's http:// address
- FANOUTD_TEST_BIN     the fanoutd binary, for the tests that start (and
                       restart) a daemon of their own (:class:`Daemon`)

Without them the tests that need the daemon are skipped (python.sh fails
on any skip).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request
import uuid
from typing import Any, Callable

URL = os.environ.get("FANOUTD_TEST_URL", "")
UNIX = os.environ.get("FANOUTD_TEST_UNIX", "")
TOKEN = os.environ.get("FANOUTD_TEST_TOKEN", "")
UP = os.environ.get("FANOUTD_TEST_UPSTREAM", "")
BIN = os.environ.get("FANOUTD_TEST_BIN", "")

needs_daemon = unittest.skipUnless(
    URL and UNIX and TOKEN and UP and BIN,
    "FANOUTD_TEST_* not set: run through tests/integration/python.sh")

# Never a proxy between the tests and loopback.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def upstream_stats() -> dict[str, Any]:
    """The test upstream's /stats document."""
    with _opener.open(UP + "/stats", timeout=10) as r:
        return json.load(r)


def tag_stats(tag: str) -> dict[str, int]:
    """The upstream's counts for one tag (zeros before its first request)."""
    return upstream_stats()["tags"].get(
        tag, {"requests": 0, "inflight": 0, "aborted": 0})


def new_tag() -> str:
    return "py" + uuid.uuid4().hex[:12]


def wait_until(what: str, cond: Callable[[], bool],
               seconds: float = 10.0) -> None:
    """Poll cond (every 20 ms) until it holds; AssertionError after
    ``seconds`` naming what was awaited."""
    deadline = time.monotonic() + seconds
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(0.02)


class ScriptedServer:
    """A loopback HTTP server that answers every request with the same
    scripted bytes, written in the given pieces with a pause between
    them (so the client's reads end at the cuts), then closes. It
    records each request it read (head and body) in ``requests``.
    ``hold`` keeps the connection open after the pieces instead."""

    def __init__(self, pieces: list[bytes], pause: float = 0.01,
                 hold: bool = False) -> None:
        self.pieces = pieces
        self.pause = pause
        self.hold = hold
        self.requests: list[bytes] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = "http://127.0.0.1:%d" % self._sock.getsockname()[1]
        self._done = threading.Event()
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _read_request(self, conn: socket.socket) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            more = conn.recv(65536)
            if not more:
                return data
            data += more
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            more = conn.recv(65536)
            if not more:
                break
            body += more
        return head + b"\r\n\r\n" + body

    def _serve(self) -> None:
        self._sock.settimeout(0.1)
        while not self._done.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            conn.settimeout(10)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                self.requests.append(self._read_request(conn))
                for i, piece in enumerate(self.pieces):
                    if i:
                        time.sleep(self.pause)
                    conn.sendall(piece)
            except OSError:
                pass
            if self.hold:
                self._held.append(conn)
            else:
                conn.close()

    def close(self) -> None:
        self._done.set()
        self._thread.join()
        self._sock.close()
        for conn in self._held:
            conn.close()

    def __enter__(self) -> "ScriptedServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def chunked(body: bytes, cuts: list[int], ext: bytes = b"") -> bytes:
    """body as chunks cut at the given offsets, each size line with ext."""
    out = b""
    for a, b in zip([0] + cuts, cuts + [len(body)]):
        out += b"%x%s\r\n%s\r\n" % (b - a, ext, body[a:b])
    return out


class Daemon:
    """A fanoutd of the test's own, to stop and start again: it listens
    on a unix socket (``url``, the same path across restarts) and keeps
    its job store in a scratch directory, both removed by
    :meth:`cleanup`. No tokens."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="fanoutd-py-")
        self.sock = os.path.join(self.dir, "fanoutd.sock")
        self.url = "unix:" + self.sock
        self.log = os.path.join(self.dir, "fanoutd.log")
        self.conf = os.path.join(self.dir, "fanoutd.conf")
        with open(self.conf, "w") as f:
            f.write(f"[server]\nlisten = unix:{self.sock}\n"
                    f"[jobs]\ndir = {self.dir}/state\n")
        self.proc: "subprocess.Popen[bytes] | None" = None

    def start(self) -> None:
        """Start it; return once it listens (its log says so)."""
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen([BIN, "-c", self.conf],
                                         stdout=subprocess.DEVNULL,
                                         stderr=log)

        def listening() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                with open(self.log) as f:
                    raise AssertionError("fanoutd exited: " + f.read())
            with open(self.log) as f:
                return "listening on unix:" in f.read()
        wait_until("the test's fanoutd listens", listening, 30)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send sig and wait for the exit; its status (-sig if killed)."""
        assert self.proc is not None
        self.proc.send_signal(sig)
        rc = self.proc.wait(60)
        self.proc = None
        return rc

    def cleanup(self) -> None:
        if self.proc is not None:
            self.stop(signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)
