"""The bridge from :mod:`logging` to pycnode's log.

Inside pycnode (when the built-in ``_pycnode`` module can be imported),
importing this module installs a :class:`PycnodeHandler` on the root logger,
sets the root level to pycnode's own (``--log-level``) and routes
:mod:`warnings` through logging, so Python's records and warnings end up in
the same stream, in the same format, as pycnode's. Outside pycnode, importing
it does nothing.
"""

import logging

try:
    import _pycnode
except ImportError:  # plain Python: unit tests, tools
    _pycnode = None

__all__ = ["PycnodeHandler", "install", "pycnode_level"]

# pycnode's levels: DEBUG=0, INFO=1, WARNING=2, ERROR=3.
_LEVELS = ((logging.ERROR, 3), (logging.WARNING, 2), (logging.INFO, 1))
_LOGGING_LEVELS = {0: logging.DEBUG, 1: logging.INFO, 2: logging.WARNING, 3: logging.ERROR}


def pycnode_level(levelno):
    """Map a :mod:`logging` level number to pycnode's 0 (debug) .. 3 (error)."""
    for threshold, level in _LEVELS:
        if levelno >= threshold:
            return level
    return 0


class PycnodeHandler(logging.Handler):
    """Writes each record as one line of pycnode's log: ``name: message``.

    ``sink`` is the function that writes a (level, text) pair; it defaults to
    ``_pycnode.log`` and exists so the handler can be tested without pycnode.
    """

    def __init__(self, sink=None, level=logging.NOTSET):
        super().__init__(level)
        self._sink = sink if sink is not None else _pycnode.log
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def emit(self, record):
        try:
            self._sink(pycnode_level(record.levelno), self.format(record))
        except Exception:
            self.handleError(record)


def install():
    """Install the bridge on the root logger; idempotent. Needs pycnode."""
    if _pycnode is None:
        raise RuntimeError("pyrunner.log.install() needs pycnode's _pycnode module")
    root = logging.getLogger()
    if not any(isinstance(h, PycnodeHandler) for h in root.handlers):
        root.addHandler(PycnodeHandler())
    root.setLevel(_LOGGING_LEVELS.get(_pycnode.log_level(), logging.INFO))
    logging.captureWarnings(True)


if _pycnode is not None:
    install()
