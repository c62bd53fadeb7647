"""The application's own middleware (:mod:`gutaxis.service.app`)."""

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from gutaxis.service.app import SecurityHeaders


def _plain(request):
    return PlainTextResponse("page")


def _own_policy(request):
    return PlainTextResponse("report", headers={"Content-Security-Policy": "sandbox",
                                                "Cache-Control": "max-age=60"})


def _client():
    app = Starlette(routes=[Route("/page", _plain), Route("/report", _own_policy),
                            Route("/static/app.css", _plain)])
    app.add_middleware(SecurityHeaders)
    return TestClient(app)


def test_every_answer_gets_the_headers_and_pages_are_not_stored():
    answer = _client().get("/page")
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "SAMEORIGIN"
    assert answer.headers["referrer-policy"] == "same-origin"
    assert answer.headers["content-security-policy"].startswith("default-src 'self';")
    assert answer.headers["cache-control"] == "no-store"
    assert answer.text == "page"


def test_a_header_the_route_set_is_kept_and_not_repeated():
    answer = _client().get("/report")
    assert answer.headers.get_list("content-security-policy") == ["sandbox"]
    assert answer.headers.get_list("cache-control") == ["max-age=60"]
    assert answer.headers["x-frame-options"] == "SAMEORIGIN"


def test_static_files_may_be_cached():
    answer = _client().get("/static/app.css")
    assert "cache-control" not in answer.headers
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_an_unexpected_error_answers_500_with_the_headers_too(app):
    # the 500 is made outside the middleware (Starlette's ServerErrorMiddleware)
    def fails():
        raise RuntimeError("a bug")

    app.add_api_route("/test-fails", fails)
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/test-fails")
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "internal"
    assert "a bug" not in answer.text
    assert answer.headers["x-frame-options"] == "SAMEORIGIN"
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers.get_list("content-security-policy") == [
        answer.headers["content-security-policy"]]
