#!/usr/bin/python3
"""peer_threads.py - the other hand-written answer: a thread pool of C
workers with requests (one Session per thread, so connections are kept
alive). Fetches every URL of FILE and prints
"fetches N seconds S rate R".

    peer_threads.py FILE C
"""
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

local = threading.local()


def one(url):
    s = getattr(local, "s", None)
    if s is None:
        s = local.s = requests.Session()
    try:
        return len(s.get(url, timeout=30).content) >= 0
    except requests.RequestException:
        return False


urls = [line.strip() for line in open(sys.argv[1]) if line.strip()]
t0 = time.monotonic()
with ThreadPoolExecutor(max_workers=int(sys.argv[2])) as pool:
    ok = sum(pool.map(one, urls))
secs = time.monotonic() - t0
print(f"fetches {len(urls)} failed {len(urls) - ok} seconds {secs:.3f} "
      f"rate {len(urls) / secs:.0f}")
