"""Starlette JSON endpoint for `make bench` (pycnode ASGI and uvicorn)."""

import sys

# pycnode's free-threaded build (CPython 3.13t, built from source) sees
# Debian's packages only when told, after its own standard library, as the
# tests do (docs/free-threaded.md); Debian's python3 has them already.
if "/usr/lib/python3/dist-packages" not in sys.path:
    sys.path.append("/usr/lib/python3/dist-packages")

from starlette.applications import Starlette  # noqa: E402
from starlette.responses import JSONResponse
from starlette.routing import Route


async def hello(request):
    return JSONResponse({"hello": "world"})


app = Starlette(routes=[Route("/", hello)])
