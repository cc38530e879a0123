"""Unit tests of pyrunner.worker_loop: many requests adopted as tasks on one
worker's loop, run one non-blocking iteration at a time as the event worker
does (cnode/pool/event_worker.cpp), without pycnode."""

import asyncio
import time
import unittest
import unittest.mock

import _path  # noqa: F401

from pyrunner.worker_loop import WorkerLoop

from _drive import first_send


def start(worker, coro):
    """Drive `coro` directly, as C++ does; adopt it if it waits. Returns
    ("returned", value) or ("adopted", outcomes) where outcomes fills with
    (value, error) when the task ends."""
    done, value, context = first_send(worker, coro)
    if done:
        return "returned", value
    outcomes = []
    worker.adopt(coro, value, context, lambda value, error: outcomes.append((value, error)))
    return "adopted", outcomes


def run_until(worker, done, limit=5.0):
    """The event worker's loop, without jobs: iterate while there is work,
    sleep (here: time.sleep) until the next timer otherwise."""
    deadline = time.monotonic() + limit
    while not done() and time.monotonic() < deadline:
        worker.run_ready()
        wait = worker.next_timeout()
        if wait > 0:
            time.sleep(min(wait, 0.05))
        elif wait < 0:
            time.sleep(0.001)  # only I/O could help: poll
    return done()


class WorkerLoopTest(unittest.TestCase):
    def setUp(self):
        self.worker = WorkerLoop()

    def tearDown(self):
        self.worker.close()

    def test_a_coroutine_that_does_not_wait_is_not_adopted(self):
        async def quick():
            return 42
        self.assertEqual(start(self.worker, quick()), ("returned", 42))
        self.assertEqual(self.worker.next_timeout(), -1.0)

    def test_many_waiting_requests_release_each_other(self):
        event = None
        arrived = []

        async def request(i, total):
            nonlocal event
            if event is None:
                event = asyncio.Event()
            arrived.append(i)
            if len(arrived) == total:
                event.set()
            await event.wait()
            return i

        total = 200
        outcomes = []
        for i in range(total):
            kind, out = start(self.worker, request(i, total))
            if kind == "adopted":
                outcomes.append(out)
        self.assertEqual(len(outcomes), total - 1)  # the last one set the event and returned at once
        self.assertTrue(run_until(self.worker, lambda: all(outcomes)))
        self.assertEqual(sorted(o[0][0] for o in outcomes), list(range(total - 1)))

    def test_adopted_tasks_keep_their_identity_and_fresh_ones_follow(self):
        seen = []

        async def request():
            seen.append(asyncio.current_task())
            await asyncio.sleep(0.001)
            seen.append(asyncio.current_task())
            return "done"

        first_task = self.worker.task
        kind, out = start(self.worker, request())
        self.assertEqual(kind, "adopted")
        self.assertIsNot(self.worker.task, first_task)
        self.assertIn(first_task, asyncio.all_tasks(self.worker.loop))
        self.assertTrue(run_until(self.worker, lambda: out))
        self.assertEqual(out, [("done", None)])
        self.assertEqual(seen, [first_task, first_task])
        self.assertTrue(first_task.done())
        self.assertNotIn(first_task, asyncio.all_tasks(self.worker.loop))

    def test_cancel_reaches_the_waiting_coroutine(self):
        async def request():
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                return "saw cancel"

        kind, out = start(self.worker, request())
        task = next(iter(asyncio.all_tasks(self.worker.loop)))
        self.assertTrue(task.cancel())
        self.assertTrue(run_until(self.worker, lambda: out))
        self.assertEqual(out, [("saw cancel", None)])
        self.assertFalse(task.cancel())  # done: nothing more to cancel

    def test_next_timeout_follows_timers_and_ready_callbacks(self):
        loop = self.worker.loop
        self.assertEqual(self.worker.next_timeout(), -1.0)
        handle = loop.call_later(10, print)
        self.assertGreater(self.worker.next_timeout(), 5)
        handle.cancel()
        self.assertEqual(self.worker.next_timeout(), 0.0)  # a cancelled timer: run once to drop it
        self.worker.run_ready()
        self.assertEqual(self.worker.next_timeout(), -1.0)
        loop.call_soon(print)
        self.assertEqual(self.worker.next_timeout(), 0.0)
        with unittest.mock.patch("builtins.print"):
            self.worker.run_ready()
        self.assertIsNone(asyncio.events._get_running_loop())
        self.assertFalse(loop.is_running())

    def test_an_exception_reaches_on_done(self):
        async def request():
            await asyncio.sleep(0)
            raise LookupError("after waiting")

        kind, out = start(self.worker, request())
        self.assertTrue(run_until(self.worker, lambda: out))
        self.assertIsInstance(out[0][1], LookupError)

    def test_close_cancels_what_still_waits(self):
        async def request():
            await asyncio.sleep(3600)

        kind, out = start(self.worker, request())
        self.worker.close()
        self.assertIsInstance(out[0][1], asyncio.CancelledError)
        self.worker = WorkerLoop()  # for tearDown


if __name__ == "__main__":
    unittest.main()
