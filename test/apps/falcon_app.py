"""The framework test app for Falcon: ``falcon_app:app`` (WSGI,
falcon.App) and ``falcon_app:asgi_app`` (ASGI, falcon.asgi.App), with the
same routes. Falcon routes HEAD to on_head only, so the item resource has
one; Falcon drops the body of a HEAD response itself.
"""

import hashlib

import falcon
import falcon.asgi

PATTERN = bytes(range(251))  # period 251: never aligned with power-of-two chunks
ECHOED_HEADERS = ("x-custom", "x-multi", "user-agent", "accept-language", "x-latin1")


def pattern(size):
    return (PATTERN * (size // len(PATTERN) + 1))[:size]


def as_lists(params):
    return {key: value if isinstance(value, list) else [value] for key, value in params.items()}


def many_headers(resp):
    resp.content_type = falcon.MEDIA_TEXT
    resp.text = "many"
    for i in range(100):
        resp.set_header(f"X-H-{i:03d}", f"v{i:03d}")
    resp.set_cookie("a", "1")
    resp.set_cookie("b", "2")
    resp.append_header("X-Dup", "one")
    resp.append_header("X-Dup", "two")  # Falcon folds it: "one, two"


def etag(req, resp):
    resp.etag = '"v1"'
    if req.get_header("If-None-Match") == '"v1"':
        resp.status = falcon.HTTP_304
    else:
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = "fresh"


def cookies(req, resp):
    resp.media = req.cookies
    resp.set_cookie("visited", "yes")
    resp.set_cookie("token", "xyz", http_only=True)


def echo_headers(req):
    # Falcon folds repeated request headers into one value.
    return {name: [req.get_header(name)] if req.get_header(name) is not None else [] for name in ECHOED_HEADERS}


def uploaded(data):
    return {"length": len(data), "sha256": hashlib.sha256(data).hexdigest()}


# --- WSGI --------------------------------------------------------------------


class Item:
    def on_get(self, req, resp, item_id):
        resp.media = {"item_id": item_id}

    on_head = on_get


class Unicode:
    def on_get(self, req, resp):
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = "ünïcode ✓"


class Query:
    def on_get(self, req, resp):
        resp.media = as_lists(req.params)


class EchoJson:
    def on_post(self, req, resp):
        resp.media = req.get_media()


class EchoForm:
    def on_post(self, req, resp):
        resp.media = as_lists(req.get_media())


class EchoBytes:
    def on_post(self, req, resp):
        resp.content_type = "application/octet-stream"
        resp.data = req.bounded_stream.read()


class Upload:
    def on_post(self, req, resp):
        resp.media = uploaded(req.bounded_stream.read())


class Download:
    def on_get(self, req, resp, size):
        resp.content_type = "application/octet-stream"
        resp.data = pattern(size)


class Stream:
    def on_get(self, req, resp, size):
        def chunks():
            data = pattern(size)
            for start in range(0, size, 65536):
                yield data[start:start + 65536]

        resp.content_type = "application/octet-stream"
        resp.stream = chunks()


class ManyHeaders:
    def on_get(self, req, resp):
        many_headers(resp)


class NoContent:
    def on_get(self, req, resp):
        resp.status = falcon.HTTP_204


class ETag:
    def on_get(self, req, resp):
        etag(req, resp)


class Error:
    def on_get(self, req, resp):
        raise RuntimeError("boom (an application error)")


class Cookies:
    def on_get(self, req, resp):
        cookies(req, resp)


class EchoHeaders:
    def on_get(self, req, resp):
        resp.media = echo_headers(req)


# --- ASGI --------------------------------------------------------------------


class AsyncItem:
    async def on_get(self, req, resp, item_id):
        resp.media = {"item_id": item_id}

    on_head = on_get


class AsyncUnicode:
    async def on_get(self, req, resp):
        Unicode().on_get(req, resp)


class AsyncQuery:
    async def on_get(self, req, resp):
        resp.media = as_lists(req.params)


class AsyncEchoJson:
    async def on_post(self, req, resp):
        resp.media = await req.get_media()


class AsyncEchoForm:
    async def on_post(self, req, resp):
        resp.media = as_lists(await req.get_media())


class AsyncEchoBytes:
    async def on_post(self, req, resp):
        resp.content_type = "application/octet-stream"
        resp.data = await req.stream.read()


class AsyncUpload:
    async def on_post(self, req, resp):
        resp.media = uploaded(await req.stream.read())


class AsyncDownload:
    async def on_get(self, req, resp, size):
        resp.content_type = "application/octet-stream"
        resp.data = pattern(size)


class AsyncStream:
    async def on_get(self, req, resp, size):
        async def chunks():
            data = pattern(size)
            for start in range(0, size, 65536):
                yield data[start:start + 65536]

        resp.content_type = "application/octet-stream"
        resp.stream = chunks()


class AsyncManyHeaders:
    async def on_get(self, req, resp):
        many_headers(resp)


class AsyncNoContent:
    async def on_get(self, req, resp):
        resp.status = falcon.HTTP_204


class AsyncETag:
    async def on_get(self, req, resp):
        etag(req, resp)


class AsyncError:
    async def on_get(self, req, resp):
        raise RuntimeError("boom (an application error)")


class AsyncCookies:
    async def on_get(self, req, resp):
        cookies(req, resp)


class AsyncEchoHeaders:
    async def on_get(self, req, resp):
        resp.media = echo_headers(req)


def add_routes(application, resources):
    routes = ["/items/{item_id}", "/ünïcode", "/query", "/echo/json", "/echo/form", "/echo/bytes", "/upload",
              "/download/{size:int}", "/stream/{size:int}", "/headers/many", "/nocontent", "/etag", "/error",
              "/cookies", "/echo/headers"]
    for route, resource in zip(routes, resources, strict=True):
        application.add_route(route, resource())
    return application


app = add_routes(falcon.App(), [Item, Unicode, Query, EchoJson, EchoForm, EchoBytes, Upload, Download, Stream,
                                ManyHeaders, NoContent, ETag, Error, Cookies, EchoHeaders])
asgi_app = add_routes(falcon.asgi.App(), [AsyncItem, AsyncUnicode, AsyncQuery, AsyncEchoJson, AsyncEchoForm,
                                          AsyncEchoBytes, AsyncUpload, AsyncDownload, AsyncStream, AsyncManyHeaders,
                                          AsyncNoContent, AsyncETag, AsyncError, AsyncCookies, AsyncEchoHeaders])
