"""How a Python exception is described to the Erlang caller.

pycnode replies ``{error, {python, TypeName, Message, Traceback}}`` when the
called function raises; :func:`describe` computes the three binaries' text.
"""

import traceback

__all__ = ["describe"]


def describe(exc):
    """Return ``(type_name, message, traceback_text)`` for an exception.

    ``type_name`` is the class's qualified name (``'ValueError'``,
    ``'Outer.Inner'`` for a nested class); ``message`` is ``str(exc)``;
    ``traceback_text`` is the traceback as Python prints it, chained
    exceptions included. Never raises for a misbehaving exception: a ``str()``
    that fails gives ``'<unprintable>'``.
    """
    exc_type = type(exc)
    type_name = getattr(exc_type, "__qualname__", None) or exc_type.__name__
    try:
        message = str(exc)
    except BaseException:
        message = "<unprintable>"
    try:
        traceback_text = "".join(traceback.format_exception(exc_type, exc, exc.__traceback__))
    except BaseException:
        traceback_text = f"{type_name}: {message}\n"
    return type_name, message, traceback_text
