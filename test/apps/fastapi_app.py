"""The framework test app for FastAPI (ASGI): ``fastapi_app:app``.

FastAPI's @app.get answers GET only, so the routes that the tests also
request with HEAD are declared with api_route(methods=["GET", "HEAD"]).
"""

import hashlib

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

PATTERN = bytes(range(251))  # period 251: never aligned with power-of-two chunks
ECHOED_HEADERS = ("x-custom", "x-multi", "user-agent", "accept-language", "x-latin1")

app = FastAPI(debug=False, openapi_url=None, docs_url=None, redoc_url=None)


def pattern(size):
    return (PATTERN * (size // len(PATTERN) + 1))[:size]


@app.api_route("/items/{item_id}", methods=["GET", "HEAD"])
async def item(item_id: str):
    return {"item_id": item_id}


@app.get("/ünïcode", response_class=PlainTextResponse)
async def unicode_route():
    return "ünïcode ✓"


@app.get("/query")
async def query(request: Request):
    params = request.query_params
    return {key: params.getlist(key) for key in params}


@app.post("/echo/json")
async def echo_json(request: Request):
    return await request.json()


@app.post("/echo/form")
async def echo_form(request: Request):
    form = await request.form()
    return {key: form.getlist(key) for key in form}


@app.post("/echo/bytes")
async def echo_bytes(request: Request):
    return Response(await request.body(), media_type="application/octet-stream")


@app.post("/upload")
async def upload(request: Request):
    data = await request.body()
    return {"length": len(data), "sha256": hashlib.sha256(data).hexdigest()}


@app.get("/download/{size}")
async def download(size: int):
    return Response(pattern(size), media_type="application/octet-stream")


@app.get("/stream/{size}")
async def stream(size: int):
    async def chunks():
        data = pattern(size)
        for start in range(0, size, 65536):
            yield data[start:start + 65536]

    return StreamingResponse(chunks(), media_type="application/octet-stream")


@app.get("/headers/many")
async def many_headers():
    response = PlainTextResponse("many", headers={f"x-h-{i:03d}": f"v{i:03d}" for i in range(100)})
    response.set_cookie("a", "1")
    response.set_cookie("b", "2")
    response.headers.append("x-dup", "one")
    response.headers.append("x-dup", "two")
    return response


@app.get("/nocontent", status_code=204)
async def nocontent():
    return Response(status_code=204)


@app.get("/etag")
async def etag(request: Request):
    if request.headers.get("if-none-match") == '"v1"':
        return Response(status_code=304, headers={"etag": '"v1"'})
    return PlainTextResponse("fresh", headers={"etag": '"v1"'})


@app.get("/error")
async def error():
    raise RuntimeError("boom (an application error)")


@app.get("/cookies")
async def cookies(request: Request):
    response = JSONResponse(request.cookies)
    response.set_cookie("visited", "yes")
    response.set_cookie("token", "xyz", httponly=True)
    return response


@app.get("/echo/headers")
async def echo_headers(request: Request):
    return {name: request.headers.getlist(name) for name in ECHOED_HEADERS}
