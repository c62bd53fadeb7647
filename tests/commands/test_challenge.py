"""``gutaxis challenge verdicts``: files in, verdicts.json and suspects.json out."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from gutaxis.challenge import challenges_csv, diary_csv, read_challenges, read_diary
from gutaxis.challenge.simulate import simulate_protocol
from gutaxis.commands.challenge import ChallengeOptions, food_groups_of, run_challenge
from gutaxis.knowledge import load_food_catalog


def _gutaxis(*args: str, columns: int = 200) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gutaxis.cli", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "COLUMNS": str(columns)})


@pytest.fixture
def protocol_files(tmp_path):
    sim = simulate_protocol(np.random.default_rng(5), {"gluten": 4.0, "lactose": 0.0})
    diary = tmp_path / "DIARY.csv"
    diary.write_text(diary_csv(sim.diary))
    challenges = tmp_path / "CHALLENGES.csv"
    challenges.write_text(challenges_csv(sim.challenges))
    return sim, diary, challenges


def test_the_files_round_trip(protocol_files):
    sim, diary, challenges = protocol_files
    again = read_diary(diary)
    assert again.entries[["time", "kind", "item"]].equals(sim.diary.entries[["time", "kind",
                                                                                 "item"]])
    assert read_challenges(challenges) == sorted(sim.challenges, key=lambda c: c.start)


def test_the_command_writes_the_documented_verdicts(protocol_files, tmp_path):
    sim, diary, challenges = protocol_files
    out = tmp_path / "out"
    proc = _gutaxis("challenge", "verdicts", str(diary), "--challenges", str(challenges),
                    "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    verdicts = json.loads((out / "verdicts.json").read_text())
    assert isinstance(verdicts, list) and len(verdicts) == 3
    by_group = {v["food_group"]: v for v in verdicts}
    assert by_group["gluten"]["verdict"] == "likely trigger"
    assert by_group["gluten"]["compared_with"] == "sham"
    for v in verdicts:
        assert set(v) >= {"food_group", "symptom", "effect", "interval", "p_above_threshold",
                          "verdict"}
        assert v["symptom"] == "bloating" and len(v["interval"]) == 2
        assert v["verdict"] in ("likely trigger", "likely tolerated", "inconclusive")
    suspects = json.loads((out / "suspects.json").read_text())
    assert suspects["schema_version"] == "1.0" and "gauge" in suspects
    assert "likely trigger" in proc.stdout and "do not replace" in proc.stderr
    # the same through the entry function
    result = run_challenge(ChallengeOptions(diary=diary, challenges=challenges))
    assert [v.to_json() for v in result.verdicts] == verdicts


@pytest.mark.parametrize("columns", [80, 60])
def test_the_table_fits_a_narrow_terminal_and_cuts_no_word(protocol_files, tmp_path, columns):
    # "inconclusi…": words were cut to fit; a table wider than the screen is garbled
    _, diary, challenges = protocol_files
    proc = _gutaxis("challenge", "verdicts", str(diary), "--challenges", str(challenges),
                    "--out", str(tmp_path / "out"), columns=columns)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line[:1] in "┏┃┡│└"]
    assert len(lines) > 6 and max(len(line) for line in lines) <= columns
    assert "…" not in proc.stdout
    cells = "".join(line.split("│")[-2].strip() for line in lines if line.count("│") > 2)
    for verdict in json.loads((tmp_path / "out" / "verdicts.json").read_text()):
        assert verdict["verdict"].replace(" ", "") in cells


def test_a_bad_diary_is_one_line_naming_file_line_and_field(tmp_path):
    diary = tmp_path / "DIARY.csv"
    diary.write_text("time,kind,item,value\n2026-03-01,symptom,pain,eleven\n")
    proc = _gutaxis("challenge", "verdicts", str(diary), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"error: {diary}: line 2: field 'value': expected a number; "
                                   "got 'eleven'")
    assert not (tmp_path / "o").exists()


def test_a_missing_challenges_file_is_named(tmp_path, protocol_files):
    _, diary, _ = protocol_files
    proc = _gutaxis("challenge", "verdicts", str(diary), "--challenges", "nope.csv",
                    "--out", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: --challenges nope.csv: no such file"


def test_diary_items_are_tested_by_their_catalogue_groups():
    groups_of = food_groups_of(load_food_catalog())
    assert groups_of("garlic") >= {"fructans"}
    assert groups_of("gluten") == {"gluten"}
    assert groups_of("grandma's soup") == {"grandma's soup"}
