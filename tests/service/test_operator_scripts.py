"""The check scripts the operator guide prints, run as printed on a real data folder.

``verify-data.py`` and ``verify-audit-csv.py`` are copied by operators into
their backup jobs: they must run as the guide shows them, find what they say
they find, and exit 1 when something is wrong (a scheduled check must fail
loudly).
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

from builders.practice import make_user, sign_in

GUIDE = Path(__file__).parents[2] / "docs" / "operator-guide.md"


def _script(name: str) -> str:
    """The Python block of the guide whose docstring starts with ``name``."""
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)
    [block] = [b for b in blocks if b.startswith(f'"""{name}:')]
    return block


def _run(tmp_path: Path, name: str, *args: str, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    script = tmp_path / name
    script.write_text(_script(name), encoding="utf-8")
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                          timeout=120, env=env)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_guides_audit_check_finds_a_change_and_a_gap_and_exits_1(client, ctx, tmp_path):
    make_user(ctx, "Checked clinic", "owner@checked.example", "owner")
    headers = sign_in(client, "owner@checked.example")
    for name in ("Ada", "Bea", "Cai"):
        assert client.post("/api/v1/patients", json={"name": name},
                           headers=headers).status_code == 201
    text = client.get("/api/v1/audit.csv").text
    clinic = client.get("/api/v1/me").json()["clinic_id"]
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) >= 4
    whole = tmp_path / "audit.csv"
    whole.write_text(text, encoding="utf-8")
    intact = _run(tmp_path, "verify-audit-csv.py", str(whole), str(clinic))
    assert intact.returncode == 0 and intact.stdout.endswith("chain intact\n"), intact
    assert f"{len(rows)} rows, last hash {rows[-1]['hash']}" in intact.stdout

    def written(changed: list[dict[str, str]]) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(changed)
        path = tmp_path / "changed.csv"
        path.write_text(out.getvalue(), encoding="utf-8")
        return str(path)

    # the unchanged rows written back as the export writes them: still intact
    assert _run(tmp_path, "verify-audit-csv.py", written(rows), str(clinic)).returncode == 0
    changed = [dict(r) for r in rows]
    changed[1]["object_id"] = "999"
    said = _run(tmp_path, "verify-audit-csv.py", written(changed), str(clinic))
    assert said.returncode == 1 and "row 2: content does not match its hash" in said.stdout
    gap = _run(tmp_path, "verify-audit-csv.py", written(rows[:1] + rows[2:]), str(clinic))
    assert gap.returncode == 1
    # one line for the gap, one for the broken link: no cascade of "missing" lines
    assert gap.stdout.splitlines()[1:] == ["row 2 is missing",
                                           "row 3: does not follow the row before"]
    # the wrong clinic: every row's hash differs
    assert _run(tmp_path, "verify-audit-csv.py", str(whole), str(clinic + 1)).returncode == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_guides_data_check_passes_a_folder_and_refuses_a_mistyped_one(client, ctx,
                                                                        tmp_path, monkeypatch):
    monkeypatch.delenv("GUTAXIS_DATABASE_URL", raising=False)
    make_user(ctx, "Checked clinic", "owner@checked.example", "owner")
    good = _run(tmp_path, "verify-data.py", str(ctx.settings.data_dir))
    assert good.returncode == 0, good.stderr
    assert "database: ok" in good.stdout and "chain intact" in good.stdout
    missing = tmp_path / "mistyped"
    refused = _run(tmp_path, "verify-data.py", str(missing))
    assert refused.returncode == 1 and "no gutaxis.sqlite3 there" in refused.stderr
    assert "Traceback" not in refused.stderr and not missing.exists()
