"""Unit tests of pyrunner.asgi (the HTTP cycle), pyrunner.worker_loop (the
per-worker loop and its DrivenTasks) and pyrunner.asgi_loop (lifespan),
without pycnode.

`drive` below does in Python what pycnode's C++ driver does
(cnode/python/event_loop.cpp): send into the coroutine directly with the
worker's loop running and its DrivenTask current, and hand it to the loop
only when it waits for something not yet done.
"""

import asyncio
import contextvars
import sys
import threading
import time
import unittest

import _path  # noqa: F401  (sys.path set-up)
from pyrunner import default_asgi_handler
from pyrunner.asgi import ASGIProtocolError, LifespanFailed, NoResponse
from pyrunner.asgi_loop import AsgiLifespans
from pyrunner.worker_loop import WorkerLoop

from _drive import first_send


def drive(worker, coro):
    """Returns (result, handed_off); raises what the coroutine raises."""
    done, value, context = first_send(worker, coro)
    if done:
        return value, False
    return worker.hand_off(coro, value, context), True


def run(worker, app, body=b"", scope=None):
    scope = scope if scope is not None else {"type": "http", "path": "/", "headers": []}
    out = drive(worker, default_asgi_handler(app, scope, body))
    worker.settle()
    if worker.task._cancel_requested:
        worker.reset_task()
    return out


def response(status=200, headers=((b"content-type", b"text/plain"),), body=b"ok"):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": status, "headers": list(headers)})
        await send({"type": "http.response.body", "body": body})
    return app


class WorkerLoopTestCase(unittest.TestCase):
    def setUp(self):
        self.worker = WorkerLoop()

    def tearDown(self):
        self.worker.close()

    def run_app(self, app, body=b"", scope=None):
        return run(self.worker, app, body, scope)

    def assertProtocolError(self, app, fragment):
        with self.assertRaises(ASGIProtocolError) as caught:
            self.run_app(app)
        self.assertIn(fragment, str(caught.exception))


