"""Each pycnode worker's asyncio event loop, and the tasks it runs requests as.

A pycnode worker thread serves many requests at once on one asyncio loop,
and runs the loop itself, one iteration at a time, between the jobs it takes
(``cnode/pool/event_worker.cpp``): it blocks in one ``epoll_wait`` on both
its job wake-up and this loop's selector, so neither a new job nor a ready
task waits for the other.

A request's coroutine is first driven directly (``PyIter_Send`` in C++)
while it awaits only what is already done, which is nearly always: no task,
no loop iteration. Meanwhile asyncio sees what it sees inside a task: the
worker's loop is the running loop and the worker's current
:class:`DrivenTask` the current task, so ``get_running_loop()``,
``current_task()``, ``asyncio.timeout`` and anyio work.

When the coroutine does wait (a Future not yet done, or a bare ``yield``
from ``asyncio.sleep(0)``), :meth:`WorkerLoop.adopt` makes that very
DrivenTask the request's own task on the loop (so a cancel scope entered
while driven directly is exited in the same task), gives the worker a fresh
one for the next request, and calls the request's ``on_done`` when the
coroutine finishes. Cancelling the task cancels what the request waits for,
as with ``asyncio.Task``.

Inside pycnode, each step of a request's task names that request in the
thread's crash-report slot (``cnode/app/running.hpp``): the label the
request had when it began to wait is entered before the step and left
after it.
"""

import asyncio
import contextlib
import itertools
import logging
import sys
import threading

from asyncio import events, tasks

try:
    import _pycnode
except ImportError:  # plain Python: unit tests
    _pycnode = None

__all__ = ["DrivenTask", "WorkerLoop"]

_log = logging.getLogger("pyrunner.asgi")

SHUTDOWN_TIMEOUT = 5.0  # seconds for a worker's close hooks (lifespan shutdowns)

_enter_task = tasks._enter_task
_leave_task = tasks._leave_task
_register_task = tasks._register_task
_unregister_task = tasks._unregister_task
_set_running_loop = events._set_running_loop
_names = itertools.count(1)


def _no_label():
    return None


def _no_request(_label=None):
    return None


_running_label = _pycnode.running_label if _pycnode else _no_label
_enter_request = _pycnode.enter_request if _pycnode else _no_request
_leave_request = _pycnode.leave_request if _pycnode else _no_request


class DrivenTask(asyncio.Future):
    """The task of one request: current while the worker drives the request
    directly, then, if it waits, the request's own task on the loop.

    A Future with the Task API that asyncio and anyio use on the current
    task: cancel/cancelling/uncancel, get_coro, get_name. Cancelling it
    cancels what the request waits for, or throws CancelledError into the
    request's coroutine at its next step, exactly as a Task would.
    """

    def __init__(self, loop):
        super().__init__(loop=loop)
        self._name = f"pycnode-request-task-{next(_names)}"
        self._coro = None
        self._context = None
        self._on_done = None   # called with (value, exception) when the coroutine ends
        self._label = None     # the request's crash-report label (_pycnode.running_label())
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
        if self.done():
            return False
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

    def _begin(self, coro, context, on_done):
        self._coro = coro
        self._context = context
        self._on_done = on_done
        self._label = _running_label()  # the job that began it is still the thread's
        _register_task(self)  # asyncio.all_tasks() sees the request

    def _step(self, exc=None):
        self._handle = None
        if self._must_cancel:
            if not isinstance(exc, asyncio.CancelledError):
                exc = self._make_cancelled_error()
            self._must_cancel = False
        coro = self._coro
        if coro is None:
            return
        self._fut_waiter = None
        _enter_task(self._loop, self)
        _enter_request(self._label)
        try:
            result = coro.send(None) if exc is None else coro.throw(exc)
        except StopIteration as stop:
            self._finish(stop.value, None)
        except BaseException as error:
            self._finish(None, error)
        else:
            self._wait_for(result)
        finally:
            _leave_request()
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

    def _finish(self, value, error):
        on_done, self._on_done = self._on_done, None
        self._coro = self._context = self._label = None
        _unregister_task(self)
        asyncio.Future.set_result(self, None)  # done: anyio's callbacks on a root task run
        if on_done is not None:
            try:
                on_done(value, error)
            except BaseException:
                _log.exception("finishing a request failed")


