"""Unit tests of pyrunner.embedding (pure Python: no pycnode needed)."""

import os
import sys
import unittest
from unittest import mock

import _path  # noqa: F401  (sys.path set-up)
from pyrunner import embedding


class InstallationPythonTest(unittest.TestCase):
    def test_names_an_executable_of_this_version(self):
        python = embedding.installation_python()
        if python is None:
            self.skipTest("this installation has no python binary in BINDIR")
        self.assertTrue(os.access(python, os.X_OK))
        self.assertIn(f"python{sys.version_info[0]}.{sys.version_info[1]}", os.path.basename(python))

    def test_none_when_missing(self):
        with mock.patch("sysconfig.get_config_var", return_value=None):
            self.assertIsNone(embedding.installation_python())


class FixSysExecutableTest(unittest.TestCase):
    def setUp(self):
        self.saved = sys.executable, getattr(sys, "_base_executable", None)

    def tearDown(self):
        sys.executable, sys._base_executable = self.saved

    def test_points_at_the_installation_python(self):
        with mock.patch.object(embedding, "installation_python", return_value="/opt/py/bin/python3.11"), \
                mock.patch.object(sys, "prefix", "/opt/py"), mock.patch.object(sys, "base_prefix", "/opt/py"):
            self.assertEqual(embedding.fix_sys_executable(), "/opt/py/bin/python3.11")
            self.assertEqual(sys._base_executable, "/opt/py/bin/python3.11")

    def test_leaves_a_virtual_environment_alone(self):
        before = sys.executable
        with mock.patch.object(embedding, "installation_python", return_value="/opt/py/bin/python3.11"), \
                mock.patch.object(sys, "prefix", "/home/u/venv"), mock.patch.object(sys, "base_prefix", "/opt/py"):
            self.assertEqual(embedding.fix_sys_executable(), before)


if __name__ == "__main__":
    unittest.main()
