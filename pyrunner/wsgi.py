"""WSGI (PEP 3333) for pycnode: the objects pycnode puts in every environ, and
the pure-Python request handler that custom runners call.

pycnode runs a WSGI application natively (``cnode/wsgi/wsgi_*.cpp``) unless
the request names a runner module (``runner => <<"mod">>``); then it calls
``mod.run_wsgi(app, environ)``, which usually calls
:func:`default_wsgi_handler`. Both paths apply the same rules with the same
messages, so an application gets the same answer either way:

- ``start_response(status, headers, exc_info=None)`` checks that ``status`` is
  a latin-1 ``str`` like ``"200 OK"`` and ``headers`` a list of
  ``(str, str)`` tuples of latin-1 text with valid names, no control
  characters in values, and no hop-by-hop headers (:data:`HOP_BY_HOP`);
- a second call needs ``exc_info``; once body bytes exist (the headers are
  "sent") it re-raises ``exc_info``;
- body items must be ``bytes``; the result's ``close()`` is always called.

A breach raises :class:`WSGIProtocolError` in the application, and is
remembered: even if the application catches it, the request is answered
``{error, {wsgi_protocol, Detail}}``.

:class:`ErrorStream` (``wsgi.errors``) and :class:`FileWrapper`
(``wsgi.file_wrapper``) are what the native path uses too. Everything here is
pure Python and works with or without the GIL.
"""

import logging
import re
import threading

__all__ = ["HOP_BY_HOP", "WSGIProtocolError", "ErrorStream", "FileWrapper", "StartResponse",
           "check_status", "check_headers", "default_wsgi_handler", "run_wsgi"]

# Headers that describe one connection, not the response: the HTTP server
# that talks to the client owns them (PEP 3333, "Other HTTP Features").
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "te", "trailers", "transfer-encoding", "upgrade"})

# RFC 9110: a header name is a token; a value or reason phrase may hold any
# latin-1 character but the controls (horizontal tab excepted).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_STATUS = re.compile(r"[1-9][0-9][0-9] [^\x00-\x08\x0a-\x1f\x7f]*")

_log = logging.getLogger("pyrunner.wsgi")


class WSGIProtocolError(Exception):
    """The application broke PEP 3333. pycnode answers the request with
    ``{error, {wsgi_protocol, str(exc)}}``."""


class ErrorStream:
    """``wsgi.errors``: a text stream whose lines go to the ``wsgi.errors``
    logger at ERROR level, which inside pycnode is pycnode's log.

    Text is logged a whole line at a time; :meth:`flush` logs a partial last
    line (pycnode flushes after every request). ``logger`` exists for tests.
    """

    def __init__(self, logger=None):
        self._logger = logger if logger is not None else logging.getLogger("wsgi.errors")
        self._pending = ""
        self._lock = threading.Lock()  # one stream per worker; apps may share it with threads

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError(f"wsgi.errors.write() argument must be str, not {type(text).__name__}")
        with self._lock:
            lines = (self._pending + text).split("\n")
            self._pending = lines.pop()
        for line in lines:
            self._logger.error("%s", line)
        return len(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        if not self._pending:  # pycnode flushes after every request: keep the usual case cheap
            return
        with self._lock:
            line, self._pending = self._pending, ""
        if line:
            self._logger.error("%s", line)


class FileWrapper:
    """``wsgi.file_wrapper``: wraps a binary file-like object returned as the
    response body.

    Iterating reads ``blksize`` bytes at a time, as PEP 3333 describes; but
    pycnode, seeing a FileWrapper returned by the application, reads the rest
    of the file in one call instead (:meth:`read_all`), then calls
    :meth:`close`, which closes the file if it has a ``close``.
    """

    def __init__(self, filelike, blksize=8192):
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self):
        return self

    def __next__(self):
        data = self.filelike.read(self.blksize)
        if data:
            return data
        raise StopIteration

    def read_all(self):
        """Everything left in the file, in one read (a buffered file sizes
        it from fstat and reads it with one system call)."""
        return self.filelike.read()


def _latin1(text, what, where):
    if not isinstance(text, str):
        raise WSGIProtocolError(f"{where}: {what} must be a str, not {type(text).__name__}")
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        raise WSGIProtocolError(f"{where}: {what} must be latin-1 text") from None
    return text


def check_status(status, where="start_response"):
    """Return ``status`` if it is a latin-1 str of a 3-digit code (100-999),
    a space and a reason phrase (maybe empty, no control characters); else
    raise :class:`WSGIProtocolError`."""
    _latin1(status, "status", where)
    if not _STATUS.fullmatch(status):
        raise WSGIProtocolError(f'{where}: status must be a 3-digit code, a space and a reason phrase, '
                                f'like "200 OK"')
    return status


