"""pyrunner.code outside pycnode: namespaces, eval/exec, reload."""

import os
import sys
import tempfile
import unittest

import _path  # noqa: F401  (puts the repository root on sys.path)
from pyrunner import Atom, code


class NamespaceTests(unittest.TestCase):
    def tearDown(self):
        for name in code.namespace_names():
            code.forget(name)

    def test_evaluate_with_bindings_from_erlang(self):
        self.assertEqual(code.evaluate(b"t", b"x + y", {Atom("x"): 1, b"y": 2}), 3)

    def test_execute_then_evaluate_in_the_same_namespace_only(self):
        code.execute("a", "def f(n):\n    return n * k\n", {"k": 10})
        self.assertEqual(code.evaluate("a", "f(4)"), 40)
        with self.assertRaises(NameError):
            code.evaluate("b", "f(4)")
        self.assertEqual(code.namespace_names(), ["a", "b"])
        self.assertTrue(code.forget("a"))
        self.assertFalse(code.forget("a"))

    def test_bad_input(self):
        with self.assertRaises(SyntaxError):
            code.evaluate("t", "1 +")
        with self.assertRaises(ValueError):
            code.evaluate("t", "1", {"not a name": 1})
        with self.assertRaises(ValueError):
            code.evaluate("t", b"\xff")
        with self.assertRaises(TypeError):
            code.evaluate("t", "1", [("x", 1)])


class ReloadTests(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        sys.path.insert(0, self.dir)

    def tearDown(self):
        sys.path.remove(self.dir)
        for name in [n for n in sys.modules if n.startswith("codetest_")]:
            del sys.modules[name]

    def write(self, relative, text):
        path = os.path.join(self.dir, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)

    def test_reload_one_module_and_a_prefix(self):
        self.write("codetest_mod.py", "V = 1\n")
        self.write("codetest_pkg/__init__.py", "")
        self.write("codetest_pkg/sub.py", "V = 1\n")
        import codetest_mod
        import codetest_pkg.sub
        self.write("codetest_mod.py", "V = 200\n")
        self.write("codetest_pkg/sub.py", "V = 300\n")
        self.assertEqual(code.reload(b"codetest_mod"), ["codetest_mod"])
        self.assertEqual(codetest_mod.V, 200)
        self.assertEqual(code.reload("codetest_pkg", True), ["codetest_pkg", "codetest_pkg.sub"])
        self.assertEqual(codetest_pkg.sub.V, 300)

    def test_reload_of_a_module_not_loaded_imports_it(self):
        self.write("codetest_new.py", "V = 5\n")
        self.assertEqual(code.reload("codetest_new"), ["codetest_new"])
        self.assertEqual(sys.modules["codetest_new"].V, 5)


if __name__ == "__main__":
    unittest.main()
