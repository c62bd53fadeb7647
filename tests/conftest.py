"""Fixtures shared by every test package: the system Chromium, driven by Playwright."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from builders.fhir_node import NodeFhirValidator, NodeUnavailable, check_node_validator

#: Tests that take minutes, collected first: `make test` runs on every core
#: (pytest-xdist), whose workers take tests in collection order, so a long test
#: collected late made the run's tail while the other workers stood idle.  The
#: durability test (SIGKILL 15 times per backend, then the PostgreSQL leases)
#: is the longest (about 2 minutes; `make test` prints the slowest tests).
RUN_FIRST = ("tests/service/test_durability.py::test_sigkill_at_random_moments",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put :data:`RUN_FIRST` at the front; the order is otherwise the collection's."""
    items.sort(key=lambda item: not item.nodeid.startswith(RUN_FIRST))


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


@pytest.fixture(scope="session")
def fhir_node_validator() -> NodeFhirValidator:
    """The independent FHIR R4 validator (``@medplum/core`` through Node).

    Call it with a list of resources (parsed JSON); it returns one
    ``builders.fhir_node.NodeValidation`` per resource, in order (``.ok``,
    ``.issues``, ``.errors``, ``.error_paths``, ``.describe()``), from one Node
    process.  ``fhir_node_validator.assert_valid(resources)`` fails the test with
    every issue listed.

    Without Node.js or the npm packages of ``tests/fhir/node`` the test is skipped
    on a developer's machine and fails in CI (``CI`` set), where ``.ci/run``
    installs Node and ``make test`` the packages.
    """
    try:
        return NodeFhirValidator(check_node_validator())
    except NodeUnavailable as error:
        if os.environ.get("CI"):
            pytest.fail(str(error))
        pytest.skip(str(error))