class WorkerLoop:
    """One worker's event loop and its current DrivenTask.

    Create, use and close it on the worker's own thread only.
    """

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        # What run_forever sets while it runs; the worker runs the loop for
        # its whole life, one iteration at a time.
        sys.set_asyncgen_hooks(firstiter=self.loop._asyncgen_firstiter_hook,
                               finalizer=self.loop._asyncgen_finalizer_hook)
        self.task = DrivenTask(self.loop)
        self.close_hooks = []  # called with the timeout left, first thing in close()
        self.holding = False  # hold_running(): the loop counts as running between turns

    def hold_running(self):
        """From now on the loop counts as this thread's running loop, also
        between the worker's turns, as under run_forever: the worker then
        drives each request without setting and unsetting it (in CPython
        3.11 each of those calls getpid()). Only run_until_complete needs
        it unset, and gets it so (_released)."""
        self.loop._thread_id = threading.get_ident()
        _set_running_loop(self.loop)
        self.holding = True

    @contextlib.contextmanager
    def _released(self):
        # run_until_complete refuses a loop that runs (is_running() reads
        # _thread_id) or a thread that has a running loop.
        loop = self.loop
        holding, self.holding = self.holding, False
        if holding:
            _set_running_loop(None)
            thread_id, loop._thread_id = loop._thread_id, None
        try:
            yield
        finally:
            if holding:
                loop._thread_id = thread_id
                _set_running_loop(loop)
                self.holding = True

    def selector_fd(self):
        """The descriptor that is readable when the loop has I/O to handle."""
        return self.loop._selector.fileno()

    def adopt(self, coro, yielded, context, on_done):
        """`coro`, driven directly by the worker, has just yielded `yielded`:
        from now on it runs as a task on the loop, the DrivenTask that was
        current while it was driven. `on_done(value, exception)` is called
        when it ends. Returns that task; the worker gets a fresh one."""
        task = self.task
        self.task = DrivenTask(self.loop)
        task._begin(coro, context, on_done)
        task._wait_for(yielded)
        return task

    def hand_off(self, coro, yielded, context):
        """adopt(), then run the loop until the coroutine ends; its result,
        or its exception raised. The loop must not be running."""
        finished = self.loop.create_future()
        self.adopt(coro, yielded, context, lambda value, error: finished.set_result((value, error)))
        with self._released():
            self.loop.run_until_complete(finished)
        value, error = finished.result()
        if error is not None:
            raise error
        return value

    def reset_task(self):
        """Forget cancellation requests made during a request driven directly."""
        self.task._reset_cancel_state()

    def run_ready(self):
        """One loop iteration that does not block: I/O already ready, due
        timers, ready callbacks. The loop counts as running meanwhile."""
        loop = self.loop
        loop._thread_id = threading.get_ident()
        holding = self.holding
        if not holding:
            _set_running_loop(loop)
        loop._stopping = True  # _run_once then polls its selector with timeout 0
        try:
            loop._run_once()
        finally:
            loop._stopping = False
            if not holding:
                _set_running_loop(None)
                loop._thread_id = None

    def next_timeout(self):
        """Seconds until the loop has something to run (0: now), or -1.0 if
        only I/O or a new job can give it some."""
        loop = self.loop
        if loop._ready:
            return 0.0
        scheduled = loop._scheduled
        if not scheduled:
            return -1.0
        if scheduled[0]._cancelled:
            return 0.0
        return max(0.0, scheduled[0]._when - loop.time())

    def settle(self):
        """Run one loop iteration if callbacks are ready or timers due or
        cancelled (cancelled timers stay in the heap until the loop runs)."""
        if self.next_timeout() == 0.0 or self._many_cancelled_timers():
            self.run_ready()

    def _many_cancelled_timers(self):
        loop = self.loop
        return loop._timer_cancelled_count > 100 and 2 * loop._timer_cancelled_count > len(loop._scheduled)

    def close(self, timeout=SHUTDOWN_TIMEOUT):
        """Run the close hooks (lifespan shutdowns) within `timeout` seconds,
        cancel the tasks left and close the loop."""
        loop = self.loop
        try:
            for hook in self.close_hooks:
                try:
                    hook(timeout)
                except BaseException:
                    _log.exception("a worker loop close hook failed")
            left = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in left:
                task.cancel()
            if left:
                self.run_until(asyncio.gather(*left, return_exceptions=True), 1.0)
            self.run_until(loop.shutdown_asyncgens(), 1.0)
            executor = getattr(loop, "_default_executor", None)
            if executor is not None:
                executor.shutdown(wait=False)
        finally:
            if self.holding:
                _set_running_loop(None)
                loop._thread_id = None
                self.holding = False
            asyncio.set_event_loop(None)
            loop.close()

    def run_until(self, awaitable, timeout):
        """Run the loop until `awaitable` is done or `timeout` seconds pass."""
        loop = self.loop
        future = asyncio.ensure_future(awaitable, loop=loop)
        timer = loop.call_later(timeout, loop.stop)
        try:
            with self._released():
                loop.run_until_complete(future)
        except RuntimeError:
            if future.done():
                raise
        finally:
            timer.cancel()
        return future
