"""Each pycnode worker's asyncio event loop, and the task it drives requests as.

pycnode runs an ASGI request without running the event loop: it drives the
request's coroutine directly (``PyIter_Send`` in C++) while it awaits only
what is already done, which is nearly always. Meanwhile asyncio must see what
it sees inside a task: the worker's loop is the running loop and the
worker's :class:`DrivenTask` the current task, so ``get_running_loop()``,
``current_task()``, ``asyncio.timeout`` and anyio (Starlette's
``run_in_threadpool``, cancel scopes) work.

When the coroutine does wait for something (a Future not yet done, or a bare
``yield`` from ``asyncio.sleep(0)``), C++ hands it over with
:meth:`WorkerLoop.hand_off`: the loop runs until the coroutine finishes, and
the same :class:`DrivenTask` resumes it on each wake-up the way
``asyncio.Task`` does, so a cancel scope entered while driven directly is
exited in the same task. One :class:`DrivenTask` per worker serves every
request of that worker in turn (a worker runs one request at a time); it
never completes, so anyio's worker threads, tied to it as their root task,
live as long as the worker.

The loop runs only while a request (or a lifespan event) waits on it: a task
an app leaves running in the background progresses during later hand-offs.
:meth:`WorkerLoop.settle` runs one iteration after a request that left
callbacks ready or timers due or cancelled, so they do not pile up.

Lifespan (:class:`Lifespan`) runs per worker and app on the same loop, as a
real task, at the app's first request on the worker; it is shut down, in
bounded time, when the worker stops (:meth:`WorkerLoop.close`).
"""

import asyncio
import itertools
import logging

from asyncio import events, tasks

from pyrunner.asgi import ASGI_VERSION, LIFESPAN_TASK_NAME, SPEC_VERSION, ASGIProtocolError, LifespanFailed

__all__ = ["DrivenTask", "WorkerLoop", "Lifespan"]

_log = logging.getLogger("pyrunner.asgi")

LIFESPAN_STARTUP_TIMEOUT = 60.0  # seconds a worker waits for an app's startup
SHUTDOWN_TIMEOUT = 5.0           # seconds for all of a worker's lifespan shutdowns

_enter_task = tasks._enter_task
_leave_task = tasks._leave_task
_set_running_loop = events._set_running_loop
_names = itertools.count(1)


