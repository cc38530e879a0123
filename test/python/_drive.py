"""What pycnode's C++ driver does first (cnode/python/event_loop.cpp), in
Python for the tests: send into a coroutine once, directly, with the
worker's loop running and its DrivenTask current, in its own context."""

import contextvars

from pyrunner.worker_loop import _enter_task, _leave_task, _set_running_loop


def first_send(worker, coro):
    """Returns (done, value_or_yielded, context): done is True with the
    coroutine's value if it returned, False with what it yielded if it
    waits. Raises what the coroutine raises."""
    context = contextvars.copy_context()
    box = {}

    def step():
        _set_running_loop(worker.loop)
        _enter_task(worker.loop, worker.task)
        try:
            box["yielded"] = coro.send(None)
        except StopIteration as stop:
            box["value"] = stop.value
        finally:
            _leave_task(worker.loop, worker.task)
            _set_running_loop(None)

    context.run(step)
    if "value" in box:
        return True, box["value"], context
    return False, box["yielded"], context
