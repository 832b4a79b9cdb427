#!/usr/bin/python3
"""peer_bs4.py - the tutorial's parsing step alone (Example 1 and
Exercise 5: BeautifulSoup with html.parser, the title and every link
joined with urllib.parse.urljoin), on the same pages as
bench/extract_bench and on one core, so the two figures compare.

    find /usr/share/doc/python3.11/html -name '*.html' |
        /usr/bin/python3 bench/peer_bs4.py [ROUNDS]

Prints MB/s and pages/s. Parsing only: no network, as extract_bench.
"""
import sys
import time
from urllib.parse import urldefrag, urljoin

from bs4 import BeautifulSoup

BASE = "https://docs.python.org/3.11/a/b.html"


def scrape(html):
    soup = BeautifulSoup(html, "html.parser")
    t = soup.find("title")
    links = [urldefrag(urljoin(BASE, a["href"]))[0]
             for a in soup.find_all(["a", "area"], href=True)]
    return (t.get_text() if t else None), links


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    pages = []
    for path in sys.stdin.read().split():
        with open(path, "rb") as f:
            pages.append(f.read())
    total = sum(len(p) for p in pages)
    t0 = time.monotonic()
    for _ in range(rounds):
        for p in pages:
            scrape(p)
    s = time.monotonic() - t0
    print("peer_bs4: %d pages, %.1f MB, %d rounds: %.2f MB/s, %.1f pages/s"
          " (one core)" % (len(pages), total / 1e6, rounds,
                           total * rounds / s / 1e6, len(pages) * rounds / s))


if __name__ == "__main__":
    main()
