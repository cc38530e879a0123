"""What `make soak` (bench/soak.sh, bench/pyc_soak.erl) calls: sync and async
functions with checkable results, functions and apps that raise or wait, a
Starlette app and a Flask app that take a body, and a WSGI body echo. The
hello apps and the ASGI echo are bench_app's.

Nothing here keeps state from one request to the next: RSS that grows over a
soak is pycnode's, not this module's.
"""

import asyncio
import sys
import time

# pycnode's free-threaded build sees Debian's packages only when told, after
# its own standard library (docs/free-threaded.md).
if "/usr/lib/python3/dist-packages" not in sys.path:
    sys.path.append("/usr/lib/python3/dist-packages")

# anyio 3.6 finds its backend in sys.modules before that import has finished:
# workers racing through their first Starlette requests could see it half
# initialised. Importing it with this module, once, avoids that.
import anyio._backends._asyncio  # noqa: E402,F401
from flask import Flask, jsonify, request  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.responses import JSONResponse, Response  # noqa: E402
from starlette.routing import Route  # noqa: E402


# --- generic calls ----------------------------------------------------------

def add(a, b):
    """Sync, on a blocking thread."""
    return a + b


async def async_echo(x):
    """Async, on an event worker: yields to the loop once, returns x."""
    await asyncio.sleep(0)
    return x


def fail(message):
    """{error, {python, <<"ValueError">>, Message, Traceback}}."""
    raise ValueError(message.decode())


async def async_fail(message):
    """{error, {python, <<"KeyError">>, ...}}, raised after an await."""
    await asyncio.sleep(0)
    raise KeyError(message.decode())


def slow(ms):
    """Blocks a blocking thread for ms milliseconds: a caller that gives up
    first has its result dropped."""
    time.sleep(ms / 1000)
    return ms


async def async_slow(ms):
    """Waits ms milliseconds on an event loop: a caller that gives up first
    has it cancelled."""
    await asyncio.sleep(ms / 1000)
    return ms


# --- raw ASGI and WSGI --------------------------------------------------------

async def asgi_sleeper(scope, receive, send):
    """query_string: milliseconds to wait before answering 200 "slept"."""
    if scope["type"] != "http":
        return
    await asyncio.sleep(int(scope["query_string"] or b"0") / 1000)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"slept"})


async def asgi_raising(scope, receive, send):
    """Raises before any response: {error, {python, <<"RuntimeError">>, ...}}."""
    if scope["type"] != "http":
        return
    raise RuntimeError("soak: asgi app raised")


def wsgi_echo(environ, start_response):
    """200 OK with the request body."""
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(len(body)))])
    return [body]


def wsgi_raising(environ, start_response):
    """Raises before start_response: {error, {python, <<"ZeroDivisionError">>, ...}}."""
    return [b"%d" % (1 // 0)]


# --- frameworks ---------------------------------------------------------------

async def _starlette_echo(request):
    """POST /echo: the body back, and its length in a header."""
    body = await request.body()
    return Response(body, media_type="application/octet-stream",
                    headers={"x-body-length": str(len(body))})


async def _starlette_hello(request):
    return JSONResponse({"hello": request.path_params["name"]})


starlette_app = Starlette(routes=[Route("/echo", _starlette_echo, methods=["POST"]),
                                  Route("/hello/{name}", _starlette_hello)])

flask_app = Flask(__name__)


@flask_app.route("/sum", methods=["POST"])
def _flask_sum():
    """POST /sum {"numbers": [...]}: {"sum": N}."""
    return jsonify(sum=sum(request.get_json()["numbers"]))
