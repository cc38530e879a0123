"""Puts the repository root first on sys.path, so the tests import this
checkout's pyrunner whatever the current directory is."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
