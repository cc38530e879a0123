"""ASGI lifespan on each pycnode worker's event loop.

Lifespan (:class:`Lifespan`) runs per worker and app on the worker's loop
(:mod:`pyrunner.worker_loop`), as a real task, at the app's first request on
the worker; :class:`AsgiLifespans` shuts them down, in bounded time, when
the worker stops.
"""

import asyncio
import logging

from pyrunner.asgi import ASGI_VERSION, LIFESPAN_TASK_NAME, SPEC_VERSION, ASGIProtocolError, LifespanFailed

__all__ = ["AsgiLifespans", "Lifespan"]

_log = logging.getLogger("pyrunner.asgi")

LIFESPAN_STARTUP_TIMEOUT = 60.0  # seconds a worker waits for an app's startup


class AsgiLifespans:
    """The lifespans of the apps one worker served, on its WorkerLoop."""

    def __init__(self, worker_loop):
        self._worker_loop = worker_loop
        self._lifespans = []
        worker_loop.close_hooks.append(self.shutdown)

    def state(self, app):
        """Run the lifespan startup of `app` on the worker's loop. Returns
        its state dict, None if the app has no lifespan, or raises
        LifespanFailed. Other requests' tasks progress meanwhile."""
        lifespan = Lifespan(app, self._worker_loop.loop)
        self._lifespans.append(lifespan)
        self._worker_loop.run_until(lifespan.startup_done, LIFESPAN_STARTUP_TIMEOUT)
        if not lifespan.startup_done.done():
            lifespan.task.cancel()
            raise LifespanFailed(f"lifespan startup did not finish within {LIFESPAN_STARTUP_TIMEOUT:g} s")
        outcome = lifespan.startup_done.result()
        if outcome is True:
            return lifespan.state
        if isinstance(outcome, str):
            raise LifespanFailed(outcome)
        return None

    def shutdown(self, timeout):
        """Ask every started lifespan to shut down; wait `timeout` s at most."""
        running = [ls for ls in self._lifespans if ls.started and not ls.task.done()]
        for lifespan in running:
            lifespan.request_shutdown()
        if running:
            self._worker_loop.run_until(asyncio.gather(*(ls.task for ls in running), return_exceptions=True),
                                        timeout)


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
