"""The framework test app for Flask (WSGI): ``flask_app:app``.

Every app under test/apps serves the same routes (see reference.py for the
list); pycnode_frameworks_tests.erl runs each one through pycnode and through
the framework's own test tooling and compares the two.
"""

import hashlib

from flask import Flask, Response, jsonify, request

app = Flask(__name__)
app.config.update(DEBUG=False, TESTING=False, PROPAGATE_EXCEPTIONS=False)

PATTERN = bytes(range(251))  # period 251: never aligned with power-of-two chunks
ECHOED_HEADERS = ("x-custom", "x-multi", "user-agent", "accept-language", "x-latin1")


def pattern(size):
    return (PATTERN * (size // len(PATTERN) + 1))[:size]


@app.get("/items/<item_id>")
def item(item_id):
    return jsonify(item_id=item_id)


@app.get("/ünïcode")
def unicode_route():
    return Response("ünïcode ✓", mimetype="text/plain")


@app.get("/query")
def query():
    return jsonify({key: request.args.getlist(key) for key in request.args})


@app.post("/echo/json")
def echo_json():
    return jsonify(request.get_json())


@app.post("/echo/form")
def echo_form():
    return jsonify({key: request.form.getlist(key) for key in request.form})


@app.post("/echo/bytes")
def echo_bytes():
    return Response(request.get_data(), mimetype="application/octet-stream")


@app.post("/upload")
def upload():
    data = request.get_data()
    return jsonify(length=len(data), sha256=hashlib.sha256(data).hexdigest())


@app.get("/download/<int:size>")
def download(size):
    return Response(pattern(size), mimetype="application/octet-stream")


@app.get("/stream/<int:size>")
def stream(size):
    def chunks():
        data = pattern(size)
        for start in range(0, size, 65536):
            yield data[start:start + 65536]

    return Response(chunks(), mimetype="application/octet-stream")


@app.get("/headers/many")
def many_headers():
    response = Response("many", mimetype="text/plain")
    for i in range(100):
        response.headers[f"X-H-{i:03d}"] = f"v{i:03d}"
    response.set_cookie("a", "1")
    response.set_cookie("b", "2")
    response.headers.add("X-Dup", "one")
    response.headers.add("X-Dup", "two")
    return response


@app.get("/nocontent")
def nocontent():
    return "", 204


@app.get("/etag")
def etag():
    if request.headers.get("If-None-Match") == '"v1"':
        return "", 304, {"ETag": '"v1"'}
    return "fresh", 200, {"ETag": '"v1"'}


@app.get("/error")
def error():
    raise RuntimeError("boom (an application error)")


@app.get("/cookies")
def cookies():
    response = jsonify(request.cookies.to_dict())
    response.set_cookie("visited", "yes")
    response.set_cookie("token", "xyz", httponly=True)
    return response


@app.get("/echo/headers")
def echo_headers():
    return jsonify({name: request.headers.getlist(name) for name in ECHOED_HEADERS})
