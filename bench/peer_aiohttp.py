#!/usr/bin/python3
"""peer_aiohttp.py - what fanoutd replaces: an asyncio + aiohttp script
with a Semaphore, as users write by hand (../shared/seed). Fetches every
URL of FILE (one per line) at concurrency C, reads each body, and prints
"fetches N seconds S rate R".

    peer_aiohttp.py FILE C
"""
import asyncio
import sys
import time

import aiohttp


async def main(urls, c):
    sem = asyncio.Semaphore(c)
    conn = aiohttp.TCPConnector(limit=c, limit_per_host=c)
    failed = 0

    async with aiohttp.ClientSession(connector=conn) as session:
        async def one(url):
            nonlocal failed
            async with sem:
                try:
                    async with session.get(url) as r:
                        await r.read()
                except aiohttp.ClientError:
                    failed += 1

        t0 = time.monotonic()
        await asyncio.gather(*(one(u) for u in urls))
        return time.monotonic() - t0, failed


urls = [line.strip() for line in open(sys.argv[1]) if line.strip()]
secs, failed = asyncio.run(main(urls, int(sys.argv[2])))
print(f"fetches {len(urls)} failed {failed} seconds {secs:.3f} "
      f"rate {len(urls) / secs:.0f}")
