"""The frameworks' own reference for one HTTP request, and the test fixtures.

pycnode_frameworks_tests.erl sends each request of its matrix twice: through
pycnode's ``{asgi, ...}`` / ``{wsgi, ...}`` requests, and through this module
with a generic ``{call, <<"reference">>, <<"asgi">> | <<"wsgi">>, Args}``.
The comparison only means something if both sides describe the same request,
so both follow the conventions below, and the scope/environ probes at the end
(``scope_probe``, ``environ_probe``) let the tests check that they do.

The request, as the tests give it (all binaries, so bytes here):
    method, raw_path (percent-encoded, as on the wire, no query),
    query (still percent-encoded, no '?'), headers ([name, value] pairs,
    order and duplicates kept), body.
Fixed parts, the same on the Erlang side:
    scheme "http", HTTP/1.1, server ("testserver", 8080),
    client ("127.0.0.1", 54321), root_path / SCRIPT_NAME "".

ASGI: the request goes through ``httpx.AsyncClient`` with
``httpx.ASGITransport``. The client's own default headers (user-agent,
accept, ...) are avoided by sending a prebuilt ``httpx.Request`` with
``client.send``; the tests always send ``host`` (and ``content-length`` with
a body), so httpx adds nothing. httpx 0.23's scope is checked against the
ASGI 3.0 scope that the request describes, field by field; its known
deviations are corrected (listed in ``_httpx_scope``) and any other
difference is an error of this reference, raised rather than hidden.
The reply is what the application sent (status, headers, the body events
joined), which is also what pycnode's reply carries; it is checked against
httpx's response (which drops the body of a HEAD response).

WSGI: the environ comes from ``werkzeug.test.EnvironBuilder`` and the app
runs under ``werkzeug.test.run_wsgi_app`` (what ``werkzeug.test.Client``
uses, without the Response wrapper that would add a Content-Type). The
environ is checked against the PEP 3333 environ that the request describes;
werkzeug's non-standard REQUEST_URI and RAW_URI are removed, and
``wsgi.input_terminated`` (True) is added, as pycnode gives it.
"""

import asyncio
import hashlib
import importlib
import importlib.util
import io
import json
import logging
import sys
import threading
import urllib.parse
import wsgiref.validate

log = logging.getLogger("reference")

SERVER = ("testserver", 8080)
CLIENT = ("127.0.0.1", 54321)
BASE_URL = "http://testserver:8080"

# name -> (Python package the framework is, app module under test/apps,
#          [(interface, callable), ...])
FRAMEWORKS = {
    "flask": ("flask", "flask_app", [("wsgi", "app")]),
    "django": ("django", "django_app", [("wsgi", "application"), ("asgi", "asgi_application")]),
    "starlette": ("starlette", "starlette_app", [("asgi", "app")]),
    "fastapi": ("fastapi", "fastapi_app", [("asgi", "app")]),
    "falcon": ("falcon", "falcon_app", [("wsgi", "app"), ("asgi", "asgi_app")]),
    "bottle": ("bottle", "bottle_app", [("wsgi", "app")]),
    "quart": ("quart", "quart_app", [("asgi", "app")]),
}


# --- fixtures ----------------------------------------------------------------


def ensure_on_path(directory):
    """Appends ``directory`` to sys.path unless it is there already.

    For the free-threaded 3.13 build, Debian's dist-packages must come after
    the standard library (pycnode's --pythonpath prepends). Returns whether
    it was appended.
    """
    directory = _text(directory)
    if directory in sys.path:
        return False
    sys.path.append(directory)
    importlib.invalidate_caches()
    return True


def frameworks():
    """Which framework apps import on this interpreter.

    A list of ``(name, app_module, [[interface, callable], ...], ok, reason)``;
    ``reason`` says why not (e.g. ``ModuleNotFoundError: No module named
    'cgi'``) and is ``""`` when the app imports.
    """
    out = []
    for name, (package, module, entries) in FRAMEWORKS.items():
        try:
            if importlib.util.find_spec(package) is None:
                raise ModuleNotFoundError(f"{package} is not installed")
            importlib.import_module(module)
            ok, reason = True, ""
        except Exception as exc:  # noqa: BLE001 - the reason is the result
            ok, reason = False, f"{type(exc).__name__}: {exc}"
        out.append((name, module, [list(e) for e in entries], ok, reason))
    return out


