"""The framework test app for Django, configured in code: no project
directory, ROOT_URLCONF is this module. ``django_app:application`` (WSGI)
and ``django_app:asgi_application`` (ASGI) serve the same views.

Django keeps one value per response header name, so /headers/many sends
X-Dup once as "one, two" (its only way to say it); its two Set-Cookie
headers come from response.cookies.
"""

import hashlib
import json

from django.conf import settings

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    SECRET_KEY="pycnode-frameworks-test-only",
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    TEMPLATES=[],
    USE_TZ=True,
    # The 10 MiB upload: Django refuses bodies over 2.5 MB by default.
    DATA_UPLOAD_MAX_MEMORY_SIZE=32 * 1024 * 1024,
)

import django  # noqa: E402

django.setup()

from django.core.asgi import get_asgi_application  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import (  # noqa: E402
    HttpResponse,
    HttpResponseNotModified,
    JsonResponse,
    StreamingHttpResponse,
)
from django.urls import path  # noqa: E402
from django.views.decorators.http import require_POST, require_safe  # noqa: E402

PATTERN = bytes(range(251))  # period 251: never aligned with power-of-two chunks
ECHOED_HEADERS = ("x-custom", "x-multi", "user-agent", "accept-language", "x-latin1")


def pattern(size):
    return (PATTERN * (size // len(PATTERN) + 1))[:size]


@require_safe
def item(request, item_id):
    return JsonResponse({"item_id": item_id})


@require_safe
def unicode_route(request):
    return HttpResponse("ünïcode ✓", content_type="text/plain; charset=utf-8")


@require_safe
def query(request):
    return JsonResponse({key: request.GET.getlist(key) for key in request.GET})


@require_POST
def echo_json(request):
    return JsonResponse(json.loads(request.body), safe=False)


@require_POST
def echo_form(request):
    return JsonResponse({key: request.POST.getlist(key) for key in request.POST})


@require_POST
def echo_bytes(request):
    return HttpResponse(request.body, content_type="application/octet-stream")


@require_POST
def upload(request):
    data = request.body
    return JsonResponse({"length": len(data), "sha256": hashlib.sha256(data).hexdigest()})


@require_safe
def download(request, size):
    return HttpResponse(pattern(size), content_type="application/octet-stream")


@require_safe
def stream(request, size):
    def chunks():
        data = pattern(size)
        for start in range(0, size, 65536):
            yield data[start:start + 65536]

    return StreamingHttpResponse(chunks(), content_type="application/octet-stream")


@require_safe
def many_headers(request):
    response = HttpResponse("many", content_type="text/plain; charset=utf-8")
    for i in range(100):
        response[f"X-H-{i:03d}"] = f"v{i:03d}"
    response.set_cookie("a", "1")
    response.set_cookie("b", "2")
    response["X-Dup"] = "one, two"
    return response


@require_safe
def nocontent(request):
    return HttpResponse(status=204)


@require_safe
def etag(request):
    if request.headers.get("If-None-Match") == '"v1"':
        response = HttpResponseNotModified()
    else:
        response = HttpResponse("fresh")
    response["ETag"] = '"v1"'
    return response


@require_safe
def error(request):
    raise RuntimeError("boom (an application error)")


@require_safe
def cookies(request):
    response = JsonResponse(request.COOKIES)
    response.set_cookie("visited", "yes")
    response.set_cookie("token", "xyz", httponly=True)
    return response


@require_safe
def echo_headers(request):
    # Django folds repeated request headers into one value (", " under WSGI
    # from the server, "," under its own ASGI handler).
    return JsonResponse({name: [request.headers[name]] if name in request.headers else []
                         for name in ECHOED_HEADERS})


urlpatterns = [
    path("items/<str:item_id>", item),
    path("ünïcode", unicode_route),
    path("query", query),
    path("echo/json", echo_json),
    path("echo/form", echo_form),
    path("echo/bytes", echo_bytes),
    path("upload", upload),
    path("download/<int:size>", download),
    path("stream/<int:size>", stream),
    path("headers/many", many_headers),
    path("nocontent", nocontent),
    path("etag", etag),
    path("error", error),
    path("cookies", cookies),
    path("echo/headers", echo_headers),
]

application = get_wsgi_application()
asgi_application = get_asgi_application()
