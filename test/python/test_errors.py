"""Unit tests of pyrunner.errors.describe (pure Python: no pycnode needed)."""

import unittest

import _path  # noqa: F401  (sys.path set-up)
from pyrunner.errors import describe


class Outer:
    class InnerError(Exception):
        pass


class BadStr(Exception):
    def __str__(self):
        raise RuntimeError("no")


def raise_and_catch(exc):
    try:
        raise exc
    except BaseException as caught:
        return caught


class DescribeTest(unittest.TestCase):
    def test_builtin_exception(self):
        type_name, message, tb = describe(raise_and_catch(ValueError("bad value")))
        self.assertEqual(type_name, "ValueError")
        self.assertEqual(message, "bad value")
        self.assertIn("Traceback (most recent call last)", tb)
        self.assertIn("raise_and_catch", tb)
        self.assertTrue(tb.rstrip().endswith("ValueError: bad value"))

    def test_nested_class_uses_qualified_name(self):
        type_name, _, _ = describe(raise_and_catch(Outer.InnerError("x")))
        self.assertEqual(type_name, "Outer.InnerError")

    def test_unprintable_message(self):
        type_name, message, tb = describe(raise_and_catch(BadStr()))
        self.assertEqual(type_name, "BadStr")
        self.assertEqual(message, "<unprintable>")
        self.assertIsInstance(tb, str)

    def test_exception_never_raised_has_no_traceback_lines(self):
        type_name, message, tb = describe(KeyError("k"))
        self.assertEqual((type_name, message), ("KeyError", "'k'"))
        self.assertEqual(tb, "KeyError: 'k'\n")

    def test_chained_exceptions_appear(self):
        try:
            try:
                raise KeyError("inner")
            except KeyError as e:
                raise ValueError("outer") from e
        except ValueError as e:
            exc = e
        _, _, tb = describe(exc)
        self.assertIn("KeyError: 'inner'", tb)
        self.assertIn("direct cause", tb)

    def test_returns_three_str(self):
        parts = describe(raise_and_catch(RuntimeError("\udcff lone surrogate")))
        self.assertEqual(len(parts), 3)
        self.assertTrue(all(isinstance(p, str) for p in parts))


if __name__ == "__main__":
    unittest.main()
