"""Server-rendered pages (Jinja2, plain forms): the practitioner's side of the application."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from gutaxis.service.errors import ServiceError

__all__ = ["router", "error_page", "templates"]

TEMPLATES = Path(__file__).parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES))
router = APIRouter(include_in_schema=False)


def error_page(request: Request, error: ServiceError) -> Response:
    """An error as a page."""
    return HTMLResponse(f"<h1>{error.status}</h1><p>{error.message}</p>",
                        status_code=error.status)


def _unused(_: Any) -> None:
    return None
