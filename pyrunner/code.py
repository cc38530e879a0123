"""Code at run time: reloading modules, and eval/exec in named namespaces.

pycnode's Erlang client calls these through the generic call
(``pycnode:reload/2,3``, ``pycnode:eval/3,4``, ``pycnode:exec/3,4``), so they
take what Erlang sends: names and source as ``bytes`` or ``str``, bindings as
a dict whose keys may be ``bytes``, ``str`` or :class:`pyrunner.Atom`.

Inside pycnode every worker thread shares one interpreter, so a reload or a
namespace is seen by all of them; a reload also tells pycnode to resolve
every cached function again (``_pycnode.code_changed``). Outside pycnode
(tests) that notice is skipped.
"""

import builtins
import functools
import importlib
import sys
import threading

__all__ = ["reload", "evaluate", "execute", "forget", "namespace_names"]

_namespaces = {}
_namespaces_lock = threading.Lock()
_reload_lock = threading.Lock()


def _text(value, what):
    if isinstance(value, str):
        return str(value)  # an Atom is a str subclass: a plain str from here on
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{what} is not valid UTF-8") from None
    raise TypeError(f"{what} must be a binary or an atom, not {type(value).__name__}")


def _code_changed():
    try:
        import _pycnode
    except ImportError:  # outside pycnode
        return
    _pycnode.code_changed()


def reload(target, prefix=False):
    """Reload module ``target`` (or, with ``prefix``, every loaded module
    whose name is ``target`` or starts with ``target + '.'``), parents before
    children. Returns the names reloaded, in order. A module that is not
    loaded yet is imported instead (so the next call finds it either way).
    """
    name = _text(target, "module name")
    with _reload_lock:
        if prefix:
            names = sorted(n for n in list(sys.modules) if n == name or n.startswith(name + "."))
        else:
            names = [name]
        done = []
        try:
            for n in names:
                module = sys.modules.get(n)
                if module is None:
                    importlib.import_module(n)
                else:
                    importlib.reload(module)
                done.append(n)
        finally:
            # Even after a failure, what was reloaded must be seen.
            if done:
                _code_changed()
        return done


def _namespace(name):
    key = _text(name, "namespace name")
    with _namespaces_lock:
        space = _namespaces.get(key)
        if space is None:
            space = _namespaces[key] = {"__builtins__": builtins, "__name__": f"pycnode:{key}"}
        return space


def _bind(space, bindings):
    if not bindings:
        return
    if not isinstance(bindings, dict):
        raise TypeError("bindings must be a map of names to values")
    for key, value in bindings.items():
        name = _text(key, "a binding's name")
        if not name.isidentifier():
            raise ValueError(f"binding name {name!r} is not a Python identifier")
        space[name] = value


@functools.lru_cache(maxsize=256)
def _compiled(source, mode):
    return compile(source, "<pycnode>", mode)


def evaluate(namespace, expression, bindings=None):
    """The value of ``expression`` in ``namespace`` (created on first use),
    with ``bindings`` assigned in it first."""
    space = _namespace(namespace)
    _bind(space, bindings)
    return eval(_compiled(_text(expression, "expression"), "eval"), space)


def execute(namespace, statements, bindings=None):
    """Run ``statements`` in ``namespace`` (created on first use), with
    ``bindings`` assigned in it first. Returns None; later evaluate() calls
    in the same namespace see what the statements defined."""
    space = _namespace(namespace)
    _bind(space, bindings)
    exec(_compiled(_text(statements, "statements"), "exec"), space)


def forget(namespace):
    """Drop ``namespace``; True if it existed."""
    key = _text(namespace, "namespace name")
    with _namespaces_lock:
        return _namespaces.pop(key, None) is not None


def namespace_names():
    """The names of the namespaces that exist, sorted."""
    with _namespaces_lock:
        return sorted(_namespaces)
