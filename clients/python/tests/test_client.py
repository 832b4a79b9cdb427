"""The blocking client, fanoutd.Client, against the real daemon: the
shared cases of cases.py, plus what only this client has."""

import unittest

import fanoutd

from .cases import Cases
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


if __name__ == "__main__":
    unittest.main()
