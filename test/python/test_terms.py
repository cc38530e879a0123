"""Unit tests of pyrunner.terms (pure Python: no pycnode needed)."""

import pickle
import unittest

import _path  # noqa: F401  (sys.path set-up)
from pyrunner.terms import Atom, Opaque


class AtomTest(unittest.TestCase):
    def test_is_a_str_equal_to_its_name(self):
        a = Atom("ok")
        self.assertIsInstance(a, str)
        self.assertEqual(a, "ok")
        self.assertEqual(hash(a), hash("ok"))

    def test_repr_says_atom(self):
        self.assertEqual(repr(Atom("ok")), "Atom('ok')")
        self.assertEqual(repr(Atom("it's")), 'Atom("it\'s")')

    def test_has_no_instance_dict(self):
        with self.assertRaises(AttributeError):
            Atom("ok").extra = 1

    def test_str_operations_return_plain_str(self):
        self.assertIs(type(Atom("ok") + "!"), str)
        self.assertIs(type(Atom("ok").upper()), str)

    def test_unicode_names(self):
        self.assertEqual(Atom("héllo"), "héllo")

    def test_pickles(self):
        self.assertEqual(pickle.loads(pickle.dumps(Atom("ok"))), Atom("ok"))
        self.assertIs(type(pickle.loads(pickle.dumps(Atom("ok")))), Atom)


class OpaqueTest(unittest.TestCase):
    PID = b"X" + bytes(range(20))

    def test_keeps_bytes(self):
        self.assertEqual(Opaque(self.PID).ext, self.PID)

    def test_requires_bytes(self):
        with self.assertRaises(TypeError):
            Opaque("not bytes")
        with self.assertRaises(TypeError):
            Opaque(bytearray(b"x"))

    def test_equality_and_hash_follow_the_bytes(self):
        self.assertEqual(Opaque(self.PID), Opaque(bytes(self.PID)))
        self.assertNotEqual(Opaque(self.PID), Opaque(b"other"))
        self.assertFalse(Opaque(self.PID) != Opaque(self.PID))
        self.assertEqual(len({Opaque(self.PID), Opaque(bytes(self.PID))}), 1)

    def test_not_equal_to_its_bytes(self):
        self.assertNotEqual(Opaque(self.PID), self.PID)

    def test_repr(self):
        self.assertEqual(repr(Opaque(b"ab")), "Opaque(b'ab')")

    def test_slots_only(self):
        with self.assertRaises(AttributeError):
            Opaque(b"x").other = 1

    def test_pickles(self):
        self.assertEqual(pickle.loads(pickle.dumps(Opaque(self.PID))), Opaque(self.PID))


if __name__ == "__main__":
    unittest.main()
