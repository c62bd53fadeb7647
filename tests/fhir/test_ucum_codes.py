"""Every UCUM code gutaxis writes is one UCUM's own grammar and unit table accept.

Checked with ``ucumvert`` (its parser is built from UCUM's grammar and the
``ucum-essence.xml`` unit table; it shares nothing with gutaxis's unit layer).
"""

from __future__ import annotations

import json

import pytest
from ucumvert import get_ucum_parser

from gutaxis.fhir import lab_report_bundle
from gutaxis.fhir.codes import UCUM
from gutaxis.knowledge import load_marker_catalog


@pytest.fixture(scope="module")
def parser():
    return get_ucum_parser()


def _ucum_codes(node) -> list[str]:
    if isinstance(node, dict):
        own = [node["code"]] if node.get("system") == UCUM and "code" in node else []
        return own + [c for value in node.values() for c in _ucum_codes(value)]
    if isinstance(node, list):
        return [c for item in node for c in _ucum_codes(item)]
    return []


def test_the_parser_refuses_what_is_not_ucum(parser) -> None:
    for text in ("ugg", "mg//L", "µg/g"):  # µ is not UCUM's micro ("u")
        with pytest.raises(Exception):  # noqa: B017 - lark's own exception types
            parser.parse(text)


def test_every_catalogue_ucum_code_is_ucum(parser) -> None:
    codes = {m.id: m.ucum for m in load_marker_catalog().markers if m.ucum}
    assert "calprotectin" in codes and len(codes) >= 10
    refused = []
    for marker, code in codes.items():
        try:
            parser.parse(code)
        except Exception as error:  # noqa: BLE001 - lark's own exception types
            refused.append(f"{marker}: {code!r} ({type(error).__name__})")
    assert not refused
    parser.parse("%")  # the key taxa's relative abundance


def test_every_ucum_code_an_export_writes_is_ucum(parser) -> None:
    rows = [{"marker": m.id, "value": 1.0, "unit": m.unit, "ref_low": 0.5, "ref_high": 2.0}
            for m in load_marker_catalog().markers if m.ucum]
    document = lab_report_bundle(rows, key="ucum", effective="2026-01-01")
    written = _ucum_codes(document)
    # the value and both range ends of each marker carry the catalogue's code
    assert len(written) == 3 * len(rows), json.dumps(document)[:500]
    for code in set(written):
        parser.parse(code)
