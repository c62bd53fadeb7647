"""``create_app(settings)``: the practice application, built on demand (nothing at import).

The app migrates the database, makes sure the bundled controls reference is
there, starts the job worker (unless ``settings.run_worker`` is off), and
mounts the API (:mod:`.api`, :mod:`.portal_api`), the pages (:mod:`.pages`,
:mod:`.portal_pages`: the patient's portal) and the static files.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine, select
from sqlalchemy.exc import DataError, IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gutaxis._version import __version__
from gutaxis.exceptions import GutaxisError
from gutaxis.service.access import SecondFactorOwed
from gutaxis.service.context import AppContext, hold_sqlite_server
from gutaxis.service.db import is_sqlite, upgrade
from gutaxis.service.errors import Conflict, Invalid, ServiceError, as_service_error, error_body
from gutaxis.service.models import Job, Reference
from gutaxis.service.services.accounts import seal_stored_secrets, secrets_not_opening
from gutaxis.service.settings import Settings

__all__ = ["create_app", "create_app_from_environment", "prepare", "ensure_bundled_reference",
           "SETTINGS_ENV"]

logger = logging.getLogger(__name__)
#: Where ``gutaxis serve --workers N`` leaves its settings for the worker processes.
SETTINGS_ENV = "GUTAXIS_SERVE_SETTINGS"
STATIC = Path(__file__).parent / "static"
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' data:; "
                                "style-src 'self' 'unsafe-inline'; script-src 'self'; "
                                "frame-ancestors 'self'; form-action 'self'; base-uri 'none'"),
}
#: Pages and the API are never kept by a cache; /static may be.
_PAGE_HEADERS = {**_SECURITY_HEADERS, "Cache-Control": "no-store"}


def _raw(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(key.lower().encode("latin-1"), value.encode("latin-1"))
            for key, value in headers.items()]


#: As the ASGI answer carries them (lower-case names, bytes).
_RAW_STATIC, _RAW_PAGE = _raw(_SECURITY_HEADERS), _raw(_PAGE_HEADERS)


class SecurityHeaders:
    """ASGI middleware: the security headers on every answer, and ``no-store`` but for /static.

    A header the route set itself is kept.  An unexpected error's answer
    (500) is made outside all middleware; its handler adds the same headers.
    Written as plain ASGI (it edits the start of the answer as it passes)
    rather than as an ``http`` middleware, which runs each request in a task
    of its own with streams between the two: that cost about a millisecond of
    CPU a request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers to the answer's start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = _RAW_STATIC if scope["path"].startswith("/static") else _RAW_PAGE

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {key.lower() for key, _ in headers}
                headers += [(key, value) for key, value in extra if key not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


#: The most a request body may hold, but on the routes that stream files into the store
#: with their own limit: a form or a JSON body is a few kilobytes.  Checked before any
#: route reads it (sign-in included, before anyone is known): parsing a form held it in
#: memory or on disk whole (600 fields of 1 MiB took the server from 195 to 794 MiB).
MAX_BODY_BYTES = 1 << 20
#: The routes that stream their files (uploads, cohorts, questionnaire definitions).
STREAMED_PATHS = tuple(re.compile(p) for p in (
    r"/api/v1/visits/\d+/uploads", r"/visits/\d+/uploads", r"/api/v1/references",
    r"/references", r"/api/v1/questionnaires", r"/questionnaires"))


class BodyLimit:
    """ASGI middleware: a request body over :data:`MAX_BODY_BYTES` is answered 413, unread.

    By its ``Content-Length`` before the route runs; a body sent without one
    (chunked) is read here, up to the limit, before the route runs, so that a
    refused request has changed nothing.  The routes in :data:`STREAMED_PATHS` keep
    their own limits (``Settings.max_upload_bytes``, the definition size).
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or answer 413."""
        if scope["type"] != "http" or any(p.fullmatch(scope["path"]) for p in STREAMED_PATHS):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        declared = headers.get(b"content-length")
        if b"transfer-encoding" in headers:
            declared = None  # framed by the chunks, whatever length it also claims (h11)
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(scope, send)
            return
        if declared is not None or b"transfer-encoding" not in headers:
            # the server holds the body to its declared length; without either header
            # there is no body (a GET, the pages' hot path): nothing to count
            await self.app(scope, receive, send)
            return
        # chunked: read it here, up to the limit, before the route runs, so that a refused
        # body has changed nothing
        messages: list[Message] = []
        received = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            received += len(message.get("body", b""))
            if received > self.limit:
                await self._refuse(scope, send)
                return
            if not message.get("more_body", False):
                break

        async def replayed() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replayed, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        message = (f"the request's body is larger than this server takes outside file uploads "
                   f"({self.limit // 1024} KiB)")
        path = scope["path"]
        if path.startswith("/fhir/"):
            body, kind = json.dumps({"resourceType": "OperationOutcome", "issue": [
                {"severity": "error", "code": "too-costly", "diagnostics": message}]}), \
                b"application/fhir+json"
        elif path.startswith("/api/"):
            body, kind = json.dumps(error_body(413, "too_large", message)), b"application/json"
        else:
            body = (f"<!doctype html><title>Too large</title><p>{message[0].upper()}"
                    f"{message[1:]}.</p>")
            kind = b"text/html; charset=utf-8"
        data = body.encode()
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", kind), (b"content-length", str(len(data)).encode()),
            (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": data})


def ensure_bundled_reference(ctx: AppContext) -> None:
    """Build the bundled controls reference once (in a limited process) and record it."""
    from gutaxis import io as gio
    from gutaxis.commands import DEMO_MARKERS, DEMO_REFERENCE
    from gutaxis.service.sandbox import Limits, run_limited
    from gutaxis.service.services.profiles import BUNDLED_FOLDER

    folder = ctx.settings.references_dir / BUNDLED_FOLDER
    if not (folder / "reference.json").is_file() and not any(folder.glob("*")):
        data = gio.example_dataset()
        scratch = ctx.settings.scratch_dir / "bundled-reference"
        shutil.rmtree(scratch, ignore_errors=True)
        run_limited("build_reference", {
            "table": str(data.table), "metadata": str(data.metadata),
            "where": "Subject == 'Control'", "markers": list(DEMO_MARKERS),
            "name": DEMO_REFERENCE, "out": str(scratch)}, Limits(wall_seconds=600))
        folder.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(scratch), folder)
    with ctx.transaction() as db:
        if db.scalar(select(Reference.id).where(Reference.clinic_id.is_(None),
                                                Reference.folder == BUNDLED_FOLDER)) is None:
            db.add(Reference(clinic_id=None, name=DEMO_REFERENCE, folder=BUNDLED_FOLDER,
                             status="done", filter="Subject == 'Control'",
                             description="The controls of the bundled study (Giloteaux et "
                                         "al., Microbiome 2016), as `gutaxis demo` builds it."))


def prepare(ctx: AppContext) -> None:
    """Migrate the database, seal old second-factor secrets, set up the bundled reference.

    ``gutaxis serve`` does it at start.  Second-factor secrets stored before
    they were sealed (:class:`~gutaxis.service.security.SecretBox`) are
    sealed now.  On SQLite (one server per database
    file) it first takes the data folder and the database's
    (:func:`~gutaxis.service.context.hold_sqlite_server`: refused while another
    server holds them), then puts the jobs a killed server
    left running back in the queue and empties the store's scratch folder.
    """
    if is_sqlite(ctx.engine):  # one server per SQLite file: refused while another runs
        ctx.on_close.append(hold_sqlite_server(ctx.settings))
    upgrade(ctx.engine)
    sealed = 0
    if _check_secret_key(ctx):  # else it is logged once, and nothing can be sealed
        with ctx.transaction() as db:
            sealed = seal_stored_secrets(db)
    if sealed:
        logger.warning("sealed %d second-factor secrets stored before sealing, with the key in "
                       "%s", sealed, ctx.settings.secret_key_file)
    if is_sqlite(ctx.engine):
        # what a killed server left running starts again now
        with ctx.transaction() as db:
            for job in db.scalars(select(Job).where(Job.status == "running")):
                job.status, job.lease_until = "pending", None
        ctx.store.clear_scratch()
    ensure_bundled_reference(ctx)


def _check_secret_key(ctx: AppContext) -> bool:
    """Read (or make, at the first start) the key file; log what keeps it from working.

    The server starts either way: only accounts with a second factor need the
    key.  Returns whether the key can be used (missing and made now counts:
    secrets stored from now on are sealed with it).
    """
    try:
        box = ctx.secrets.box()
    except (GutaxisError, OSError) as exc:
        logger.error("%s; accounts with a second factor cannot sign in until it is repaired "
                     "(operator guide: Where the data lives)", exc)
        return False
    with ctx.transaction() as db:
        wrong = secrets_not_opening(db)  # all of them, when the key was lost and made anew
    if wrong:
        what = ("was missing and a new key was made" if box.made_now
                else "is not the key the second factors were sealed with")
        logger.error("%s %s: %d second factor(s) sealed with another key (accounts %s) cannot "
                     "be checked, and those accounts cannot sign in; restore the key file from "
                     "the backup that goes with this database (and restart), or turn the "
                     "factors off with `gutaxis users password --second-factor-off`",
                     ctx.settings.secret_key_file, what, len(wrong), ", ".join(map(str, wrong)))
    return True


def create_app_from_environment() -> FastAPI:
    """Build the application from the settings in ``GUTAXIS_SERVE_SETTINGS``.

    uvicorn calls it in each worker process that ``gutaxis serve --workers N``
    starts (an application factory); the command prepares the database once,
    before the workers start.
    """
    text = os.environ.get(SETTINGS_ENV)
    if not text:
        raise RuntimeError(f"{SETTINGS_ENV} is not set: start the workers with "
                           "`gutaxis serve --workers N`")
    return create_app(Settings.from_json(text))


def create_app(settings: Settings, *, engine: Engine | None = None) -> FastAPI:
    """Build the practice application.

    Parameters
    ----------
    settings : Settings
    engine : Engine, optional
        A database engine to use instead of one made from ``settings.url``.

    Returns
    -------
    FastAPI
        On start it migrates the database, sets up the bundled reference and
        (``settings.run_worker``) starts the job worker; on stop it stops it.
    """
    from gutaxis.service import (
        api,
        fhir_api,
        pages,
        portal_api,
        portal_pages,
        protocol_api,
        protocol_pages,
        questionnaire_api,
        questionnaire_pages,
    )
    from gutaxis.service.jobs import Worker

    ctx = AppContext(settings, engine)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        prepare(ctx)
        worker = Worker(ctx) if settings.run_worker else None
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()
            ctx.close()

    app = FastAPI(title="gutaxis practice", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url="/api/v1/openapi.json",
                  description="Patients' gut–immune records: visits, uploads, profiles "
                              "against a reference, the timeline and the plan.  Profiles "
                              "support, and do not replace, a clinician's judgement.")
    app.state.ctx = ctx
    app.include_router(api.router)
    app.include_router(portal_api.router)
    app.include_router(pages.router)
    app.include_router(portal_pages.router)
    app.include_router(questionnaire_api.router)
    app.include_router(questionnaire_pages.router)
    app.include_router(protocol_api.router)
    app.include_router(protocol_pages.router)
    app.include_router(fhir_api.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _api_docs(app)
    _install_handlers(app)

    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)  # outermost: a 413 gets the headers too
    return app


def _api_docs(app: FastAPI) -> None:
    """Serve Swagger UI on the OpenAPI document at ``/api/docs``, from this server's files.

    FastAPI's own page loads Swagger UI from a CDN and starts it with an
    inline script: the pages' Content-Security-Policy refuses both, so it
    showed nothing (and would have sent the staff's browsers to a third
    party).  The files are swagger-ui-py's copy of Swagger UI 5 (which reads
    the OpenAPI 3.1 document FastAPI writes); only its folder is looked up,
    nothing of it is imported.
    """
    import importlib.util

    spec = importlib.util.find_spec("swagger_ui")
    assert spec is not None and spec.submodule_search_locations is not None
    swagger_ui_path = Path(list(spec.submodule_search_locations)[0]) / "static"
    page = (Path(__file__).parent / "templates" / "api_docs.html").read_text(encoding="utf-8")

    async def api_docs(request: Request) -> HTMLResponse:
        return HTMLResponse(page)

    # plain routes, as FastAPI's own docs page is: outside the API and its access rules;
    # only the two files the page loads (the package holds Swagger Editor and a demo too)
    app.add_route("/api/docs", api_docs, methods=["GET"], include_in_schema=False)
    for name in ("swagger-ui.css", "swagger-ui-bundle.js"):
        async def send(request: Request, path: Path = swagger_ui_path / name) -> Response:
            return FileResponse(path, headers={"Cache-Control": "public, max-age=86400"})

        app.add_route(f"/api/docs/files/{name}", send, methods=["GET"],
                      include_in_schema=False)


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith(("/api/", "/fhir/")) and \
        "text/html" in request.headers.get("accept", "")


def _install_handlers(app: FastAPI) -> None:
    from gutaxis.service import fhir_api, pages

    def answer_now(request: Request, error: ServiceError) -> Response:
        if request.url.path.startswith("/fhir/"):
            return JSONResponse(fhir_api.operation_outcome(error.status, error.message),
                                status_code=error.status, media_type=fhir_api.FHIR_JSON)
        if _wants_html(request):
            if isinstance(error, SecondFactorOwed):
                return RedirectResponse(f"/login/code?next={quote(request.url.path)}",
                                        status_code=303)
            if error.status == 401:
                return RedirectResponse(f"/login?next={quote(request.url.path)}",
                                        status_code=303)
            return pages.error_page(request, error)
        return JSONResponse(error_body(error.status, error.code, error.message, error.fields),
                            status_code=error.status)

    async def answer(request: Request, error: ServiceError) -> Response:
        # an error page reads who is signed in (to keep the menu): off the event loop; the
        # API's and FHIR's JSON errors read nothing and are answered here
        if _wants_html(request) and not request.url.path.startswith("/fhir/"):
            return await run_in_threadpool(answer_now, request, error)
        return answer_now(request, error)

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError) -> Response:
        return await answer(request, exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        if _wants_html(request) and exc.errors() and all(
                e.get("loc", ("",))[0] == "path" for e in exc.errors()):
            # an address typed or cut wrong (/patients/new): no such page, not a form error
            missing = ServiceError(f"there is no page {request.url.path}")
            missing.status, missing.code = 404, "not_found"
            return await answer(request, missing)
        fields = [{"field": ".".join(str(p) for p in e.get("loc", ())[1:]) or "body",
                   "message": str(e.get("msg", ""))} for e in exc.errors()]
        text = "; ".join(f"{f['field']}: {f['message']}" for f in fields) or "invalid request"
        error = as_service_error(ServiceError(text, fields=fields))
        error.status, error.code = 422, "invalid"
        return await answer(request, error)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        error = ServiceError(str(exc.detail))
        error.status = exc.status_code
        error.code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code,
                                                                       "http_error")
        return await answer(request, error)

    @app.exception_handler(DataError)
    async def data_error(request: Request, exc: DataError) -> Response:
        # a value the database cannot hold, e.g. a NUL character on PostgreSQL
        reason = str(getattr(exc, "orig", exc)).splitlines()[0]
        return await answer(request, Invalid(f"a value sent cannot be stored ({reason})"))

    @app.exception_handler(IntegrityError)
    async def integrity_error(request: Request, exc: IntegrityError) -> Response:
        # a rule the database keeps (one account per address, one answer per version…)
        # broken by a request that raced another one doing the same: the first one stands
        logger.info("refused by the database on %s %s: %s", request.method, request.url.path,
                    str(getattr(exc, "orig", exc)).splitlines()[0])
        return await answer(request, Conflict(
            "another request changed the same thing at the same moment, and this one was "
            "refused so as not to make it twice; reload to see what was kept, and try again "
            "if it is still needed"))

    @app.exception_handler(GutaxisError)
    async def library_error(request: Request, exc: GutaxisError) -> Response:
        return await answer(request, as_service_error(exc))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        error = ServiceError("internal error: the server log has the details")
        error.status, error.code = 500, "internal"
        response = await answer(request, error)
        # this handler runs outside the middleware (Starlette's ServerErrorMiddleware)
        for key, value in _PAGE_HEADERS.items():
            response.headers.setdefault(key, value)
        return response
