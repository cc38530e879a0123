"""pyrunner: the Python half of pycnode.

pycnode (an Erlang C-node) imports this package when it starts. It provides
the types that Erlang terms without a natural Python equivalent map to
(:class:`Atom`, :class:`Opaque`), the description of exceptions sent back to
Erlang callers (:mod:`pyrunner.errors`) and, inside pycnode only, the bridge
from :mod:`logging` to pycnode's log (:mod:`pyrunner.log`), the
interpreter settings embedding needs (:mod:`pyrunner.embedding`) and the
log line of a call to ``os._exit`` (:mod:`pyrunner.os_exit`).

Everything here is pure Python and works on CPython 3.11+ with or without the
GIL; it can be imported (and tested) outside pycnode.
"""

from pyrunner.terms import Atom, Opaque
from pyrunner import embedding, errors, log, os_exit

__all__ = ["Atom", "Opaque", "embedding", "errors", "log", "os_exit"]

from pyrunner import wsgi
from pyrunner.wsgi import default_wsgi_handler

__all__ += ["wsgi", "default_wsgi_handler"]

from pyrunner.asgi import default_asgi_handler  # noqa: E402  (ASGI: pyrunner/asgi.py)

__all__ += ["default_asgi_handler"]
