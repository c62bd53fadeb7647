"""``/api/docs`` shows the API in Chromium, from this server's files alone.

FastAPI's own page loaded Swagger UI from a CDN and started it with an inline
script; the pages' Content-Security-Policy refused both, and the page stayed
blank.  Here the browser may reach nothing but the server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from builders.live_server import serving
from gutaxis.service import Settings


@pytest.fixture
def server(make_settings: Callable[..., Settings]) -> Iterator[str]:
    with serving(make_settings()) as (url, _):
        yield url


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_api_reference_page_shows_the_operations(browser: Any, server: str) -> None:
    context = browser.new_context(base_url=server)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    elsewhere: list[str] = []
    page.route("**/*", lambda route: (route.continue_() if route.request.url.startswith(server)
                                      else (elsewhere.append(route.request.url),
                                            route.abort())))
    try:
        page.goto("/api/docs")
        expect(page.locator(".opblock-summary-path", has_text="/api/v1/patients/{patient_id}")
               .first).to_be_visible(timeout=20_000)
        expect(page.locator(".info .title")).to_contain_text("gutaxis practice")
        assert problems == [] and elsewhere == []
    finally:
        context.close()
