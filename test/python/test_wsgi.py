"""Unit tests of pyrunner.wsgi (pure Python: no pycnode needed).

The native path applies the same rules with the same messages; the
integration tests (pycnode_wsgi_tests.erl) run both and compare them.
"""

import io
import sys
import unittest
import warnings
from contextlib import nullcontext
from wsgiref.util import setup_testing_defaults
from wsgiref.validate import validator

import _path  # noqa: F401  (sys.path set-up)
from pyrunner import default_wsgi_handler
from pyrunner.wsgi import (ErrorStream, FileWrapper, StartResponse, WSGIProtocolError, check_headers,
                           check_status, run_wsgi)


def environ(body=b"", **extra):
    env = {"wsgi.input": io.BytesIO(body), "wsgi.errors": ErrorStream(_Lines()), "wsgi.file_wrapper": FileWrapper}
    env["QUERY_STRING"] = ""
    setup_testing_defaults(env)
    env.update(extra)
    return env


class _Lines:
    """A logger stand-in that keeps what ErrorStream logs."""

    def __init__(self):
        self.lines = []

    def error(self, fmt, line):
        self.lines.append(fmt % line)


def app_of(status="200 OK", headers=(("Content-Type", "text/plain"),), body=(b"ok",)):
    def app(environ, start_response):
        start_response(status, list(headers))
        return list(body)
    return app


class Closing:
    def __init__(self, items, close_raises=False):
        self.items, self.close_raises, self.closed = items, close_raises, 0

    def __iter__(self):
        for item in self.items:
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self):
        self.closed += 1
        if self.close_raises:
            raise RuntimeError("close failed")


class StatusAndHeadersTest(unittest.TestCase):
    def test_good_status(self):
        for status in ("200 OK", "404 Not Found", "299 ", "599 \xe9t\xe9\t"):
            self.assertEqual(check_status(status), status)

    def test_bad_status(self):
        for status in ("200OK", "200", "20 OK", "099 Low", "2000 OK", "200 a\nb", " 200 OK", "\xb200 OK"):
            with self.subTest(status=status), self.assertRaisesRegex(WSGIProtocolError, "3-digit code"):
                check_status(status)
        with self.assertRaisesRegex(WSGIProtocolError, "^start_response: status must be a str, not bytes$"):
            check_status(b"200 OK")
        with self.assertRaisesRegex(WSGIProtocolError, "status must be latin-1 text"):
            check_status("200 \u20ac")

    def test_headers_copied(self):
        headers = [("Content-Type", "text/plain"), ("X-A", "caf\xe9")]
        checked = check_headers(headers)
        self.assertEqual(checked, headers)
        self.assertIsNot(checked, headers)

    def test_bad_headers(self):
        cases = [
            (("X", "1"),), [["X", "1"]], [("X", "1", "2")], [(b"X", "1")], [("X", 1)], [("X\u20ac", "1")],
            [("", "1")], [("X Y", "1")], [("X:", "1")], [("X", "a\r\nb")], [("X", "\x00")], [("X", "\x7f")],
        ]
        for headers in cases:
            with self.subTest(headers=headers), self.assertRaises(WSGIProtocolError):
                check_headers(headers)
        self.assertEqual(check_headers([("X", "tab\tok")]), [("X", "tab\tok")])

    def test_hop_by_hop(self):
        for name in ("Connection", "keep-alive", "Proxy-Authenticate", "PROXY-AUTHORIZATION", "TE", "Trailers",
                     "Transfer-Encoding", "Upgrade"):
            with self.subTest(name=name), self.assertRaisesRegex(WSGIProtocolError, "hop-by-hop header " + name):
                check_headers([("Content-Type", "text/plain"), (name, "x")])


class StartResponseTest(unittest.TestCase):
    def test_second_call_needs_exc_info(self):
        response = StartResponse()
        response("200 OK", [])
        with self.assertRaisesRegex(WSGIProtocolError, "second time without exc_info"):
            response("500 Oops", [])
        self.assertEqual(response.violation, "start_response called a second time without exc_info")

    def test_exc_info_replaces_until_sent(self):
        response = StartResponse()
        response("200 OK", [])
        try:
            raise ValueError("boom")
        except ValueError:
            response("500 Oops", [("X", "1")], sys.exc_info())
        self.assertEqual((response.status, response.headers), ("500 Oops", [("X", "1")]))
        response.write(b"sent")
        try:
            raise ValueError("late")
        except ValueError:
            with self.assertRaisesRegex(ValueError, "late"):
                response("500 Oops", [], sys.exc_info())
        self.assertIsNone(response.violation)

    def test_exc_info_shape(self):
        response = StartResponse()
        with self.assertRaisesRegex(WSGIProtocolError, "exc_info must be None or a"):
            response("200 OK", [], ("not", "three"))

    def test_write_takes_bytes_only(self):
        response = StartResponse()
        write = response("200 OK", [])
        with self.assertRaisesRegex(WSGIProtocolError, "^write\\(\\) argument must be bytes, not str$"):
            write("text")

    def test_finished(self):
        response = StartResponse()
        write = response("200 OK", [])
        response.finished = True
        with self.assertRaisesRegex(WSGIProtocolError, "after the response was complete"):
            write(b"late")
        self.assertIsNone(response.violation)


