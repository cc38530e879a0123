"""The ASGI HTTP cycle that pycnode runs for ``{asgi, ...}`` requests.

pycnode builds the scope (in C++) and runs the app on the worker's event
loop (:mod:`pyrunner.worker_loop`). Without a runner it uses its own HTTP cycle
in C++ (cnode/asgi/asgi_cycle*.cpp), which does exactly what
:class:`HTTPCycle` and :func:`default_asgi_handler` do here, only faster: this
module is the reference it is tested against, case by case. A custom
runner's ``run_asgi(app, scope, body)`` usually awaits
:func:`default_asgi_handler`, so both paths behave alike.

What the app sees (docs/protocol.md, "Web requests: ASGI and WSGI"):

- ``receive()`` first returns the whole body as one ``http.request`` event
  (``more_body`` False). Called again, it returns ``http.disconnect`` once the
  response is complete. Before that it waits for the response to complete,
  as a server waits for the client to go away, but only while another task
  of the loop could complete it (Starlette's streaming responses listen for
  the disconnect in one task while another sends): an app that waits alone
  would wait forever, so it gets ``http.disconnect`` at once.
- ``send()`` takes ``http.response.start`` then ``http.response.body`` events;
  the body chunks are joined once at the end. ``http.response.trailers`` is
  accepted after a start with ``trailers`` True, checked, and dropped: the
  reply to Erlang has no place for trailers.

pycnode itself checks the text of the response headers when it turns the
response into the reply, for both paths: a name that is not an RFC 9110
token, or a value with CR, LF or another control character (HTAB aside),
would let the Erlang HTTP server's response be split, and is an
``{asgi_protocol, Detail}`` error.

A broken event sequence raises :class:`ASGIProtocolError` inside ``send()``
(where the app made the mistake) and sticks: whatever the app does next, the
request ends with that error, so an error middleware that answers 500 after
catching it cannot hide it. An exception raised after the response was
complete is logged and the response kept, as uvicorn does (Starlette's
ServerErrorMiddleware re-raises after sending its 500). Everything here is
pure Python and runs outside pycnode too.
"""

import asyncio
import logging

__all__ = [
    "ASGIProtocolError",
    "NoResponse",
    "LifespanFailed",
    "HTTPCycle",
    "default_asgi_handler",
    "ASGI_VERSION",
    "SPEC_VERSION",
]

ASGI_VERSION = "3.0"
SPEC_VERSION = "2.3"

_log = logging.getLogger("pyrunner.asgi")

# Lifespan tasks are not counted among the tasks that could still complete a
# response (asgi_loop.py names them so).
LIFESPAN_TASK_NAME = "pyrunner.asgi lifespan"


class ASGIProtocolError(Exception):
    """The app broke the ASGI event sequence; ``str(exc)`` says how.

    pycnode replies ``{error, {asgi_protocol, Detail}}``."""


class NoResponse(Exception):
    """The app returned without starting a response (``{error, no_response}``)."""


class LifespanFailed(Exception):
    """The app answered ``lifespan.startup.failed``; ``str(exc)`` is its message.

    pycnode replies ``{error, {lifespan_failed, Message}}`` to every request
    for that app on that worker."""


def _check_headers(headers, what):
    """The headers as a new list of (bytes, bytes) tuples, or ASGIProtocolError."""
    checked = []
    append = checked.append
    try:
        for name, value in headers:
            if type(name) is not bytes or type(value) is not bytes:
                if not isinstance(name, bytes) or not isinstance(value, bytes):
                    raise ASGIProtocolError(
                        f"{what} headers must be [bytes, bytes] pairs, "
                        f"got [{type(name).__name__}, {type(value).__name__}]")
                name, value = bytes(name), bytes(value)
            append((name, value))
    except (TypeError, ValueError):
        raise ASGIProtocolError(f"{what} headers must be an iterable of [name, value] pairs") from None
    return checked


# HTTPCycle phases, in order.
_NOT_STARTED, _SENDING_BODY, _SENDING_TRAILERS, _COMPLETE = range(4)


