"""The framework test app for Bottle (WSGI): ``bottle_app:app``.

Bottle gives form and query values as latin-1 "native strings"; .decode()
turns them into the UTF-8 text that was sent. Bottle answers HEAD on GET
routes and drops the body itself.
"""

import hashlib

import bottle

app = bottle.Bottle(catchall=True)
bottle.debug(False)

PATTERN = bytes(range(251))  # period 251: never aligned with power-of-two chunks
ECHOED_HEADERS = ("x-custom", "x-multi", "user-agent", "accept-language", "x-latin1")


def pattern(size):
    return (PATTERN * (size // len(PATTERN) + 1))[:size]


@app.get("/items/<item_id>")
def item(item_id):
    return {"item_id": item_id}


@app.get("/ünïcode")
def unicode_route():
    bottle.response.content_type = "text/plain; charset=utf-8"
    return "ünïcode ✓"


@app.get("/query")
def query():
    params = bottle.request.query.decode()
    return {key: params.getall(key) for key in params}


@app.post("/echo/json")
def echo_json():
    return bottle.request.json


@app.post("/echo/form")
def echo_form():
    form = bottle.request.forms.decode()
    return {key: form.getall(key) for key in form}


@app.post("/echo/bytes")
def echo_bytes():
    bottle.response.content_type = "application/octet-stream"
    return bottle.request.body.read()


@app.post("/upload")
def upload():
    data = bottle.request.body.read()
    return {"length": len(data), "sha256": hashlib.sha256(data).hexdigest()}


@app.get("/download/<size:int>")
def download(size):
    bottle.response.content_type = "application/octet-stream"
    return pattern(size)


@app.get("/stream/<size:int>")
def stream(size):
    bottle.response.content_type = "application/octet-stream"
    data = pattern(size)
    for start in range(0, size, 65536):
        yield data[start:start + 65536]


@app.get("/headers/many")
def many_headers():
    bottle.response.content_type = "text/plain; charset=utf-8"
    for i in range(100):
        bottle.response.set_header(f"X-H-{i:03d}", f"v{i:03d}")
    bottle.response.set_cookie("a", "1")
    bottle.response.set_cookie("b", "2")
    bottle.response.add_header("X-Dup", "one")
    bottle.response.add_header("X-Dup", "two")
    return "many"


@app.get("/nocontent")
def nocontent():
    bottle.response.status = 204
    return ""


@app.get("/etag")
def etag():
    bottle.response.set_header("ETag", '"v1"')
    if bottle.request.get_header("If-None-Match") == '"v1"':
        bottle.response.status = 304
        return ""
    return "fresh"


@app.get("/error")
def error():
    raise RuntimeError("boom (an application error)")


@app.get("/cookies")
def cookies():
    received = {key: bottle.request.get_cookie(key) for key in bottle.request.cookies}
    bottle.response.set_cookie("visited", "yes")
    bottle.response.set_cookie("token", "xyz", httponly=True)
    return received


@app.get("/echo/headers")
def echo_headers():
    # Under WSGI repeated request headers arrive folded into one value.
    headers = bottle.request.headers
    return {name: [headers[name]] if name in headers else [] for name in ECHOED_HEADERS}
