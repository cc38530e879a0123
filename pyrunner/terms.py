"""Python types for Erlang terms that have no natural Python equivalent.

The full mapping is in docs/terms.md. In short: atoms other than ``true``,
``false`` and ``undefined`` arrive as :class:`Atom`; pids, references, ports,
funs, bitstrings and improper lists arrive as :class:`Opaque`, which goes back
to Erlang unchanged.
"""

__all__ = ["Atom", "Opaque"]


class Atom(str):
    """An Erlang atom.

    A ``str`` subclass, so it compares equal to its name (``Atom('ok') ==
    'ok'``) and can be used wherever a string is expected; but it goes back to
    Erlang as an atom, where a plain ``str`` becomes a UTF-8 binary. Erlang
    allows at most 255 characters in an atom.

    >>> Atom('ok')
    Atom('ok')
    """

    __slots__ = ()

    def __repr__(self):
        return f"Atom({str.__repr__(self)})"


class Opaque:
    """An Erlang term Python cannot take apart: a pid, reference, port, fun,
    bitstring or improper list.

    ``ext`` holds the term's external format (without the leading 131 version
    byte). Sending an Opaque back to Erlang sends that term unchanged, so a
    pid received as an argument can be returned and used as a pid. Two Opaque
    values are equal when their bytes are, and they can be dict keys.
    """

    __slots__ = ("ext",)

    def __init__(self, ext):
        if not isinstance(ext, bytes):
            raise TypeError(f"Opaque ext must be bytes, not {type(ext).__name__}")
        self.ext = ext

    def __eq__(self, other):
        if isinstance(other, Opaque):
            return self.ext == other.ext
        return NotImplemented

    def __ne__(self, other):
        if isinstance(other, Opaque):
            return self.ext != other.ext
        return NotImplemented

    def __hash__(self):
        return hash((Opaque, self.ext))

    def __repr__(self):
        return f"Opaque({self.ext!r})"

    def __reduce__(self):
        return (Opaque, (self.ext,))
