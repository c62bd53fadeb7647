from __future__ import annotations

import datetime as dt
import hashlib

from gutaxis.provenance import SCHEMA_VERSION, build_provenance, file_sha256, input_record


def test_file_hash_matches_hashlib(tmp_path):
    p = tmp_path / "x.txt"
    payload = b"gutaxis\n" * 300_000  # several read chunks
    p.write_bytes(payload)
    assert file_sha256(p) == hashlib.sha256(payload).hexdigest()
    rec = input_record(p, "table")
    assert rec["bytes"] == len(payload) and rec["role"] == "table"


def test_document_has_versions_and_injected_clock(tmp_path):
    fixed = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    doc = build_provenance(command=["gutaxis", "diversity"], inputs=[], parameters={"seed": 3},
                           clock=lambda: fixed)
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["created"] == "2026-01-02T03:04:05+00:00"
    assert doc["parameters"] == {"seed": 3}
    assert {"numpy", "scipy", "scikit-bio", "gutaxis"} <= set(doc["software"])
