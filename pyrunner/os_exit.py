"""What a call to :func:`os._exit` says inside pycnode.

``os._exit`` ends the process at once, without unwinding: every request in
flight on the node is lost with it, and nothing else would say why. Inside
pycnode (when the built-in ``_pycnode`` module can be imported), importing
this module wraps ``os._exit`` so that a call first writes one error line to
pycnode's log naming the request the calling thread runs
(``_pycnode.running()``) and the caller's file and line, then exits with
the same status, exactly as before. A child process made by ``fork``
(multiprocessing ends its children with ``os._exit``) exits silently.
Outside pycnode, importing it changes nothing.
"""

import functools
import operator
import os
import sys
import threading

try:
    import _pycnode
except ImportError:  # plain Python: unit tests, tools
    _pycnode = None

__all__ = ["describe_exit", "wrap", "install"]


def describe_exit(status, running, thread_name, frame):
    """The log line for ``os._exit(status)``: `running` is what the calling
    thread runs (None outside a request), `frame` the caller's frame."""
    where = f"while running {running}" if running else f"in thread {thread_name}, outside any request"
    at = f", at {frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}" if frame else ""
    return f"os._exit({status}) called {where}{at}; the process exits with status {status}"


def wrap(real_exit, sink, running, pid):
    """``os._exit`` that first calls ``sink(describe_exit(...))``, in the
    process `pid` only, then ``real_exit(status)``."""

    @functools.wraps(real_exit)
    def _exit(status, /):
        try:
            code = operator.index(status)
        except TypeError:
            code = None  # real_exit raises TypeError: nothing to say
        if code is not None and os.getpid() == pid:
            try:
                sink(describe_exit(code, running(), threading.current_thread().name, sys._getframe(1)))
            except BaseException:  # noqa: B036  (the exit must happen whatever the log does)
                pass
        real_exit(status)

    _exit.__wrapped__ = real_exit
    return _exit


def install():
    """Wrap ``os._exit`` for this process; idempotent. Needs pycnode."""
    if _pycnode is None:
        raise RuntimeError("pyrunner.os_exit.install() needs pycnode's _pycnode module")
    if hasattr(os._exit, "__wrapped__"):
        return
    os._exit = wrap(os._exit, lambda text: _pycnode.log(_pycnode.ERROR, text), _pycnode.running, os.getpid())


if _pycnode is not None:
    install()
