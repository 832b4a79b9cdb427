"""The blocking client, fanoutd.Client, against the real daemon: the
shared cases of cases.py and job_cases.py, plus what only this client
has."""

import unittest

import fanoutd

from .cases import Cases
from .job_cases import JobCases
from .support import TOKEN, UP, URL, needs_daemon, new_tag, tag_stats, wait_until


class SyncDriver:
    def client(self, url=URL, token=TOKEN, **kw):
        return fanoutd.Client(url, token, **kw)

    def start(self, client, requests, **options):
        return client.batch(requests, **options)

    def step(self, batch):
        return next(batch)

    def drain(self, batch):
        return list(batch)

    def collect(self, batch):
        return batch.collect()

    def close(self, batch):
        batch.close()

    def call(self, fn, *args, **kw):
        return fn(*args, **kw)

    def results(self, client, job_id, **kw):
        return client.results(job_id, **kw)

    def pages(self, client, **kw):
        return list(client.jobs(**kw))


@needs_daemon
class SyncClient(SyncDriver, Cases, unittest.TestCase):

    def test_leaving_a_with_block_cancels_the_batch(self):
        tag = new_tag()
        with self.client().batch([f"{UP}/text/1",
                                  f"{UP}/delay/60000?tag={tag}"]) as b:
            self.assertEqual(next(b)["index"], 0)
            wait_until("the slow item in flight",
                       lambda: tag_stats(tag)["inflight"] == 1)
        wait_until("fanoutd cancelled the slow item",
                   lambda: tag_stats(tag)["aborted"] == 1)


@needs_daemon
class SyncJobs(SyncDriver, JobCases, unittest.TestCase):

    def test_jobs_is_lazy_and_results_close_leaves_the_job(self):
        c = self.client()
        pages = c.jobs(limit=0)  # nothing sent yet
        with self.assertRaises(fanoutd.RequestError):
            next(pages)
        tag = new_tag()
        job = c.job([f"{UP}/text/1", f"{UP}/delay/300?tag={tag}"],
                    concurrency=2)
        with c.results(job["id"], follow=True) as r:
            self.assertEqual(next(r)["index"], 0)
        # Leaving the with block dropped the connection, not the job.
        self.assertEqual([ln["index"] for ln in
                          c.results(job["id"], after=r.cursor,
                                    follow=True)], [1])
        self.assertEqual(tag_stats(tag)["aborted"], 0)


if __name__ == "__main__":
    unittest.main()
