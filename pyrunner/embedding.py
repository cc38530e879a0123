"""Interpreter settings that embedding in pycnode needs.

pycnode starts Python with its own binary as the program name, so that the
standard library is found next to the libpython it links (not next to
whatever ``python3`` comes first on PATH). That leaves ``sys.executable``
naming pycnode itself, and code that starts "another Python" with it
(subprocess, multiprocessing's spawn and forkserver methods) would start
another node instead. Inside pycnode, importing this module points
``sys.executable`` at the installation's own interpreter when it exists.
Outside pycnode, importing it changes nothing.
"""

import os
import sys
import sysconfig

__all__ = ["installation_python", "fix_sys_executable"]


def installation_python():
    """The python binary of the running installation, e.g. /usr/bin/python3.11
    or <prefix>/bin/python3.13t; None if there is none (a relocated build)."""
    bindir = sysconfig.get_config_var("BINDIR")
    version = sysconfig.get_config_var("VERSION")
    if not bindir or not version:
        return None
    abiflags = sysconfig.get_config_var("ABIFLAGS") or ""
    path = os.path.join(bindir, f"python{version}{abiflags}")
    return path if os.access(path, os.X_OK) else None


def fix_sys_executable():
    """Point sys.executable (and sys._base_executable) at installation_python().

    Does nothing inside a virtual environment, whose own executable is right.
    Returns the executable now in use.
    """
    python = installation_python()
    if python and sys.prefix == sys.base_prefix:
        sys.executable = python
        sys._base_executable = python
    return sys.executable


try:
    import _pycnode  # noqa: F401  (present only inside pycnode)
except ImportError:
    pass
else:
    fix_sys_executable()
