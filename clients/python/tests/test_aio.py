"""The asyncio client, fanoutd.aio.Client, against the real daemon: the
shared cases of cases.py and job_cases.py (each step run on one event
loop that lives for the test), plus what only this client has: lazy
start, batches at once on one loop, task cancellation."""

import asyncio
import unittest

import fanoutd
import fanoutd.aio

from .cases import Cases
from .job_cases import JobCases
from .support import TOKEN, UP, URL, needs_daemon, new_tag, tag_stats, wait_until


class AioDriver:
    runner: asyncio.Runner

    def setUp(self):
        self.runner = asyncio.Runner()

    def tearDown(self):
        self.runner.close()

    def client(self, url=URL, token=TOKEN, **kw):
        return fanoutd.aio.Client(url, token, **kw)

    def start(self, client, requests, on_progress=None, **options):
        async def go():
            return await client.batch(requests, on_progress=on_progress,
                                      **options)
        return self.runner.run(go())

    def step(self, batch):
        try:
            return self.runner.run(batch.__anext__())
        except StopAsyncIteration:
            raise StopIteration from None

    def drain(self, batch):
        async def go():
            return [r async for r in batch]
        return self.runner.run(go())

    def collect(self, batch):
        return self.runner.run(batch.collect())

    def close(self, batch):
        self.runner.run(batch.aclose())

    def call(self, fn, *args, **kw):
        got = fn(*args, **kw)
        return self.runner.run(got) if asyncio.iscoroutine(got) else got

    def results(self, client, job_id, **kw):
        async def go():
            return await client.results(job_id, **kw)
        return self.runner.run(go())

    def pages(self, client, **kw):
        async def go():
            return [page async for page in client.jobs(**kw)]
        return self.runner.run(go())


@needs_daemon
class AioClient(AioDriver, Cases, unittest.TestCase):

    def test_async_for_starts_the_batch_itself(self):
        async def go():
            got = []
            b = self.client().batch([f"{UP}/text/2", f"{UP}/text/3"])
            async for r in b:
                got.append(r["body"])
            return sorted(got), b.summary["total"]
        self.assertEqual(self.runner.run(go()), (["ab", "abc"], 2))

    def test_a_refused_batch_raises_when_iterated_unawaited(self):
        async def go():
            async for _ in self.client().batch([f"{UP}/text/1"], bogus=1):
                pass
        with self.assertRaisesRegex(fanoutd.RequestError, "options.bogus"):
            self.runner.run(go())

    def test_a_batch_that_failed_to_start_fails_again(self):
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))  # a port nobody listens on
            dead = "http://127.0.0.1:%d" % s.getsockname()[1]
            cases = [(self.client(), {"bogus": 1}, fanoutd.RequestError),
                     (self.client(url=dead), {}, fanoutd.ConnectError)]
            for c, options, error in cases:
                with self.subTest(error=error.__name__):
                    b = c.batch([f"{UP}/text/1"], **options)

                    async def iterate():
                        return [r async for r in b]

                    async def wait():
                        return await b
                    with self.assertRaises(error) as first:
                        self.runner.run(wait())
                    for again in (iterate(), wait()):
                        with self.assertRaises(error) as cm:
                            self.runner.run(again)
                        self.assertIs(cm.exception, first.exception)

    def test_batches_run_at_once_on_one_loop(self):
        c = self.client()
        tag = new_tag()

        async def one(n):
            b = await c.batch([f"{UP}/delay/1000?tag={tag}"] * n,
                              concurrency=n)
            return len([r async for r in b]), b.summary["ok"]

        async def go():
            return await asyncio.gather(one(2), one(3), one(4))
        self.assertEqual(self.runner.run(go()), [(2, 2), (3, 3), (4, 4)])
        # At once: the upstream had all nine in flight together (one
        # batch after the other would peak at 4).
        self.assertEqual(tag_stats(tag)["peak"], 9)

    def test_async_with_and_task_cancellation_cancel_the_batch(self):
        c = self.client()
        for how in ("async with", "cancel"):
            tag = new_tag()
            with self.subTest(how=how):
                async def consume(in_flight):
                    async with c.batch([f"{UP}/text/1",
                                        f"{UP}/delay/60000?tag={tag}"]) as b:
                        async for r in b:
                            self.assertEqual(r["index"], 0)
                            # Leave only once the slow item is upstream,
                            # so that its cancellation can be seen.
                            while tag_stats(tag)["inflight"] != 1:
                                await asyncio.sleep(0.02)
                            in_flight.set()
                            if how == "async with":
                                break
                            await asyncio.sleep(60)  # cancelled here

                async def go():
                    in_flight = asyncio.Event()
                    task = asyncio.create_task(consume(in_flight))
                    await in_flight.wait()
                    if how == "cancel":
                        task.cancel()
                    try:
                        await task
                    except asyncio.CancelledError:
                        pass
                self.runner.run(asyncio.wait_for(go(), 20))
                wait_until("fanoutd cancelled the slow item",
                           lambda: tag_stats(tag)["aborted"] == 1)


@needs_daemon
class AioJobs(AioDriver, JobCases, unittest.TestCase):

    def test_results_iterate_unawaited_and_jobs_on_one_loop(self):
        c = self.client()

        tag = new_tag()

        async def one(n):
            job = await c.job([f"{UP}/delay/1000?tag={tag}"] * n,
                              concurrency=n)
            lines = [ln async for ln in c.results(job["id"], follow=True)]
            return sorted(ln["seq"] for ln in lines)

        async def go():
            return await asyncio.gather(one(2), one(3))
        self.assertEqual(self.runner.run(go()), [[1, 2], [1, 2, 3]])
        # At once, not one after the other: five in flight together.
        self.assertEqual(tag_stats(tag)["peak"], 5)


if __name__ == "__main__":
    unittest.main()
