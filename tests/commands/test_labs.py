"""``gutaxis labs import``: FHIR R4 JSON in, a LABS.csv out — or one line and nothing written."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from builders.fhir_labs import MRN, bundle, observation, patient, stool_and_blood_panel, write
from gutaxis.commands import LabsImportOptions, run_labs_import
from gutaxis.commands.labs import parse_patient_option
from gutaxis.exceptions import InputError, OutputError, UnitError
from gutaxis.markers import read_labs


def _gutaxis(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gutaxis.cli", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "COLUMNS": "200"})


def test_import_writes_a_labs_csv_that_profile_reads(tmp_path):
    source = write(tmp_path / "results.json", stool_and_blood_panel())
    out = tmp_path / "labs.csv"
    done = _gutaxis("labs", "import", str(source), "--out", str(out), "--sample", "S17")
    assert done.returncode == 0, done.stderr
    assert f"lab results: {out}" in done.stdout
    assert "Imported for sample S17" in done.stdout and "hscrp" in done.stdout
    assert "patient: urn:example:mrn|MRN-001" in done.stderr
    labs = read_labs(out)
    assert labs.samples == ["S17"]
    assert labs.table.loc[("S17", "hscrp"), "value"] == 2.1  # 0.21 mg/dL
    # an existing file is refused before any work; --overwrite replaces it
    again = _gutaxis("labs", "import", str(source), "--out", str(out))
    assert again.returncode == 2 and "exists; choose a new file" in again.stderr
    assert _gutaxis("labs", "import", str(source), "--out", str(out), "--overwrite"
                    ).returncode == 0
    assert read_labs(out).samples == ["MRN-001"]


def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path):
    doc = stool_and_blood_panel()
    doc["entry"][3]["resource"]["valueQuantity"]["value"] = "350"
    source = write(tmp_path / "bad.json", doc)
    out = tmp_path / "labs.csv"
    done = _gutaxis("labs", "import", str(source), "--out", str(out))
    assert done.returncode == 2
    assert done.stderr.strip() == (f'error: {source}: Bundle.entry[3] (Observation/pe): '
                                   'Observation.valueQuantity.value: expected a number; found '
                                   'a text "350"')
    assert "Traceback" not in done.stderr and not out.exists()


def test_two_patients_skip_unknown_and_the_skipped_list(tmp_path):
    doc = bundle(patient("p1", "M1"), patient("p2", "M2"),
                 observation("a", loinc="38445-3", value=40),
                 observation("b", loinc="38445-3", value=90, subject="Patient/p2"),
                 observation("c", text="Sodium", value=140, unit="mmol/L",
                             subject="Patient/p2"),
                 observation("d", loinc="25907-7", value=300, status="preliminary",
                             subject="Patient/p2"))
    source = write(tmp_path / "two.json", doc)
    out = tmp_path / "labs.csv"
    done = _gutaxis("labs", "import", str(source), "--out", str(out))
    assert done.returncode == 2 and "choose one with --patient SYSTEM|VALUE" in done.stderr
    options = LabsImportOptions(bundle=source, patient=parse_patient_option(f"{MRN}|M2"))
    with pytest.raises(InputError, match=r"unknown code Sodium"):
        run_labs_import(options)
    done = _gutaxis("labs", "import", str(source), "--out", str(out), "--patient", f"{MRN}|M2",
                    "--skip-unknown")
    assert done.returncode == 0, done.stderr
    assert "skipped Bundle.entry[4] (Observation/c) Sodium: a code the marker catalogue does "\
           "not know" in done.stderr
    assert "skipped Bundle.entry[5] (Observation/d) http://loinc.org|25907-7: status "\
           "'preliminary'" in done.stderr
    assert "a result of another patient (urn:example:mrn|M1)" in done.stderr
    assert read_labs(out).table["value"].tolist() == [90.0]


def test_options_and_output_checks(tmp_path):
    source = write(tmp_path / "results.json", stool_and_blood_panel())
    assert parse_patient_option(f"{MRN}|M1") == (MRN, "M1")
    with pytest.raises(InputError, match="--patient must be SYSTEM|VALUE"):
        parse_patient_option("urn:x|")
    with pytest.raises(InputError, match="BUNDLE"):
        LabsImportOptions(bundle=tmp_path / "absent.json")
    options = LabsImportOptions(bundle=source)
    with pytest.raises(OutputError, match="is a folder"):
        options.check_output(tmp_path)
    with pytest.raises(OutputError, match="is the FHIR file read"):
        options.check_output(source, overwrite=True)
    with pytest.raises(OutputError, match=r"cannot be written \(File name too long\)"):
        options.check_output(tmp_path / ("y" * 300 + ".csv"))
    result = run_labs_import(options)
    assert result.write(tmp_path / "labs.csv") == {"labs": tmp_path / "labs.csv"}


def test_all_or_nothing_leaves_an_existing_file_alone(tmp_path):
    doc = stool_and_blood_panel()
    doc["entry"].append({"resource": observation("x", loinc="38445-3", value=3,
                                                 unit="mg/L", id="x2")})
    source = write(tmp_path / "r.json", doc)
    out = tmp_path / "labs.csv"
    out.write_text("kept\n")
    with pytest.raises(UnitError, match="nothing was imported"):
        run_labs_import(LabsImportOptions(bundle=source))
    assert out.read_text() == "kept\n"