class CycleTest(WorkerLoopTestCase):
    def test_hello_is_driven_without_the_loop(self):
        (status, headers, body), handed_off = self.run_app(response())
        self.assertEqual((status, headers, body), (200, [(b"content-type", b"text/plain")], b"ok"))
        self.assertFalse(handed_off)

    def test_receive_gives_the_whole_body_then_disconnect(self):
        events = []

        async def app(scope, receive, send):
            events.append(await receive())
            await response()(scope, receive, send)
            events.append(await receive())

        payload = bytes(range(256))
        self.run_app(app, payload)
        self.assertEqual(events, [{"type": "http.request", "body": payload, "more_body": False},
                                  {"type": "http.disconnect"}])

    def test_chunks_are_joined(self):
        async def app(scope, receive, send):
            await send({"type": "http.response.start", "status": 201, "headers": []})
            for part in (b"a", bytearray(b"b"), memoryview(b"c"), b""):
                await send({"type": "http.response.body", "body": part, "more_body": True})
            await send({"type": "http.response.body", "body": b"d"})
        (status, _, body), _ = self.run_app(app)
        self.assertEqual((status, body), (201, b"abcd"))
        self.assertIs(type(body), bytes)

    def test_status_subclass_and_trailers(self):
        from http import HTTPStatus

        async def app(scope, receive, send):
            await send({"type": "http.response.start", "status": HTTPStatus.ACCEPTED, "trailers": True})
            await send({"type": "http.response.body", "body": b"x"})
            await send({"type": "http.response.trailers", "headers": [(b"x-t", b"1")]})
        (status, headers, body), _ = self.run_app(app)
        self.assertEqual((status, headers, body), (202, [], b"x"))
        self.assertIs(type(status), int)

    def test_protocol_errors(self):
        start = {"type": "http.response.start", "status": 200}
        body = {"type": "http.response.body", "body": b""}
        cases = [
            ([body], "before http.response.start"),
            ([start, start], "sent twice"),
            ([{"type": "http.response.bogus"}], "unknown event type"),
            ([{"status": 200}], "'type'"),
            ([{"type": "http.response.start", "status": 200, "headers": [("a", b"b")]}], "[bytes, bytes]"),
            ([{"type": "http.response.start", "status": 200, "headers": [(b"a", "b")]}], "[bytes, bytes]"),
            ([{"type": "http.response.start", "status": 200, "headers": [b"ab"]}], "pairs"),
            ([{"type": "http.response.start", "status": "200"}], "must be an int"),
            ([{"type": "http.response.start", "status": True}], "must be an int"),
            ([{"type": "http.response.start", "status": 42}], "3-digit"),
            ([start, {"type": "http.response.body", "body": "text"}], "must be bytes"),
            ([start, body, body], "after the response was complete"),
            ([start, {"type": "http.response.trailers"}], "without trailers=True"),
        ]
        for events, fragment in cases:
            with self.subTest(events=events):
                async def app(scope, receive, send, events=events):
                    for event in events:
                        await send(event)
                self.assertProtocolError(app, fragment)

    def test_protocol_error_sticks_even_if_the_app_answers_500(self):
        async def app(scope, receive, send):
            try:
                await send({"type": "http.response.start", "status": 200, "headers": [("bad", "str")]})
            except ASGIProtocolError:
                await send({"type": "http.response.start", "status": 500})
                await send({"type": "http.response.body", "body": b"oops"})
        self.assertProtocolError(app, "[bytes, bytes]")

    def test_no_response_and_incomplete(self):
        async def silent(scope, receive, send):
            await receive()
        with self.assertRaises(NoResponse):
            self.run_app(silent)

        async def unfinished(scope, receive, send):
            await send({"type": "http.response.start", "status": 200})
            await send({"type": "http.response.body", "body": b"x", "more_body": True})
        self.assertProtocolError(unfinished, "response incomplete")

    def test_exception_before_and_after_the_response(self):
        async def early(scope, receive, send):
            raise KeyError("early")
        with self.assertRaises(KeyError):
            self.run_app(early)

        async def late(scope, receive, send):
            await response(body=b"kept")(scope, receive, send)
            raise KeyError("late")
        with self.assertLogs("pyrunner.asgi", "ERROR"):
            (_, _, body), _ = self.run_app(late)
        self.assertEqual(body, b"kept")

    def test_second_receive_alone_gets_disconnect_at_once(self):
        async def app(scope, receive, send):
            await receive()
            event = await receive()
            await response(body=event["type"].encode())(scope, receive, send)
        (_, _, body), handed_off = self.run_app(app)
        self.assertEqual(body, b"http.disconnect")
        self.assertFalse(handed_off)

    def test_second_receive_waits_while_another_task_streams(self):
        order = []

        async def app(scope, receive, send):
            async def stream():
                await send({"type": "http.response.start", "status": 200})
                for part in (b"a", b"b"):
                    await asyncio.sleep(0)
                    await send({"type": "http.response.body", "body": part, "more_body": True})
                order.append("sent")
                await send({"type": "http.response.body", "body": b""})
            task = asyncio.get_running_loop().create_task(stream())
            await receive()
            order.append((await receive())["type"])
            await task
        (_, _, body), handed_off = self.run_app(app)
        self.assertEqual((body, order, handed_off), (b"ab", ["sent", "http.disconnect"], True))

    def test_waiting_receive_wakes_when_the_other_tasks_end(self):
        async def app(scope, receive, send):
            asyncio.get_running_loop().create_task(asyncio.sleep(0.01))
            await receive()
            event = await receive()
            await response(body=event["type"].encode())(scope, receive, send)
        (_, _, body), _ = self.run_app(app)
        self.assertEqual(body, b"http.disconnect")


