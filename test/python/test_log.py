"""Unit tests of pyrunner.log (pure Python: the handler is given a fake sink)."""

import logging
import unittest

import _path  # noqa: F401  (sys.path set-up)
from pyrunner import log as pylog


class PycnodeLevelTest(unittest.TestCase):
    def test_levels(self):
        self.assertEqual(pylog.pycnode_level(logging.DEBUG), 0)
        self.assertEqual(pylog.pycnode_level(5), 0)
        self.assertEqual(pylog.pycnode_level(logging.INFO), 1)
        self.assertEqual(pylog.pycnode_level(logging.WARNING), 2)
        self.assertEqual(pylog.pycnode_level(logging.ERROR), 3)
        self.assertEqual(pylog.pycnode_level(logging.CRITICAL), 3)


class HandlerTest(unittest.TestCase):
    def setUp(self):
        self.lines = []
        self.logger = logging.getLogger("pyrunner.test.handler")
        self.logger.propagate = False
        self.logger.setLevel(logging.DEBUG)
        self.handler = pylog.PycnodeHandler(sink=lambda level, text: self.lines.append((level, text)))
        self.logger.addHandler(self.handler)

    def tearDown(self):
        self.logger.removeHandler(self.handler)

    def test_forwards_level_and_logger_name(self):
        self.logger.warning("disk %s", "full")
        self.assertEqual(self.lines, [(2, "pyrunner.test.handler: disk full")])

    def test_includes_exception_text(self):
        try:
            raise KeyError("k")
        except KeyError:
            self.logger.exception("failed")
        level, text = self.lines[0]
        self.assertEqual(level, 3)
        self.assertIn("failed", text)
        self.assertIn("KeyError: 'k'", text)

    def test_sink_failure_does_not_raise(self):
        def broken(level, text):
            raise OSError("sink gone")
        self.handler._sink = broken
        previous, logging.raiseExceptions = logging.raiseExceptions, False
        try:
            self.logger.error("still fine")
        finally:
            logging.raiseExceptions = previous


class OutsidePycnodeTest(unittest.TestCase):
    def test_nothing_installed_without_pycnode(self):
        if pylog._pycnode is not None:
            self.skipTest("running inside pycnode")
        root = logging.getLogger()
        self.assertFalse(any(isinstance(h, pylog.PycnodeHandler) for h in root.handlers))
        with self.assertRaises(RuntimeError):
            pylog.install()


if __name__ == "__main__":
    unittest.main()
