"""A Starlette app that `make run` serves through pycnode_httpd at /asgi.

Nothing in it is pycnode-specific: pycnode runs it as any ASGI server would,
with `root_path` set to the prefix it is mounted at (/asgi), so the routes
below are written relative to it and `request.url` is the full URL.

    curl -s localhost:8080/asgi/
    curl -s 'localhost:8080/asgi/items/42?q=x'
    curl -s -X POST -H 'content-type: application/json' \\
         -d '{"name": "widget", "price": 9.5}' localhost:8080/asgi/items
"""

import platform

from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

ITEMS = {42: {"name": "the answer", "price": 42.0}}


async def homepage(request):
    return PlainTextResponse(
        f"Hello from Starlette on Python {platform.python_version()}, "
        f"served by pycnode at {request.url}\n"
    )


async def read_item(request):
    """A path parameter (converted to int by the route) and the query string."""
    item_id = request.path_params["item_id"]
    item = ITEMS.get(item_id)
    if item is None:
        return JSONResponse({"error": f"no item {item_id}"}, status_code=404)
    return JSONResponse({"item_id": item_id, "q": request.query_params.get("q"), **item})


async def create_item(request):
    """A JSON request body; answers 201 with the stored item."""
    try:
        data = await request.json()
        item = {"name": str(data["name"]), "price": float(data["price"])}
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": "expected JSON with name and price"}, status_code=422)
    item_id = max(ITEMS) + 1
    ITEMS[item_id] = item
    return JSONResponse({"item_id": item_id, **item}, status_code=201,
                        headers={"location": str(request.url_for("read_item", item_id=item_id))})


async def show_request(request):
    """What the app sees of the request: useful to check the gateway."""
    return JSONResponse({
        "method": request.method,
        "url": str(request.url),
        "root_path": request.scope.get("root_path"),
        "path": request.url.path,
        "query": dict(request.query_params),
        "headers": dict(request.headers),
        "client": list(request.client) if request.client else None,
    })


app = Starlette(routes=[
    Route("/", homepage),
    Route("/items/{item_id:int}", read_item, name="read_item"),
    Route("/items", create_item, methods=["POST"]),
    Route("/request", show_request, methods=["GET", "POST"]),
])