class DrivenTask(asyncio.Future):
    """The current task while a worker runs a request's coroutine.

    A Future that stays pending for the worker's life (so it can be a root
    task for anyio), with the Task API that asyncio and anyio use on the
    current task: cancel/cancelling/uncancel, get_coro, get_name. Cancelling
    it cancels what the request waits for, or throws CancelledError into the
    request's coroutine at its next step, exactly as a Task would.
    """

    def __init__(self, loop):
        super().__init__(loop=loop)
        self._name = f"pycnode-request-task-{next(_names)}"
        self._coro = None
        self._context = None
        self._finished = None  # a Future per hand-off, done when the coroutine is
        self._outcome = None   # (value, None) or (None, exception)
        self._handle = None    # a step scheduled by call_soon, if any
        self._fut_waiter = None
        self._reset_cancel_state()

    def _reset_cancel_state(self):
        self._must_cancel = False
        self._cancel_message = None
        self._num_cancels_requested = 0
        self._cancel_requested = False  # pycnode resets the state after a request when set

    # --- the Task API ---

    def get_coro(self):
        return self._coro

    def get_name(self):
        return self._name

    def set_name(self, value):
        self._name = str(value)

    def get_context(self):
        return self._context

    def cancel(self, msg=None):
        self._cancel_requested = True
        self._num_cancels_requested += 1
        if self._fut_waiter is not None and self._fut_waiter.cancel(msg=msg):
            return True
        self._must_cancel = True
        self._cancel_message = msg
        return True

    def cancelling(self):
        return self._num_cancels_requested

    def uncancel(self):
        if self._num_cancels_requested > 0:
            self._num_cancels_requested -= 1
        return self._num_cancels_requested

    def set_result(self, result):
        raise RuntimeError("DrivenTask does not support set_result")

    def set_exception(self, exception):
        raise RuntimeError("DrivenTask does not support set_exception")

    # --- driving, as asyncio.Task.__step and __wakeup do ---

    def _begin(self, coro, context):
        self._coro = coro
        self._context = context
        self._finished = self._loop.create_future()
        self._outcome = None

    def _step(self, exc=None):
        self._handle = None
        if self._must_cancel:
            if not isinstance(exc, asyncio.CancelledError):
                exc = self._make_cancelled_error()
            self._must_cancel = False
        coro = self._coro
        self._fut_waiter = None
        _enter_task(self._loop, self)
        try:
            result = coro.send(None) if exc is None else coro.throw(exc)
        except StopIteration as stop:
            self._finish((stop.value, None))
        except BaseException as error:
            self._finish((None, error))
        else:
            self._wait_for(result)
        finally:
            _leave_task(self._loop, self)

    def _wakeup(self, _future):
        # The coroutine takes the result (or exception) itself when resumed:
        # Future.__await__ returns future.result().
        self._step()

    def _wait_for(self, result):
        """What Task.__step does with what the coroutine yielded."""
        blocking = getattr(result, "_asyncio_future_blocking", None)
        if blocking is not None:
            if asyncio.futures._get_loop(result) is not self._loop:
                self._schedule(RuntimeError(f"the request got {result!r}, attached to a different loop"))
            elif not blocking:
                self._schedule(RuntimeError(f"yield was used instead of yield from with {result!r}"))
            else:
                result._asyncio_future_blocking = False
                result.add_done_callback(self._wakeup, context=self._context)
                self._fut_waiter = result
                if self._must_cancel and result.cancel(msg=self._cancel_message):
                    self._must_cancel = False
        elif result is None:
            self._schedule(None)  # a bare yield: asyncio.sleep(0)
        else:
            self._schedule(RuntimeError(f"the request's coroutine yielded {result!r}"))

    def _schedule(self, exc):
        self._handle = self._loop.call_soon(self._step, exc, context=self._context)

    def _finish(self, outcome):
        self._outcome = outcome
        self._coro = None
        self._finished.set_result(None)

    def _end(self):
        """After a hand-off: nothing of the request may run later."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._fut_waiter is not None:
            self._fut_waiter.remove_done_callback(self._wakeup)
            self._fut_waiter = None
        coro, self._coro = self._coro, None
        if coro is not None:
            self._close(coro)
        self._context = self._finished = None
        self._reset_cancel_state()

    def _close(self, coro):
        # Unwinding may run `with` blocks that ask for the running loop and
        # the current task (anyio's cancel scopes): give them both.
        _set_running_loop(self._loop)
        _enter_task(self._loop, self)
        try:
            coro.close()
        except BaseException:
            _log.exception("closing an unfinished ASGI request coroutine failed")
        finally:
            _leave_task(self._loop, self)
            _set_running_loop(None)


class WorkerLoop:
    """One worker's event loop, its DrivenTask and its apps' lifespans.

    Create, use and close it on the worker's own thread only.
    """

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.task = DrivenTask(self.loop)
        self._lifespans = []

    def hand_off(self, coro, yielded, context):
        """Resume `coro`, which has just yielded `yielded`, on the loop until
        it finishes; return its result or raise its exception. `context` is
        the contextvars.Context it runs in. The loop must not be running."""
        task = self.task
        task._begin(coro, context)
        try:
            task._wait_for(yielded)
            self.loop.run_until_complete(task._finished)
            value, error = task._outcome
            if error is not None:
                raise error
            return value
        finally:
            task._end()

    def reset_task(self):
        """Forget cancellation requests made during a request driven directly."""
        self.task._reset_cancel_state()

    def settle(self):
        """Run one loop iteration if callbacks are ready or timers due or
        cancelled (cancelled timers stay in the heap until the loop runs)."""
        loop = self.loop
        scheduled = loop._scheduled
        if loop._ready or (scheduled and (scheduled[0]._cancelled or scheduled[0]._when <= loop.time())) or (
                loop._timer_cancelled_count > 100 and 2 * loop._timer_cancelled_count > len(scheduled)):
            loop.stop()
            loop.run_forever()

    def lifespan_state(self, app):
        """Run the lifespan startup of `app` on this loop. Returns its state
        dict, None if the app has no lifespan, or raises LifespanFailed."""
        lifespan = Lifespan(app, self.loop)
        self._lifespans.append(lifespan)
        self._run_until(lifespan.startup_done, LIFESPAN_STARTUP_TIMEOUT)
        if not lifespan.startup_done.done():
            lifespan.task.cancel()
            raise LifespanFailed(f"lifespan startup did not finish within {LIFESPAN_STARTUP_TIMEOUT:g} s")
        outcome = lifespan.startup_done.result()
        if outcome is True:
            return lifespan.state
        if isinstance(outcome, str):
            raise LifespanFailed(outcome)
        return None

    def close(self, timeout=SHUTDOWN_TIMEOUT):
        """Shut down the lifespans (within `timeout` seconds in all), stop
        the tasks left and close the loop."""
        loop = self.loop
        try:
            running = [ls for ls in self._lifespans if ls.started and not ls.task.done()]
            for lifespan in running:
                lifespan.request_shutdown()
            if running:
                self._run_until(asyncio.gather(*(ls.task for ls in running), return_exceptions=True), timeout)
            # Done, the DrivenTask releases what is tied to it (anyio's threads).
            asyncio.Future.set_result(self.task, None)
            left = asyncio.all_tasks(loop)
            for task in left:
                task.cancel()
            if left:
                self._run_until(asyncio.gather(*left, return_exceptions=True), 1.0)
            self._run_until(loop.shutdown_asyncgens(), 1.0)
            executor = getattr(loop, "_default_executor", None)
            if executor is not None:
                executor.shutdown(wait=False)
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    def _run_until(self, awaitable, timeout):
        """Run the loop until `awaitable` is done or `timeout` seconds pass."""
        loop = self.loop
        future = asyncio.ensure_future(awaitable, loop=loop)
        timer = loop.call_later(timeout, loop.stop)
        try:
            loop.run_until_complete(future)
        except RuntimeError:
            if future.done():
                raise
        finally:
            timer.cancel()


class Lifespan:
    """The lifespan protocol of one app on one worker's loop, granian style:
    a task that runs ``app(scope, receive, send)`` with a lifespan scope."""

    def __init__(self, app, loop):
        self.state = {}
        self.started = False
        # True once started, a str when startup failed, None if unsupported.
        self.startup_done = loop.create_future()
        self._shutdown = loop.create_future()
        self._events = iter(({"type": "lifespan.startup"},))
        self.task = loop.create_task(self._run(app), name=LIFESPAN_TASK_NAME)

    def request_shutdown(self):
        if not self._shutdown.done():
            self._shutdown.set_result(None)

    async def _run(self, app):
        scope = {"type": "lifespan", "asgi": {"version": ASGI_VERSION, "spec_version": SPEC_VERSION},
                 "state": self.state}
        try:
            await app(scope, self.receive, self.send)
        except BaseException as exc:
            if not self.startup_done.done():
                _log.info("ASGI lifespan unsupported by %r (%s: %s)", app, type(exc).__name__, exc)
            elif self.started:
                _log.error("ASGI lifespan of %r raised", app, exc_info=exc)
        finally:
            self._settle_startup(None)

    async def receive(self):
        event = next(self._events, None)
        if event is not None:
            return event
        if not self.startup_done.done():
            # An app that waits for another event before answering the
            # startup one does not speak lifespan (an HTTP-only app waiting
            # for http.disconnect): waiting for it would stall the worker.
            raise ASGIProtocolError("receive() called again before lifespan.startup was answered")
        await self._shutdown
        return {"type": "lifespan.shutdown"}

    async def send(self, message):
        kind = message["type"]
        if kind == "lifespan.startup.complete":
            self.started = True
            self._settle_startup(True)
        elif kind == "lifespan.startup.failed":
            self._settle_startup(str(message.get("message", "")))
        elif kind == "lifespan.shutdown.failed":
            _log.error("ASGI lifespan shutdown failed: %s", message.get("message", ""))
        elif kind != "lifespan.shutdown.complete":
            raise ASGIProtocolError(f"unexpected lifespan event {kind!r}")

    def _settle_startup(self, outcome):
        if not self.startup_done.done():
            self.startup_done.set_result(outcome)
