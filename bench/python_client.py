#!/usr/bin/python3
"""bench/python_client.py: how fast the Python client (clients/python)
takes in a 100,000-item stream (issue #18's goal: >= 100,000 results/s
parsed). Never part of `make check`.

Starts fanoutd and the test upstream (tests/upstream/fanout-upstream) on
free loopback ports, then measures, each a median of --runs:

1. live: a batch of N x /text/10 (concurrency 1024) through fanoutd,
   iterated with fanoutd.Client and with fanoutd.aio.Client: results/s
   from the call to the last result, and the client's own CPU time per
   result (the daemon and the upstream share the machine, so the wall
   figure is theirs as much as the client's);
2. replay: the same stream's bytes as fanoutd sent them (recorded once
   with a plain socket) served again by a process that only writes them:
   results/s of the client alone, sockets, HTTP framing and JSON all in.

Usage (after script/build and `make tests/upstream/fanout-upstream`):
    bench/python_client.py [--items N] [--runs R]
Environment: FANOUTD, UPSTREAM (binaries; default the build's own).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))
sys.dont_write_bytecode = True

import fanoutd  # noqa: E402
import fanoutd.aio  # noqa: E402
from fanoutd import _request  # noqa: E402


def wait_for(what, cond, seconds=30.0):
    deadline = time.monotonic() + seconds
    while not cond():
        if time.monotonic() > deadline:
            sys.exit(f"bench: {what} did not start")
        time.sleep(0.02)


def start_servers(work):
    """fanoutd and the test upstream on loopback: (fanoutd URL, upstream
    URL, processes)."""
    fanoutd_bin = os.environ.get("FANOUTD", os.path.join(ROOT, "src",
                                                         "fanoutd"))
    upstream_bin = os.environ.get("UPSTREAM", os.path.join(
        ROOT, "tests", "upstream", "fanout-upstream"))
    ready = os.path.join(work, "upstream.ready")
    up = subprocess.Popen([upstream_bin, "--listen", "127.0.0.1:0",
                           "--ready-file", ready],
                          stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    wait_for("the test upstream", lambda: os.path.getsize(ready) > 0
             if os.path.exists(ready) else False)
    with open(ready) as f:
        up_url = "http://" + f.readline().strip()
    conf = os.path.join(work, "fanoutd.conf")
    with open(conf, "w") as f:
        # The log stays at info: "listening on" is how the port is read.
        f.write("[server]\nlisten = 127.0.0.1:0\n")
    log = os.path.join(work, "fanoutd.log")
    fo = subprocess.Popen([fanoutd_bin, "-c", conf],
                          stderr=open(log, "w"))
    found = []

    def listening():
        with open(log) as f:
            m = re.search(r"listening on (http://\S+)", f.read())
        if m:
            found.append(m.group(1))
        return bool(m)
    wait_for("fanoutd", listening)
    return found[0], up_url, [fo, up]


def sync_run(client, urls, options):
    t0, c0 = time.perf_counter(), time.process_time()
    n = sum(1 for _ in client.batch(urls, **options))
    return n, time.perf_counter() - t0, time.process_time() - c0


def aio_run(client, urls, options):
    async def go():
        t0, c0 = time.perf_counter(), time.process_time()
        n = 0
        async for _ in client.batch(urls, **options):
            n += 1
        return n, time.perf_counter() - t0, time.process_time() - c0
    return asyncio.run(go())


def record(fo_url, urls, options):
    """The raw bytes of fanoutd's response to the batch."""
    client = fanoutd.Client(fo_url)
    req = _request.build_batch(client.endpoint, urls, options)
    head = _request.request_head(client.endpoint, None, req)
    s = socket.create_connection((client.endpoint.host,
                                  client.endpoint.port))
    s.sendall(head + req.body)
    parts = []
    while True:
        data = s.recv(1 << 20)
        if not data:
            break
        parts.append(data)
    s.close()
    return b"".join(parts)


def replay_server(sock, raw):
    """Answer every connection with the recorded bytes (child process)."""
    while True:
        conn, _ = sock.accept()
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
        while len(body) < length:
            body += conn.recv(1 << 20)
        conn.sendall(raw)
        conn.close()


def measure(name, fn, runs, n_expected):
    rates, cpu = [], []
    for _ in range(runs):
        n, wall, cpu_s = fn()
        if n != n_expected:
            sys.exit(f"bench: {name}: {n} results, not {n_expected}")
        rates.append(n / wall)
        cpu.append(cpu_s / n * 1e6)
    print(f"{name:<34} {statistics.median(rates):>10,.0f} results/s"
          f"   client CPU {statistics.median(cpu):5.2f} us/result"
          f"   (runs: {', '.join(f'{r:,.0f}' for r in rates)})")
    return statistics.median(rates)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=100000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="fanoutd-pybench.")
    fo_url, up_url, procs = start_servers(work)
    try:
        urls = [up_url + "/text/10"] * args.items
        opts = {"concurrency": 1024, "retries": 0}
        print(f"python client bench, {time.strftime('%Y-%m-%d')}, "
              f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, "
              f"{args.items} x /text/10 via fanoutd")
        client = fanoutd.Client(fo_url)
        aclient = fanoutd.aio.Client(fo_url)
        measure("live, fanoutd.Client", lambda: sync_run(
            client, urls, opts), args.runs, args.items)
        measure("live, fanoutd.aio.Client", lambda: aio_run(
            aclient, urls, opts), args.runs, args.items)
        raw = record(fo_url, urls, opts)
        sock = socket.create_server(("127.0.0.1", 0))
        child = multiprocessing.get_context("fork").Process(
            target=replay_server, args=(sock, raw), daemon=True)
        child.start()
        replay = "http://127.0.0.1:%d" % sock.getsockname()[1]
        print(f"replay: {len(raw):,} bytes recorded "
              f"({len(raw) / args.items:.0f} per result)")
        rate = min(
            measure("replay, fanoutd.Client", lambda: sync_run(
                fanoutd.Client(replay), urls, opts), args.runs, args.items),
            measure("replay, fanoutd.aio.Client", lambda: aio_run(
                fanoutd.aio.Client(replay), urls, opts), args.runs,
                args.items))
        child.terminate()
        print(f"goal >= 100,000 results/s parsed: "
              f"{'met' if rate >= 100000 else 'NOT met'}")
    finally:
        for p in procs:
            p.terminate()
            p.wait()


if __name__ == "__main__":
    main()
