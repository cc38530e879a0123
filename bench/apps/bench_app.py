"""The raw apps `make bench` runs, the same code under pycnode, uvicorn and
gunicorn (bench/run.sh): an ASGI hello, an ASGI body echo, a WSGI hello, a
trivial function for the generic call path, the ASGI hello driven through
that generic path the way a careful user would without pycnode's ASGI request,
and (at the end) apps that wait 20 ms or until released, for the rows that
keep many requests in flight.
"""

import asyncio
import threading
import time

from urllib.parse import unquote

HELLO = b"Hello, World!"
HELLO_HEADERS = [(b"content-type", b"text/plain"), (b"content-length", b"13")]


async def _lifespan(receive, send):
    # uvicorn and pycnode both run the lifespan protocol; answering it keeps
    # either from logging that the app does not support it.
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def hello(scope, receive, send):
    """Raw ASGI: 200 text/plain "Hello, World!"."""
    if scope["type"] == "lifespan":
        return await _lifespan(receive, send)
    await send({"type": "http.response.start", "status": 200, "headers": HELLO_HEADERS})
    await send({"type": "http.response.body", "body": HELLO})


async def echo(scope, receive, send):
    """Raw ASGI: reads the whole request body and answers with it."""
    if scope["type"] == "lifespan":
        return await _lifespan(receive, send)
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return  # the client went away
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/octet-stream"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def wsgi_hello(environ, start_response):
    """WSGI: 200 text/plain "Hello, World!"."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [HELLO]


def add(a, b):
    """The trivial function of the generic `{call, ...}` scenario."""
    return a + b


# The generic path: {call, <<"bench_app">>, <<"asgi_hello_via_call">>, [Scope, Body]}.
# The scope arrives as docs/terms.md converts any map: Atom keys, binaries as
# bytes, tuples as tuples, `undefined` as None. asgi_scope makes it an ASGI
# scope. What a careful user writes to serve any ASGI app through generic
# calls: one event loop per worker thread, kept, and run_until_complete per
# request (run_asgi). run_asgi_bare drives the coroutine by hand instead, as
# pycnode's specialised path does while nothing is awaited, but it breaks on
# the first app that awaits real I/O: it is measured too, as the cheapest a
# generic call can possibly be, not as something to deploy.

def _text(value, default):
    return default if value is None else value.decode()


def _address(value):
    return None if value is None else (value[0].decode(), value[1])


def asgi_scope(s):
    """An ASGI HTTP scope from the generic call's conversion of the Erlang map."""
    path = s["path"]
    return {
        "type": _text(s.get("type"), "http"),
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": _text(s.get("http_version"), "1.1"),
        "method": _text(s.get("method"), "GET").upper(),
        "scheme": _text(s.get("scheme"), "http"),
        "path": unquote(path.decode()),
        "raw_path": s.get("raw_path") or path,
        "query_string": s.get("query_string") or b"",
        "root_path": _text(s.get("root_path"), ""),
        "headers": [[name.lower(), value] for name, value in s.get("headers") or ()],
        "server": _address(s.get("server")),
        "client": _address(s.get("client")),
        "state": {},
        "extensions": {},
    }


_thread_loops = threading.local()


def _thread_loop():
    loop = getattr(_thread_loops, "loop", None)
    if loop is None:
        loop = _thread_loops.loop = asyncio.new_event_loop()
    return loop


class _Exchange:
    """The receive/send pair a generic runner hands the app, and the
    response it gathers."""

    __slots__ = ("body", "start", "chunks")

    def __init__(self, body):
        self.body = body  # None once received
        self.start = None
        self.chunks = []

    async def receive(self):
        body, self.body = self.body, None
        if body is None:
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(self, message):
        if message["type"] == "http.response.start":
            self.start = message
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))

    def response(self):
        if self.start is None:
            raise RuntimeError("the app sent no http.response.start")
        headers = [(bytes(name), bytes(value)) for name, value in self.start.get("headers", ())]
        return self.start["status"], headers, b"".join(self.chunks)


def run_asgi(app, scope, body):
    """Runs one HTTP request through `app` on this thread's event loop;
    returns (status, headers, body)."""
    exchange = _Exchange(body)
    _thread_loop().run_until_complete(app(scope, exchange.receive, exchange.send))
    return exchange.response()


def run_asgi_bare(app, scope, body):
    """As run_asgi, driving the coroutine by hand, without an event loop."""
    exchange = _Exchange(body)
    # Without an event loop: an app that awaits only receive/send never
    # yields, so one send(None) runs it to the end (StopIteration).
    coro = app(scope, exchange.receive, exchange.send)
    try:
        coro.send(None)
    except StopIteration:
        pass
    else:
        coro.close()
        raise RuntimeError("the app awaited real I/O; run_asgi_bare has no event loop")
    return exchange.response()


def asgi_hello_via_call(scope, body):
    return run_asgi(hello, asgi_scope(scope), body)


def asgi_hello_via_call_bare(scope, body):
    return run_asgi_bare(hello, asgi_scope(scope), body)


# Many requests in flight (bench/run.sh's in-flight rows): apps that wait
# rather than compute, so what is measured is how many requests a server keeps
# waiting at once. The same code under pycnode, uvicorn and gunicorn.

SLEEP_S = 0.02


async def asgi_sleep(scope, receive, send):
    """Raw ASGI: awaits asyncio.sleep(20 ms), then 200 "Hello, World!"."""
    if scope["type"] == "lifespan":
        return await _lifespan(receive, send)
    await asyncio.sleep(SLEEP_S)
    await send({"type": "http.response.start", "status": 200, "headers": HELLO_HEADERS})
    await send({"type": "http.response.body", "body": HELLO})


def wsgi_sleep(environ, start_response):
    """WSGI: time.sleep(20 ms) (a blocking wait, as a database call is), then hello."""
    time.sleep(SLEEP_S)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [HELLO]


async def call_sleep(*_args):
    """The async function of `{call, <<"bench_app">>, <<"call_sleep">>, []}`:
    awaits asyncio.sleep(20 ms) and returns the atom ok."""
    await asyncio.sleep(SLEEP_S)
    from pyrunner import Atom  # pycnode's; this runs only under pycnode
    return Atom("ok")


# Parked requests: `parked` waits on an asyncio.Event that only
# release_parked() sets. pycnode runs one asyncio loop per event worker and an
# Event belongs to the loop that first waits on it, so there is one per loop,
# set from whatever thread release_parked runs on with call_soon_threadsafe.
_parked_events = {}  # running loop -> asyncio.Event
_parked_lock = threading.Lock()
PARKED_BODY = b"released"


async def parked(scope, receive, send):
    """Raw ASGI: answers 200 "released" once release_parked() is called."""
    if scope["type"] == "lifespan":
        return await _lifespan(receive, send)
    loop = asyncio.get_running_loop()
    with _parked_lock:
        event = _parked_events.get(loop)
        if event is None:
            event = _parked_events[loop] = asyncio.Event()
    await event.wait()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"8")]})
    await send({"type": "http.response.body", "body": PARKED_BODY})


def release_parked():
    """Wakes every parked request; the next ones park on fresh events.
    Returns how many event loops had parked requests."""
    with _parked_lock:
        events = list(_parked_events.items())
        _parked_events.clear()
    for loop, event in events:
        loop.call_soon_threadsafe(event.set)
    return len(events)