class DefaultHandlerTest(unittest.TestCase):
    def test_hello(self):
        self.assertEqual(default_wsgi_handler(app_of(), environ()), ("200 OK", [("Content-Type", "text/plain")], b"ok"))
        self.assertEqual(run_wsgi(app_of(), environ()), ("200 OK", [("Content-Type", "text/plain")], b"ok"))

    def test_write_then_iterable(self):
        def app(environ, start_response):
            write = start_response("200 OK", [])
            write(b"a")
            write(b"")
            return iter([b"b", b"", b"c"])
        self.assertEqual(default_wsgi_handler(app, environ())[2], b"abc")

    def test_lazy_start_response(self):
        def app(environ, start_response):
            yield b""
            start_response("201 Created", [])
            yield b"x"
        self.assertEqual(default_wsgi_handler(app, environ()), ("201 Created", [], b"x"))

    def test_no_start_response(self):
        for body in ([b"x"], []):
            with self.subTest(body=body), self.assertRaisesRegex(WSGIProtocolError, "^start_response was not called$"):
                default_wsgi_handler(lambda e, s: body, environ())

    def test_close_always_called(self):
        cases = [([b"a"], False, None), ([b"a", ValueError("it")], False, ValueError),
                 ([b"a", "str"], False, WSGIProtocolError), ([b"a"], True, RuntimeError),
                 ([ValueError("first")], True, ValueError)]
        for items, close_raises, error in cases:
            result = Closing(items, close_raises)

            def app(environ, start_response):
                start_response("200 OK", [])
                return result
            with self.subTest(items=items, close_raises=close_raises):
                if error is None:
                    self.assertEqual(default_wsgi_handler(app, environ())[2], b"a")
                else:
                    # close() failing after an earlier error is logged, not raised.
                    logged = close_raises and error is ValueError
                    with self.assertLogs("pyrunner.wsgi", "WARNING") if logged else nullcontext(), \
                            self.assertRaises(error):
                        default_wsgi_handler(app, environ())
                self.assertEqual(result.closed, 1)

    def test_breach_outranks_later_exception(self):
        def app(environ, start_response):
            try:
                start_response("200 OK", [("Connection", "close")])
            except WSGIProtocolError:
                pass
            raise KeyError("after")
        with self.assertRaisesRegex(WSGIProtocolError, "hop-by-hop header Connection") as caught:
            default_wsgi_handler(app, environ())
        self.assertIsInstance(caught.exception.__cause__, KeyError)

    def test_swallowed_breach_still_reported(self):
        def app(environ, start_response):
            try:
                start_response("OK", [])
            except WSGIProtocolError:
                start_response("200 OK", [])
            return [b"x"]
        with self.assertRaisesRegex(WSGIProtocolError, "status must be a 3-digit code"):
            default_wsgi_handler(app, environ())

    def test_returning_bytes(self):
        with self.assertRaisesRegex(WSGIProtocolError, "returned bytes; it must return an iterable of bytes"):
            default_wsgi_handler(lambda e, s: (s("200 OK", []), b"x")[1], environ())

    def test_app_exception_propagates(self):
        def app(environ, start_response):
            raise LookupError("no")
        with self.assertRaisesRegex(LookupError, "no"):
            default_wsgi_handler(app, environ())

    def test_file_wrapper_read_at_once(self):
        data = bytes(range(256)) * 100
        handle = io.BytesIO(data)

        def app(environ, start_response):
            start_response("200 OK", [])
            return environ["wsgi.file_wrapper"](handle, 7)
        self.assertEqual(default_wsgi_handler(app, environ())[2], data)
        self.assertTrue(handle.closed)

    def test_file_wrapper_iterates_in_blocks(self):
        wrapper = FileWrapper(io.BytesIO(b"abcdefg"), 3)
        self.assertEqual(list(wrapper), [b"abc", b"def", b"g"])
        self.assertFalse(hasattr(FileWrapper(object()), "close"))

    def test_validator_runs_clean(self):
        def app(environ, start_response):
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.errors"].write("ran\n")
            environ["wsgi.errors"].flush()
            write = start_response("200 OK", [("Content-Type", "text/plain")])
            write(b"got:")
            return [body]
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            result = default_wsgi_handler(validator(app), environ(b"data", REQUEST_METHOD="POST",
                                                                  CONTENT_LENGTH="4"))
        self.assertEqual(result, ("200 OK", [("Content-Type", "text/plain")], b"got:data"))


class ErrorStreamTest(unittest.TestCase):
    def test_lines_and_flush(self):
        sink = _Lines()
        stream = ErrorStream(sink)
        self.assertEqual(stream.write("one\ntw"), 6)
        stream.writelines(["o\n", "three"])
        print("four", file=stream)
        self.assertEqual(sink.lines, ["one", "two", "threefour"])
        stream.write("tail")
        stream.flush()
        stream.flush()
        self.assertEqual(sink.lines[-1], "tail")
        self.assertEqual(len(sink.lines), 4)

    def test_text_only(self):
        with self.assertRaises(TypeError):
            ErrorStream(_Lines()).write(b"bytes")


if __name__ == "__main__":
    unittest.main()
