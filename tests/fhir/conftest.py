"""Fixtures of the FHIR tests: the independent Node validator.

The kept HL7 R4 examples are read with ``builders.fhir_examples``.
"""

from __future__ import annotations

import os

import pytest

from builders.fhir_node import NodeFhirValidator, NodeUnavailable, check_node_validator


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