def check_headers(headers, where="start_response"):
    """Return a copy of ``headers`` (a list of ``(name, value)`` tuples of
    latin-1 str) if every header is valid, else raise
    :class:`WSGIProtocolError` naming the first bad one."""
    if not isinstance(headers, list):
        raise WSGIProtocolError(f"{where}: headers must be a list, not {type(headers).__name__}")
    checked = []
    for index, header in enumerate(headers):
        if not isinstance(header, tuple) or len(header) != 2:
            raise WSGIProtocolError(f"{where}: headers[{index}] must be a (name, value) tuple")
        name, value = header
        _latin1(name, f"headers[{index}] name", where)
        _latin1(value, f"headers[{index}] value", where)
        check_header(index, name, value, where)
        checked.append((name, value))
    return checked


def check_header(index, name, value, where):
    """The rules on one header's text (the native path applies the same)."""
    if not _TOKEN.fullmatch(name):
        raise WSGIProtocolError(f"{where}: headers[{index}] name is not a valid HTTP header name")
    if name.lower() in HOP_BY_HOP:
        raise WSGIProtocolError(f"{where}: headers[{index}] is the hop-by-hop header {name}, "
                                f"which a WSGI application must not send")
    if _CONTROL.search(value):
        raise WSGIProtocolError(f"{where}: headers[{index}] value contains a control character")


class StartResponse:
    """The ``start_response`` callable of one request, and what it gathers:
    ``status``, ``headers``, the ``body`` chunks and the first breach of
    PEP 3333 (``violation``)."""

    def __init__(self):
        self.status = None
        self.headers = None
        self.body = []
        self.headers_sent = False
        self.finished = False
        self.violation = None

    def violate(self, detail):
        """Remember the first breach, then raise it in the application."""
        if self.violation is None:
            self.violation = detail
        raise WSGIProtocolError(detail)

    def __call__(self, status, headers, /, exc_info=None):
        if self.finished:
            raise WSGIProtocolError("start_response called after the response was complete")
        if exc_info is not None:
            if type(exc_info) is not tuple or len(exc_info) != 3:
                self.violate("start_response: exc_info must be None or a (type, value, traceback) tuple")
            if self.headers_sent:
                error = exc_info[1]
                if not isinstance(error, BaseException):
                    self.violate("start_response: exc_info holds no exception")
                raise error.with_traceback(exc_info[2])
        elif self.status is not None:
            self.violate("start_response called a second time without exc_info")
        try:
            status, headers = check_status(status), check_headers(headers)
        except WSGIProtocolError as error:
            self.violate(str(error))
        self.status, self.headers = status, headers
        return self.write

    def write(self, data):
        """The ``write`` callable that start_response returns."""
        if self.finished:
            raise WSGIProtocolError("write() called after the response was complete")
        if not isinstance(data, bytes):
            self.violate(f"write() argument must be bytes, not {type(data).__name__}")
        if data:
            self.headers_sent = True
            self.body.append(data)

    def collect(self, result):
        """Gather the body items of the application's result (not closed)."""
        if isinstance(result, (bytes, str)):
            self.violate(f"the application returned {type(result).__name__}; "
                         f"it must return an iterable of bytes, such as [body]")
        if type(result) is FileWrapper:
            self._append(result.read_all())
            return
        for item in result:
            self._append(item)

    def _append(self, item):
        if not isinstance(item, bytes):
            self.violate(f"response body items must be bytes, not {type(item).__name__}")
        if item:
            if self.status is None:
                self.violate("start_response was not called")
            self.headers_sent = True
            self.body.append(item)


def _close(result):
    close = getattr(result, "close", None)
    if close is not None:
        close()


def _close_after_error(result):
    # The first error is the one the caller gets; a failing close() is logged.
    try:
        _close(result)
    except BaseException as error:
        _log.warning("close() of a WSGI response raised after an earlier error: %s: %s",
                     type(error).__qualname__, error)


def default_wsgi_handler(app, environ):
    """Run the WSGI application ``app`` on ``environ``, as pycnode's native
    path does, and return ``(status, headers, body)``: the status line
    (str), the headers (a list of ``(str, str)`` tuples) and the body
    (bytes).

    The result's ``close()`` is called on success and on error. A breach of
    PEP 3333 raises :class:`WSGIProtocolError` (pycnode answers
    ``{error, {wsgi_protocol, Detail}}``); an exception of the application
    propagates unchanged.
    """
    response = StartResponse()
    try:
        try:
            result = app(environ, response)
        except BaseException as error:
            _raise_violation(response, error)
            raise
        try:
            response.collect(result)
        except BaseException as error:
            _close_after_error(result)
            _raise_violation(response, error)
            raise
        try:
            _close(result)
        except BaseException as error:
            _raise_violation(response, error)
            raise
    finally:
        response.finished = True
    _raise_violation(response, None)
    if response.status is None:
        raise WSGIProtocolError("start_response was not called")
    return response.status, response.headers, b"".join(response.body)


def _raise_violation(response, cause):
    """A remembered breach outranks whatever the application did next."""
    if response.violation is not None and not (isinstance(cause, WSGIProtocolError)
                                               and str(cause) == response.violation):
        raise WSGIProtocolError(response.violation) from cause


def run_wsgi(app, environ):
    """The runner entry point: ``runner => <<"pyrunner.wsgi">>`` runs a
    request through :func:`default_wsgi_handler` (the native path's rules, in
    Python: handy to compare the two or to debug)."""
    return default_wsgi_handler(app, environ)