class DriveTest(WorkerLoopTestCase):
    def test_asyncio_sees_a_running_loop_and_a_current_task(self):
        seen = {}

        async def app(scope, receive, send):
            seen["loop"] = asyncio.get_running_loop()
            seen["task"] = asyncio.current_task()
            await response()(scope, receive, send)
        self.run_app(app)
        self.assertIs(seen["loop"], self.worker.loop)
        self.assertIs(seen["task"], self.worker.task)
        self.assertIsNone(asyncio.events._get_running_loop())

    def test_sleep_hands_off_and_resumes_in_the_same_task(self):
        for delay in (0, 0.01):
            with self.subTest(delay=delay):
                tasks = []
                driven_as = self.worker.task

                async def app(scope, receive, send):
                    tasks.append(asyncio.current_task())
                    await asyncio.sleep(delay)
                    tasks.append(asyncio.current_task())
                    await response()(scope, receive, send)
                started = time.monotonic()
                (status, _, _), handed_off = self.run_app(app)
                self.assertTrue(handed_off)
                self.assertGreaterEqual(time.monotonic() - started, delay)
                self.assertEqual(tasks, [driven_as, driven_as])
                self.assertIsNot(self.worker.task, driven_as)  # the worker drives the next one in a fresh task

    def test_run_in_executor(self):
        async def app(scope, receive, send):
            loop = asyncio.get_running_loop()
            name = await loop.run_in_executor(None, lambda: threading.current_thread().name)
            await response(body=name.encode())(scope, receive, send)
        (_, _, body), handed_off = self.run_app(app)
        self.assertTrue(handed_off)
        self.assertNotEqual(body.decode(), threading.current_thread().name)

    def test_exceptions_of_awaited_futures_reach_the_coroutine(self):
        async def app(scope, receive, send):
            future = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_later(0.001, future.set_exception, ValueError("from future"))
            try:
                await future
            except ValueError as exc:
                await response(body=str(exc).encode())(scope, receive, send)
        (_, _, body), _ = self.run_app(app)
        self.assertEqual(body, b"from future")

    def test_cancellation_reaches_the_coroutine(self):
        async def app(scope, receive, send):
            task = asyncio.current_task()
            asyncio.get_running_loop().call_later(0.001, task.cancel)
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                await response(body=b"cancelled")(scope, receive, send)
        (_, _, body), _ = self.run_app(app)
        self.assertEqual(body, b"cancelled")
        self.assertEqual(self.worker.task.cancelling(), 0)

    @unittest.skipUnless(hasattr(asyncio, "timeout"), "asyncio.timeout is 3.11+")
    def test_asyncio_timeout(self):
        async def app(scope, receive, send):
            try:
                async with asyncio.timeout(0.005):
                    await asyncio.sleep(10)
            except TimeoutError:
                await response(body=b"timed out")(scope, receive, send)
        (_, _, body), _ = self.run_app(app)
        self.assertEqual(body, b"timed out")

    def test_cancel_while_driven_directly_then_next_request_is_clean(self):
        async def app(scope, receive, send):
            asyncio.current_task().cancel()
            await response()(scope, receive, send)
        self.run_app(app)
        self.assertFalse(self.worker.task._must_cancel)
        (status, _, _), _ = self.run_app(response())
        self.assertEqual(status, 200)

    def test_cancelled_timers_do_not_pile_up(self):
        async def app(scope, receive, send):
            asyncio.get_running_loop().call_later(3600, print).cancel()
            await response()(scope, receive, send)
        for _ in range(500):
            self.run_app(app)
        self.assertLess(len(self.worker.loop._scheduled), 10)

    def test_contextvars_do_not_leak_between_requests(self):
        var = contextvars.ContextVar("var", default="unset")
        seen = []

        async def app(scope, receive, send):
            seen.append(var.get())
            var.set("set by a request")
            await asyncio.sleep(0)
            await response()(scope, receive, send)
        self.run_app(app)
        self.run_app(app)
        self.assertEqual(seen, ["unset", "unset"])

    def test_app_raising_during_hand_off(self):
        async def app(scope, receive, send):
            await asyncio.sleep(0)
            raise LookupError("after hand-off")
        with self.assertRaises(LookupError):
            self.run_app(app)
        self.assertIsNone(asyncio.events._get_running_loop())
        self.assertIsNone(asyncio.current_task(self.worker.loop))