def interpreter():
    """A one-line description of the interpreter, for the test output."""
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    return f"{sys.version.split()[0]} ({'GIL' if gil else 'free-threaded, GIL off'})"


def json_decode(data):
    """json.loads, for the tests' checks of concrete values."""
    return json.loads(data)


def pattern(size):
    """The deterministic body of /download/<size> and /stream/<size>."""
    base = bytes(range(251))
    return (base * (size // len(base) + 1))[:size]


# --- ASGI --------------------------------------------------------------------


def asgi(module, callable_, method, raw_path, query, headers, body):
    """Runs the ASGI app through httpx; returns (status, headers, body)."""
    app = _load(module, callable_)
    request = _Request(method, raw_path, query, headers, body)
    result = {}

    def run():
        try:
            result["value"] = asyncio.run(_asgi_run(app, request))
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            result["error"] = exc

    # A thread of its own, so that asyncio.run neither meets nor clears the
    # event loop that pycnode's worker thread may have.
    thread = threading.Thread(target=run, name="reference-asgi")
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


def canonical_scope(request):
    """The ASGI 3.0 HTTP scope that the request describes (REFERENCE §2).

    The server-side extras are those pycnode documents as its defaults
    (asgi.spec_version 2.3, empty state and extensions), so that both
    sides hand the app identical scopes.
    """
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": request.method.decode("ascii"),
        "scheme": "http",
        "path": urllib.parse.unquote_to_bytes(request.raw_path).decode("utf-8"),
        "raw_path": request.raw_path,
        "query_string": request.query,
        "root_path": "",
        "headers": [[name.lower(), value] for name, value in request.headers],
        "server": SERVER,
        "client": CLIENT,
        "state": {},
        "extensions": {},
    }


def _httpx_scope(scope, request):
    """httpx 0.23's scope, corrected where it is known to deviate, then
    checked against the canonical scope."""
    scope = dict(scope)
    expected = canonical_scope(request)
    # httpx 0.23 puts the query into raw_path (URL.raw_path is "path?query").
    if request.query and scope.get("raw_path") == request.raw_path + b"?" + request.query:
        scope["raw_path"] = request.raw_path
    # httpx gives no spec_version (meaning 2.0), no state and no extensions.
    scope["asgi"] = dict(scope.get("asgi", {}), spec_version="2.3")
    scope.setdefault("state", {})
    scope.setdefault("extensions", {})
    for key, value in expected.items():
        if _plain(scope.get(key)) != _plain(value):
            raise AssertionError(f"reference: httpx's scope[{key!r}] is {scope.get(key)!r}, expected {value!r}")
    extra = set(scope) - set(expected)
    if extra:
        raise AssertionError(f"reference: httpx's scope has unexpected keys {sorted(extra)}")
    # Equal up to container types (httpx's header pairs are tuples): the app
    # gets the canonical scope itself, header pairs as [bytes, bytes] lists.
    return expected


async def _asgi_run(app, request):
    import httpx

    sent = []

    async def wrapper(scope, receive, send):
        scope = _httpx_scope(scope, request)

        async def capture(message):
            sent.append(message)
            await send(message)

        try:
            await app(scope, receive, capture)
        except Exception:
            # httpx keeps a response that was complete (see below); say so.
            log.warning("the app raised after %d events", len(sent), exc_info=True)
            raise

    # raise_app_exceptions=False: an app that completes its response and then
    # raises (Starlette's ServerErrorMiddleware re-raises after sending its
    # 500) gives the response, as from a real server; an app that raises
    # before completing it still raises.
    transport = httpx.ASGITransport(app=wrapper, raise_app_exceptions=False, client=CLIENT)
    async with httpx.AsyncClient(transport=transport, trust_env=False) as client:
        http_request = httpx.Request(
            request.method,
            request.url,
            headers=[(name, value) for name, value in request.headers],
            content=request.body if request.body else None,
        )
        if _plain(http_request.headers.raw) != _plain(request.headers):
            raise AssertionError(f"reference: httpx changed the request headers to {http_request.headers.raw!r}")
        response = await client.send(http_request)
        client_body = await response.aread()

    starts = [m for m in sent if m["type"] == "http.response.start"]
    if len(starts) != 1:
        raise AssertionError(f"reference: the app sent {len(starts)} http.response.start events")
    status = starts[0]["status"]
    headers = [(bytes(name), bytes(value)) for name, value in starts[0].get("headers", [])]
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    # What the app sent and what httpx made of it must agree.
    if response.status_code != status or _plain(response.headers.raw) != _plain(headers):
        raise AssertionError("reference: httpx's response differs from the events the app sent")
    if client_body != (b"" if request.method == b"HEAD" else body):
        raise AssertionError("reference: httpx's response body differs from the events the app sent")
    return status, headers, body


# --- WSGI --------------------------------------------------------------------


def wsgi(module, callable_, method, raw_path, query, headers, body):
    """Runs the WSGI app with werkzeug's test tooling; returns
    (status_line, headers, body)."""
    from werkzeug.test import run_wsgi_app

    app = _load(module, callable_)
    environ = build_environ(method, raw_path, query, headers, body)
    app_iter, status, response_headers = run_wsgi_app(app, environ, buffered=True)
    out = b"".join(app_iter)
    return (
        status.encode("latin-1"),
        [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response_headers.to_wsgi_list()],
        out,
    )


def canonical_environ(request):
    """The PEP 3333 CGI part of the environ that the request describes:
    header values joined with ", " when repeated (RFC 9110 5.3), Content-Type
    and Content-Length as CONTENT_* only, strings as latin-1."""
    environ = {
        "REQUEST_METHOD": request.method.decode("latin-1"),
        "SCRIPT_NAME": "",
        "PATH_INFO": urllib.parse.unquote_to_bytes(request.raw_path).decode("latin-1"),
        "QUERY_STRING": request.query.decode("latin-1"),
        "SERVER_NAME": SERVER[0],
        "SERVER_PORT": str(SERVER[1]),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": CLIENT[0],
        "REMOTE_PORT": str(CLIENT[1]),
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
    }
    for name, value in request.headers:
        name = name.decode("latin-1").upper().replace("-", "_")
        key = name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + name
        value = value.decode("latin-1")
        environ[key] = environ[key] + ", " + value if key in environ else value
    return environ


def build_environ(method, raw_path, query, headers, body):
    """werkzeug's environ for the request, checked against the canonical one."""
    from werkzeug.datastructures import Headers
    from werkzeug.test import EnvironBuilder

    request = _Request(method, raw_path, query, headers, body)
    builder = EnvironBuilder(
        path=request.raw_path.decode("ascii"),
        base_url=BASE_URL,
        query_string=request.query.decode("latin-1"),
        method=request.method.decode("latin-1"),
        headers=Headers([(n.decode("latin-1"), v.decode("latin-1")) for n, v in request.headers]),
        # Given an input stream (even an empty one), werkzeug sets
        # CONTENT_LENGTH from it; without, none: so a stream exactly when the
        # request says how long its body is (its `data` ignores b"").
        input_stream=io.BytesIO(request.body) if _has(request.headers, b"content-length") else None,
        environ_base={"REMOTE_ADDR": CLIENT[0], "REMOTE_PORT": str(CLIENT[1])},
    )
    try:
        environ = builder.get_environ()
    finally:
        builder.close()
    # Non-standard keys (mod_wsgi's and gunicorn's) that the tests' environ
    # does not have.
    environ.pop("REQUEST_URI", None)
    environ.pop("RAW_URI", None)
    # The server extension pycnode gives (as gunicorn and mod_wsgi do): the
    # input stream ends where the body ends. Ours (a BytesIO) does too, so it
    # is true here as well, and both sides hand the app the same environ.
    environ["wsgi.input_terminated"] = True
    expected = canonical_environ(request)
    cgi = {k: v for k, v in environ.items() if not k.startswith("wsgi.")}
    cgi.update({k: environ.get(k) for k in ("wsgi.url_scheme", "wsgi.version")})
    if cgi != expected:
        diff = {k: (cgi.get(k), expected.get(k)) for k in set(cgi) | set(expected) if cgi.get(k) != expected.get(k)}
        raise AssertionError(f"reference: werkzeug's environ differs (werkzeug, expected): {diff!r}")
    return environ


# --- probes: what the app is given ------------------------------------------


async def scope_probe(scope, receive, send):
    """An ASGI app that answers with a description of its scope and of the
    request body it received, as canonical JSON."""
    chunks, types, more = [], set(), True
    while more:
        message = await receive()
        types.add(f"{message['type']}:{type(message.get('body', b'')).__name__}")
        if message["type"] != "http.request":
            break
        chunks.append(bytes(message.get("body", b"")))
        more = bool(message.get("more_body", False))
    body = b"".join(chunks)
    description = {
        "scope": {key: _describe(value) for key, value in scope.items()},
        "receive": sorted(types),
        "body_length": len(body),
        "body_sha256": hashlib.sha256(body).hexdigest(),
    }
    out = json.dumps(description, sort_keys=True, ensure_ascii=True).encode("ascii")
    await send({"type": "http.response.start", "status": 200,
                "headers": [[b"content-type", b"application/json"], [b"content-length", str(len(out)).encode()]]})
    await send({"type": "http.response.body", "body": out})


# Keys whose value is the server's business, not the request's: only their
# type is described.
_SERVER_PROPERTIES = ("wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once")


def environ_probe(environ, start_response):
    """A WSGI app that answers with a description of its environ and of the
    body it read, as canonical JSON."""
    stream = environ["wsgi.input"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = stream.read(length) if length else b""
    description = {
        "environ_type": type(environ).__name__,
        "environ": {
            key: (_describe(value) if key not in _SERVER_PROPERTIES else {"type": type(value).__name__})
            for key, value in environ.items()
            if key not in ("wsgi.input", "wsgi.errors", "wsgi.file_wrapper") and not key.startswith("werkzeug.")
        },
        "input_methods": sorted(m for m in ("read", "readline", "readlines", "__iter__") if hasattr(stream, m)),
        "errors_methods": sorted(m for m in ("write", "writelines", "flush") if hasattr(environ["wsgi.errors"], m)),
        "body_length": len(body),
        "body_sha256": hashlib.sha256(body).hexdigest(),
    }
    out = json.dumps(description, sort_keys=True, ensure_ascii=True).encode("ascii")
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(out)))])
    return [out]


