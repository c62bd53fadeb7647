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


def test_a_body_over_the_limit_is_refused_before_any_route_reads_it(client, ctx):
    # sign-in parsed a form of any size before anyone was known: 600 fields of 1 MiB took
    # the server from 195 to 794 MiB; a file part was spooled to disk whole
    from builders.practice import bearer, make_user
    from gutaxis.service.app import MAX_BODY_BYTES

    big = "x" * (MAX_BODY_BYTES + 1)
    page = client.post("/login", data={"email": big, "password": "p"},
                       headers={"Accept": "text/html"})
    assert page.status_code == 413 and "larger than this server takes" in page.text
    assert page.headers["x-content-type-options"] == "nosniff"  # the headers still come
    api = client.post("/api/v1/session", json={"email": big, "password": "p"})
    assert api.status_code == 413
    assert api.json()["error"] == {"status": 413, "code": "too_large", "fields": [],
                                   "message": api.json()["error"]["message"]}

    def pieces():  # no Content-Length: counted as it arrives
        for _ in range(3):
            yield b"x" * (MAX_BODY_BYTES // 2)

    chunked = client.post("/api/v1/session", content=pieces(),
                          headers={"Content-Type": "application/json"})
    assert chunked.status_code == 413
    # the routes that stream files keep their own limit
    make_user(ctx, "A", "a@a.example")
    auth = bearer(client, "a@a.example")
    pid = client.post("/api/v1/patients", json={"name": "P"}, headers=auth).json()["id"]
    vid = client.post(f"/api/v1/patients/{pid}/visits", json={"visit_date": "2024-01-01"},
                      headers=auth).json()["id"]
    upload = client.post(f"/api/v1/visits/{vid}/uploads", data={"kind": "labs"}, headers=auth,
                         files={"file": ("LABS.csv", b"sample_id,marker,value,unit\n"
                                         + b"#" * (2 * MAX_BODY_BYTES))})
    assert upload.status_code == 202, upload.text
    # and a small body is untouched
    assert client.post("/api/v1/patients", json={"name": "Q"}, headers=auth).status_code == 201


def test_a_chunked_body_that_also_claims_a_small_length_is_counted():
    # h11 frames such a body by its chunks and still hands the claimed length on
    import asyncio
    import threading

    from gutaxis.service.app import MAX_BODY_BYTES, BodyLimit

    seen: list[int] = []

    async def route(scope, receive, send):
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        seen.append(len(body))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    chunk = b"x" * (MAX_BODY_BYTES // 2)
    messages = [{"type": "http.request", "body": chunk, "more_body": True}] * 3 + [
        {"type": "http.request", "body": b"", "more_body": False}]
    answers: list[dict] = []

    async def receive():
        return messages.pop(0)

    async def send(message):
        answers.append(message)

    scope = {"type": "http", "method": "POST", "path": "/login", "headers": [
        (b"content-length", b"5"), (b"transfer-encoding", b"chunked")]}
    # in a thread of its own: the suite's browser tests leave an event loop in this one
    worker = threading.Thread(target=asyncio.run, args=(BodyLimit(route)(scope, receive, send),))
    worker.start()
    worker.join()
    assert answers[0]["status"] == 413 and seen == []
