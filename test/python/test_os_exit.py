"""Unit tests of pyrunner.os_exit (pure Python: the wrapper is given a fake
exit, a fake sink and a fake running())."""

import os
import sys
import unittest

import _path  # noqa: F401  (sys.path set-up)
from pyrunner import os_exit


class WrapTest(unittest.TestCase):
    def setUp(self):
        self.exits = []
        self.lines = []
        self.running = "call mod.fn from node a@b"

    def wrapped(self, pid=None):
        return os_exit.wrap(self.exits.append, self.lines.append, lambda: self.running,
                            os.getpid() if pid is None else pid)

    def test_logs_the_request_then_exits_with_the_same_status(self):
        line_no = sys._getframe().f_lineno + 1
        self.wrapped()(7)
        self.assertEqual(self.exits, [7])
        self.assertEqual(len(self.lines), 1)
        self.assertEqual(
            self.lines[0],
            f"os._exit(7) called while running call mod.fn from node a@b, at {__file__}:{line_no} "
            "in test_logs_the_request_then_exits_with_the_same_status; the process exits with status 7")

    def test_outside_a_request_names_the_thread(self):
        self.running = None
        self.wrapped()(0)
        self.assertEqual(self.exits, [0])
        self.assertIn("os._exit(0) called in thread MainThread, outside any request, at ", self.lines[0])

    def test_a_forked_child_exits_silently(self):
        self.wrapped(pid=os.getpid() + 1)(3)
        self.assertEqual(self.exits, [3])
        self.assertEqual(self.lines, [])

    def test_a_failing_log_does_not_stop_the_exit(self):
        def broken(_text):
            raise OSError("stderr closed")
        os_exit.wrap(self.exits.append, broken, lambda: self.running, os.getpid())(5)
        self.assertEqual(self.exits, [5])

    def test_a_status_that_is_not_an_integer_goes_to_os_exit_as_is(self):
        self.wrapped()("x")
        self.assertEqual(self.exits, ["x"])  # the real os._exit raises TypeError
        self.assertEqual(self.lines, [])

    def test_keeps_the_name_and_the_original(self):
        wrapped = os_exit.wrap(os._exit, self.lines.append, lambda: None, os.getpid())
        self.assertEqual(wrapped.__name__, "_exit")
        self.assertIs(wrapped.__wrapped__, os._exit)

    def test_install_needs_pycnode(self):
        if os_exit._pycnode is None:
            with self.assertRaises(RuntimeError):
                os_exit.install()


if __name__ == "__main__":
    unittest.main()
