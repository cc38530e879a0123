"""The module `make run` calls from Erlang: plain Python functions, nothing
pycnode-specific. Any importable module works the same way."""

import platform
import statistics
import sys


def greet(name):
    """Returns a greeting built in Python; `name` arrives as bytes (an Erlang binary)."""
    return f"Hello, {name.decode()}, from Python {platform.python_version()}"


def describe(numbers):
    """Summary statistics of a list of numbers, as a dict (an Erlang map)."""
    return {
        "count": len(numbers),
        "mean": statistics.fmean(numbers),
        "stdev": statistics.pstdev(numbers),
        "max": max(numbers),
    }


def interpreter():
    """What runs these calls: version and whether the GIL is on."""
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    return (platform.python_version(), gil)
