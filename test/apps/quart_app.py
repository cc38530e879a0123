"""The framework test app for Quart (ASGI): ``quart_app:app``."""

import hashlib

from quart import Quart, Response, jsonify, request

app = Quart(__name__)
app.config.update(DEBUG=False, TESTING=False, PROPAGATE_EXCEPTIONS=False,
                  MAX_CONTENT_LENGTH=32 * 1024 * 1024)

PATTERN = bytes(range(251))  # period 251: never aligned with power-of-two chunks
ECHOED_HEADERS = ("x-custom", "x-multi", "user-agent", "accept-language", "x-latin1")


def pattern(size):
    return (PATTERN * (size // len(PATTERN) + 1))[:size]


@app.get("/items/<item_id>")
async def item(item_id):
    return jsonify(item_id=item_id)


@app.get("/ünïcode")
async def unicode_route():
    return Response("ünïcode ✓", mimetype="text/plain")


@app.get("/query")
async def query():
    return jsonify({key: request.args.getlist(key) for key in request.args})


@app.post("/echo/json")
async def echo_json():
    return jsonify(await request.get_json())


@app.post("/echo/form")
async def echo_form():
    form = await request.form
    return jsonify({key: form.getlist(key) for key in form})


@app.post("/echo/bytes")
async def echo_bytes():
    return Response(await request.get_data(), mimetype="application/octet-stream")


@app.post("/upload")
async def upload():
    data = await request.get_data()
    return jsonify(length=len(data), sha256=hashlib.sha256(data).hexdigest())


@app.get("/download/<int:size>")
async def download(size):
    return Response(pattern(size), mimetype="application/octet-stream")


@app.get("/stream/<int:size>")
async def stream(size):
    async def chunks():
        data = pattern(size)
        for start in range(0, size, 65536):
            yield data[start:start + 65536]

    return Response(chunks(), mimetype="application/octet-stream")


@app.get("/headers/many")
async def many_headers():
    response = Response("many", mimetype="text/plain")
    for i in range(100):
        response.headers[f"X-H-{i:03d}"] = f"v{i:03d}"
    response.set_cookie("a", "1")
    response.set_cookie("b", "2")
    response.headers.add("X-Dup", "one")
    response.headers.add("X-Dup", "two")
    return response


@app.get("/nocontent")
async def nocontent():
    return "", 204


@app.get("/etag")
async def etag():
    if request.headers.get("If-None-Match") == '"v1"':
        return "", 304, {"ETag": '"v1"'}
    return "fresh", 200, {"ETag": '"v1"'}


@app.get("/error")
async def error():
    raise RuntimeError("boom (an application error)")


@app.get("/cookies")
async def cookies():
    response = jsonify(request.cookies.to_dict())
    response.set_cookie("visited", "yes")
    response.set_cookie("token", "xyz", httponly=True)
    return response


@app.get("/echo/headers")
async def echo_headers():
    return jsonify({name: request.headers.getlist(name) for name in ECHOED_HEADERS})