class HTTPCycle:
    """One request's receive/send state machine and the response it gathers."""

    __slots__ = ("_body", "_phase", "_trailers", "_chunks", "status", "headers", "error", "_waiter")

    def __init__(self, body):
        self._body = body  # None once received
        self._phase = _NOT_STARTED
        self._trailers = False
        self._chunks = []
        self.status = None
        self.headers = None
        self.error = None  # the first protocol error, sticky
        self._waiter = None  # resolved when the response completes

    @property
    def complete(self):
        return self._phase == _COMPLETE

    async def receive(self):
        body = self._body
        if body is not None:
            self._body = None
            return {"type": "http.request", "body": body, "more_body": False}
        if self._phase != _COMPLETE and self.error is None:
            await self._wait_for_completion()
        return {"type": "http.disconnect"}

    async def send(self, message):
        if self.error is not None:
            raise ASGIProtocolError(self.error)
        try:
            kind = message["type"]
        except (KeyError, TypeError, IndexError):
            self._fail("send() takes an event: a dict with a 'type'")
        phase = self._phase
        # The common case first, inline: one method call less per chunk.
        if kind == "http.response.body" and phase == _SENDING_BODY:
            body = message.get("body", b"")
            if type(body) is not bytes:
                body = self._body_bytes(body)
            if body:
                self._chunks.append(body)
            if not message.get("more_body", False):
                if self._trailers:
                    self._phase = _SENDING_TRAILERS
                else:
                    self._finish()
        elif phase == _COMPLETE:
            self._fail(f"{kind!r} sent after the response was complete")
        elif kind == "http.response.start":
            self._on_start(message)
        elif kind == "http.response.body":
            self._fail("http.response.body sent before http.response.start" if phase == _NOT_STARTED
                       else "http.response.body sent after the last body chunk")
        elif kind == "http.response.trailers":
            self._on_trailers(message)
        else:
            self._fail(f"unknown event type {kind!r}")

    def result(self):
        """``(status, headers, body)`` once the cycle is over; raises
        ASGIProtocolError or NoResponse when there is no valid response."""
        if self.error is not None:
            raise ASGIProtocolError(self.error)
        if self._phase == _NOT_STARTED:
            raise NoResponse("the app returned without starting a response")
        if self._phase != _COMPLETE:
            raise ASGIProtocolError("response incomplete")
        chunks = self._chunks
        return (self.status, self.headers, chunks[0] if len(chunks) == 1 else b"".join(chunks))

    def _fail(self, detail):
        if self.error is None:
            self.error = detail
        self._wake_waiter()
        raise ASGIProtocolError(detail)

    def _body_bytes(self, body):
        if isinstance(body, (bytes, bytearray, memoryview)):
            return bytes(body)  # a copy: the app may reuse its buffer
        self._fail(f"http.response.body body must be bytes, not {type(body).__name__}")

    def _on_start(self, message):
        if self._phase != _NOT_STARTED:
            self._fail("http.response.start sent twice")
        status = message.get("status")
        if type(status) is not int:
            if not isinstance(status, int) or isinstance(status, bool):
                self._fail(f"http.response.start status must be an int, not {type(status).__name__}")
            status = int(status)
        if not 100 <= status <= 999:
            self._fail(f"http.response.start status {status} is not a 3-digit HTTP status")
        try:
            self.headers = _check_headers(message.get("headers", ()), "http.response.start")
        except ASGIProtocolError as exc:
            self._fail(str(exc))
        self.status = status
        self._trailers = bool(message.get("trailers", False))
        self._phase = _SENDING_BODY

    def _on_trailers(self, message):
        if not self._trailers:
            self._fail("http.response.trailers sent without trailers=True in http.response.start")
        if self._phase != _SENDING_TRAILERS:
            self._fail("http.response.trailers sent before the last body chunk")
        try:
            _check_headers(message.get("headers", ()), "http.response.trailers")
        except ASGIProtocolError as exc:
            self._fail(str(exc))
        if not message.get("more_trailers", False):
            self._finish()

    def _finish(self):
        self._phase = _COMPLETE
        self._wake_waiter()

    # --- receive() after the body: waiting for the response to complete ---

    def _wake_waiter(self):
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait_for_completion(self):
        await wait_for_completion(self)


# pycnode's own HTTP cycle (C++, used when no runner is given) shares these:
# a cycle has ``_waiter`` and ``_wake_waiter()``, and wakes the waiter when
# its response completes or fails.

async def wait_for_completion(cycle):
    """Wait until `cycle`'s response completes, as long as another task of
    the loop could still complete it."""
    loop = asyncio.get_running_loop()
    me = asyncio.current_task(loop)
    if not _other_tasks(loop, me):
        return  # nobody could complete the response: as if the client left
    if cycle._waiter is None or cycle._waiter.done():
        cycle._waiter = loop.create_future()
        _watch_other_tasks(cycle, loop, me)
    await cycle._waiter


async def receive_after_body(cycle):
    """What ``receive()`` returns once the body was received."""
    await wait_for_completion(cycle)
    return {"type": "http.disconnect"}


def _watch_other_tasks(cycle, loop, waiting):
    # When every task that could still complete the response has ended
    # without doing so, the waiter would wait forever: wake it.
    def other_done(_task):
        if not _other_tasks(loop, waiting):
            cycle._wake_waiter()
    for task in _other_tasks(loop, waiting):
        task.add_done_callback(other_done)


def log_after_response(exc):
    """An exception raised after the response was complete: logged, and the
    response kept."""
    _log.error("exception in ASGI app after its response was complete (response kept)", exc_info=exc)


def _other_tasks(loop, waiting):
    """The loop's unfinished tasks, but for `waiting` and lifespan tasks."""
    return [t for t in asyncio.all_tasks(loop)
            if t is not waiting and not t.done() and t.get_name() != LIFESPAN_TASK_NAME]


async def default_asgi_handler(app, scope, body):
    """Run one ASGI HTTP request and return ``(status, headers, body)``.

    ``status`` is an int, ``headers`` a list of ``(bytes, bytes)`` tuples and
    ``body`` the joined response body. Raises :class:`ASGIProtocolError`
    for a broken event sequence, :class:`NoResponse` when the app returns
    without starting a response, and the app's own exception when it raises
    before the response is complete.
    """
    cycle = HTTPCycle(body)
    try:
        await app(scope, cycle.receive, cycle.send)
    except (GeneratorExit, KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        if cycle.error is None and not cycle.complete:
            raise
        if cycle.error is None:
            log_after_response(exc)
    return cycle.result()
