"""Flask JSON endpoint for `make bench` (pycnode WSGI and gunicorn)."""

import sys

# pycnode's free-threaded build (CPython 3.13t, built from source) sees
# Debian's packages only when told, after its own standard library, as the
# tests do (docs/free-threaded.md); Debian's python3 has them already.
if "/usr/lib/python3/dist-packages" not in sys.path:
    sys.path.append("/usr/lib/python3/dist-packages")

from flask import Flask, jsonify  # noqa: E402

app = Flask(__name__)


@app.route("/")
def hello():
    return jsonify(hello="world")
