#!/usr/bin/python3
"""peer_bs4.py - the tutorial's parsing step alone (Example 1 and
Exercise 5: BeautifulSoup with html.parser, the title and every link
joined with urllib.parse.urljoin), on the same pages as
bench/extract_bench and on one core, so the two figures compare.

    find /usr/share/doc/python3.11/html -name '*.html' |
        /usr/bin/python3 bench/peer_bs4.py [ROUNDS]

Prints MB/s and pages/s. Parsing only: no network, as extract_bench.

    peer_bs4.py --fetch FILE C

is the tutorial's whole scraper (Example 1): every URL of FILE fetched
with aiohttp under a Semaphore of C, each page parsed with bs4 as it
arrives, title and links joined against the page's URL; prints
"fetches N failed F seconds S rate R" as peer_aiohttp.py (bench/run's
extraction scenario).
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


async def fetch_all(urls, c):
    import asyncio

    import aiohttp

    sem = asyncio.Semaphore(c)
    conn = aiohttp.TCPConnector(limit=c, limit_per_host=c)
    failed = 0

    async with aiohttp.ClientSession(connector=conn) as session:
        async def one(url):
            nonlocal failed
            async with sem:
                try:
                    async with session.get(url) as r:
                        html = await r.read()
                    soup = BeautifulSoup(html, "html.parser")
                    t = soup.find("title")
                    title = t.get_text() if t else None
                    links = [urldefrag(urljoin(url, a["href"]))[0]
                             for a in soup.find_all(["a", "area"], href=True)]
                    if title is None or not links:
                        failed += 1
                except aiohttp.ClientError:
                    failed += 1

        t0 = time.monotonic()
        await asyncio.gather(*(one(u) for u in urls))
        return time.monotonic() - t0, failed


def main_fetch(path, c):
    import asyncio

    urls = [line.strip() for line in open(path) if line.strip()]
    secs, failed = asyncio.run(fetch_all(urls, c))
    print(f"fetches {len(urls)} failed {failed} seconds {secs:.3f} "
          f"rate {len(urls) / secs:.0f}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--fetch":
        main_fetch(sys.argv[2], int(sys.argv[3]))
    else:
        main()
