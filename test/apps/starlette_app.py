"""The framework test app for Starlette (ASGI): ``starlette_app:app``.

With debug off, Starlette's ServerErrorMiddleware answers an exception with
a plain 500 and then re-raises it to the server, as Starlette does under any
server.
"""

import hashlib

from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

PATTERN = bytes(range(251))  # period 251: never aligned with power-of-two chunks
ECHOED_HEADERS = ("x-custom", "x-multi", "user-agent", "accept-language", "x-latin1")


def pattern(size):
    return (PATTERN * (size // len(PATTERN) + 1))[:size]


async def item(request):
    return JSONResponse({"item_id": request.path_params["item_id"]})


async def unicode_route(request):
    return PlainTextResponse("ünïcode ✓")


async def query(request):
    params = request.query_params
    return JSONResponse({key: params.getlist(key) for key in params})


async def echo_json(request):
    return JSONResponse(await request.json())


async def echo_form(request):
    form = await request.form()
    return JSONResponse({key: form.getlist(key) for key in form})


async def echo_bytes(request):
    return Response(await request.body(), media_type="application/octet-stream")


async def upload(request):
    data = await request.body()
    return JSONResponse({"length": len(data), "sha256": hashlib.sha256(data).hexdigest()})


async def download(request):
    return Response(pattern(request.path_params["size"]), media_type="application/octet-stream")


async def stream(request):
    size = request.path_params["size"]

    async def chunks():
        data = pattern(size)
        for start in range(0, size, 65536):
            yield data[start:start + 65536]

    return StreamingResponse(chunks(), media_type="application/octet-stream")


async def many_headers(request):
    response = PlainTextResponse("many", headers={f"x-h-{i:03d}": f"v{i:03d}" for i in range(100)})
    response.set_cookie("a", "1")
    response.set_cookie("b", "2")
    response.headers.append("x-dup", "one")
    response.headers.append("x-dup", "two")
    return response


async def nocontent(request):
    return Response(status_code=204)


async def etag(request):
    if request.headers.get("if-none-match") == '"v1"':
        return Response(status_code=304, headers={"etag": '"v1"'})
    return PlainTextResponse("fresh", headers={"etag": '"v1"'})


async def error(request):
    raise RuntimeError("boom (an application error)")


async def cookies(request):
    response = JSONResponse(request.cookies)
    response.set_cookie("visited", "yes")
    response.set_cookie("token", "xyz", httponly=True)
    return response


async def echo_headers(request):
    return JSONResponse({name: request.headers.getlist(name) for name in ECHOED_HEADERS})


app = Starlette(
    debug=False,
    routes=[
        Route("/items/{item_id}", item),
        Route("/ünïcode", unicode_route),
        Route("/query", query),
        Route("/echo/json", echo_json, methods=["POST"]),
        Route("/echo/form", echo_form, methods=["POST"]),
        Route("/echo/bytes", echo_bytes, methods=["POST"]),
        Route("/upload", upload, methods=["POST"]),
        Route("/download/{size:int}", download),
        Route("/stream/{size:int}", stream),
        Route("/headers/many", many_headers),
        Route("/nocontent", nocontent),
        Route("/etag", etag),
        Route("/error", error),
        Route("/cookies", cookies),
        Route("/echo/headers", echo_headers),
    ],
)
