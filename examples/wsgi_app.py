"""A Flask app that `make run` serves through pycnode_httpd at /wsgi.

Nothing in it is pycnode-specific: pycnode runs it as any WSGI server would,
with SCRIPT_NAME set to the prefix it is mounted at (/wsgi), so the routes
below are written relative to it and `url_for` includes the prefix.

    curl -s localhost:8080/wsgi/
    curl -s 'localhost:8080/wsgi/hello/erlang?lang=fr'
    curl -s -X POST -H 'content-type: application/json' \\
         -d '{"numbers": [1, 2, 3.5]}' localhost:8080/wsgi/sum
"""

import platform

from flask import Flask, jsonify, request, url_for

app = Flask(__name__)

GREETINGS = {"en": "Hello", "fr": "Bonjour", "de": "Hallo", "es": "Hola"}


@app.get("/")
def index():
    return (f"Hello from Flask on Python {platform.python_version()}, "
            f"served by pycnode at {request.url}\n",
            200, {"Content-Type": "text/plain; charset=utf-8"})


@app.get("/hello/<name>")
def hello(name):
    """A path parameter and the query string."""
    lang = request.args.get("lang", "en")
    greeting = GREETINGS.get(lang)
    if greeting is None:
        return jsonify(error=f"unknown language {lang}", known=sorted(GREETINGS)), 404
    return jsonify(greeting=f"{greeting}, {name}!", lang=lang,
                   url=url_for("hello", name=name, _external=True))


@app.post("/sum")
def total():
    """A JSON request body."""
    data = request.get_json(silent=True)
    numbers = data.get("numbers") if isinstance(data, dict) else None
    if not isinstance(numbers, list) or not all(isinstance(n, (int, float)) for n in numbers):
        return jsonify(error='expected JSON {"numbers": [...]}'), 422
    return jsonify(count=len(numbers), sum=sum(numbers))


@app.route("/request", methods=["GET", "POST"])
def show_request():
    """What the app sees of the request: useful to check the gateway."""
    return jsonify(method=request.method, url=request.url,
                   script_root=request.script_root, path=request.path,
                   query=request.args.to_dict(), headers=dict(request.headers),
                   remote_addr=request.remote_addr,
                   body_length=len(request.get_data()))
