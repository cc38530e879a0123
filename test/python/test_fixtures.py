"""Checks of the integration-test fixtures themselves (test/fixtures)."""

import os
import sys
import unittest

import _path  # noqa: F401  (sys.path set-up)

sys.path.insert(0, os.path.join(_path.ROOT, "test", "fixtures"))
import pyc_fixtures as fx  # noqa: E402
from pyrunner import Atom  # noqa: E402


class FixturesTest(unittest.TestCase):
    def test_type_names(self):
        self.assertEqual(fx.type_names(1), "int")
        self.assertEqual(fx.type_names([Atom("a"), (None, b"")]),
                         ["list", ["Atom", ["tuple", ["NoneType", "bytes"]]]])
        self.assertEqual(fx.type_names({b"k": 1.0}), ["dict", [["bytes", "float"]]])

    def test_make_atom(self):
        self.assertIs(type(fx.make_atom(b"ok")), Atom)
        self.assertEqual(fx.make_atom("ok"), "ok")

    def test_raisers(self):
        with self.assertRaises(ValueError):
            fx.raise_value_error(b"x")
        with self.assertRaises(fx.CustomError):
            fx.raise_custom(b"x")

    def test_shapes(self):
        self.assertEqual(fx.nested(2), [[0]])
        items = fx.returns_self_list()
        self.assertIs(items[1], items)
        self.assertEqual(len(fx.big_binary(10)), 10)
        self.assertEqual(fx.make_bigint(70, True), -(2 ** 70 - 1))

    def test_cpu_work_is_deterministic(self):
        self.assertEqual(fx.cpu_work(100), fx.cpu_work(100))


if __name__ == "__main__":
    unittest.main()