class LifespanTest(unittest.TestCase):
    def test_startup_state_failure_and_unsupported(self):
        worker = WorkerLoop()
        lifespans = AsgiLifespans(worker)
        events = []

        async def with_state(scope, receive, send):
            assert scope["type"] == "lifespan"
            events.append((await receive())["type"])
            scope["state"]["db"] = "connected"
            await send({"type": "lifespan.startup.complete"})
            events.append((await receive())["type"])
            await send({"type": "lifespan.shutdown.complete"})

        async def failing(scope, receive, send):
            await receive()
            await send({"type": "lifespan.startup.failed", "message": "no database"})

        async def http_only(scope, receive, send):
            assert scope["type"] == "http", "http only"

        async def waits_for_disconnect(scope, receive, send):
            while (await receive())["type"] != "http.disconnect":
                pass

        try:
            self.assertEqual(lifespans.state(with_state), {"db": "connected"})
            with self.assertRaises(LifespanFailed) as caught:
                lifespans.state(failing)
            self.assertEqual(str(caught.exception), "no database")
            for app in (http_only, waits_for_disconnect):
                with self.assertLogs("pyrunner.asgi", "INFO"):
                    started = time.monotonic()
                    self.assertIsNone(lifespans.state(app))
                    self.assertLess(time.monotonic() - started, 1)
        finally:
            worker.close()
        self.assertEqual(events, ["lifespan.startup", "lifespan.shutdown"])


class DefaultHandlerOutsidePycnodeTest(unittest.TestCase):
    def test_asyncio_run(self):
        self.assertEqual(asyncio.run(default_asgi_handler(response(), {"type": "http"}, b"")),
                         (200, [(b"content-type", b"text/plain")], b"ok"))


def _import_starlette():
    try:
        import starlette  # noqa: F401
        return True
    except ImportError:
        if "/usr/lib/python3/dist-packages" not in sys.path:
            sys.path.append("/usr/lib/python3/dist-packages")
        try:
            import starlette  # noqa: F401,F811
            return True
        except ImportError:
            return False


@unittest.skipUnless(_import_starlette(), "Starlette is not installed")
class StarletteTest(WorkerLoopTestCase):
    def test_async_sync_and_streaming_endpoints(self):
        from starlette.applications import Starlette
        from starlette.responses import PlainTextResponse, StreamingResponse
        from starlette.routing import Route

        async def hello(request):
            return PlainTextResponse("async " + request.path_params["name"])

        def sync(request):  # run_in_threadpool: anyio's worker threads
            return PlainTextResponse("sync " + threading.current_thread().name)

        async def stream(request):
            async def parts():
                for part in ("a", "b", "c"):
                    await asyncio.sleep(0)
                    yield part
            return StreamingResponse(parts())

        app = Starlette(routes=[Route("/hello/{name}", hello), Route("/sync", sync), Route("/stream", stream)])
        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
                 "method": "GET", "scheme": "http", "root_path": "", "query_string": b"", "headers": [],
                 "client": ("127.0.0.1", 1), "server": ("localhost", 80)}
        for path, expected in (("/hello/x", b"async x"), ("/sync", b"sync "), ("/sync", b"sync "),
                               ("/stream", b"abc")):
            with self.subTest(path=path):
                request = dict(scope, path=path, raw_path=path.encode(), state={})
                (status, _, body), _ = self.run_app(app, scope=request)
                self.assertEqual(status, 200)
                self.assertTrue(body.startswith(expected), body)


if __name__ == "__main__":
    unittest.main()
