"""Fixtures shared by every test package: the system Chromium, driven by Playwright."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

#: How every test starts Chromium: Debian's package (never a downloaded browser), headless.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def chromium_path() -> str | None:
    """Return the system Chromium's path (``$CHROMIUM``, else ``chromium`` on PATH)."""
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which(
        "chromium-browser")
    return found if found and Path(found).exists() else None


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """A headless Chromium (Playwright's ``Browser``) for the session.

    Without a Chromium the test is skipped on a developer's machine and fails
    in CI (``CI`` set), where ``.ci/run`` installs Debian's ``chromium``.
    """
    path = chromium_path()
    if path is None:
        message = ("needs Debian's chromium (apt install chromium) or $CHROMIUM; "
                   ".ci/run installs it")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            launched.close()