# The same probe under wsgiref's PEP 3333 checker: environ types and keys,
# input/errors streams, start_response and iterator discipline.
validated_environ_probe = wsgiref.validate.validator(environ_probe)


# --- helpers -----------------------------------------------------------------


class _Request:
    def __init__(self, method, raw_path, query, headers, body):
        self.method = bytes(method).upper()
        self.raw_path = bytes(raw_path)
        self.query = bytes(query)
        self.headers = [(bytes(name), bytes(value)) for name, value in headers]
        self.body = bytes(body)
        self.url = BASE_URL + self.raw_path.decode("ascii") + ("?" + self.query.decode("ascii") if self.query else "")


def _load(module, callable_):
    target = importlib.import_module(_text(module))
    for part in _text(callable_).split("."):
        target = getattr(target, part)
    return target


def _has(headers, name):
    return any(n.lower() == name for n, _ in headers)


def _text(value):
    return value.decode("utf-8") if isinstance(value, (bytes, bytearray)) else str(value)


def _plain(value):
    """Tuples as lists, bytearray as bytes: for comparisons."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, bytearray):
        return bytes(value)
    return value


def _describe(value):
    """A JSON description of a scope/environ value that keeps its type."""
    if isinstance(value, (bytes, bytearray)):
        return {"type": type(value).__name__, "latin1": bytes(value).decode("latin-1")}
    if isinstance(value, str):
        return {"type": type(value).__name__, "value": value}
    if isinstance(value, (list, tuple)):
        return {"type": type(value).__name__, "items": [_describe(v) for v in value]}
    if isinstance(value, dict):
        return {"type": type(value).__name__, "items": {str(k): _describe(v) for k, v in value.items()}}
    if value is None or isinstance(value, (bool, int, float)):
        return {"type": type(value).__name__, "value": value}
    return {"type": type(value).__name__}
