"""The limited child process (gutaxis.service.sandbox.run_limited), with the real tasks.

The child is forked from a forkserver that imported :mod:`gutaxis.service.tasks`
afresh, so a test cannot slip a task of its own into ``TASKS``: each limit is
reached by a real task on a crafted input — a dense table that takes seconds of
CPU to parse (CPU time, wall time) and a ``.qza`` whose feature table inflates
to 1 GiB under the reader's ratio limit (memory).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from builders.hostile import large_table, modest_zip_bomb
from gutaxis.service.sandbox import Limits, TaskFailed, run_limited

LABS = "sample_id,marker,value,unit\nP1,hs-CRP,0.21,mg/dL\nP1,LPS,<0.5,ng/mL\n"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("sandbox")
    paths = {"large": folder / "large.tsv", "bomb": folder / "bomb.qza",
             "labs": folder / "LABS.csv", "negative": folder / "negative.tsv",
             "small": folder / "small.tsv"}
    # 4,000 features x 1,000 samples, 11.6 MB: several seconds of CPU to parse
    paths["large"].write_bytes(large_table(4000, 1000))
    paths["bomb"].write_bytes(modest_zip_bomb(1024))
    paths["labs"].write_text(LABS)
    paths["negative"].write_text("#OTU ID\tS1\nF1\t-3\nF2\t5\n")
    paths["small"].write_text("#OTU ID\tS1\tS2\nF1\t3\t0\nF2\t5\t1\nF3\t0\t4\n")
    return paths


def _forkserver_children() -> list[int]:
    """Live processes whose parent is this process's forkserver (the jobs' children)."""
    from multiprocessing import forkserver

    server = forkserver._forkserver._forkserver_pid  # type: ignore[attr-defined]
    assert isinstance(server, int) and Path(f"/proc/{server}").is_dir()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == server and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def _no_children_left() -> list[int]:
    deadline = time.monotonic() + 10
    while (left := _forkserver_children()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def _still_works(files: dict[str, Path]) -> None:
    """The parent (and its forkserver) run the next task normally."""
    result = run_limited("parse_labs", {"path": str(files["labs"])}, Limits())
    assert [(r["marker"], r["value"], r["unit"], r["censored"]) for r in result["rows"]] == [
        ("hscrp", 2.1, "mg/L", ""), ("lps", 500.0, "pg/mL", "<")]


def test_a_task_returns_its_result(files):
    # 0.21 mg/dL of hs-CRP is 2.1 mg/L; "<0.5 ng/mL" of LPS is censored at 500 pg/mL
    _still_works(files)
    result = run_limited("parse_microbiome", {"path": str(files["small"]), "sample": "S2"},
                         Limits())
    assert result == {"sample": "S2", "n_samples": 2, "n_features": 3, "samples": ["S1", "S2"],
                      "sample_total": 5.0}


def test_a_task_error_passes_through_as_its_message(files):
    path = files["negative"]
    with pytest.raises(TaskFailed) as info:
        run_limited("parse_microbiome", {"path": str(path)}, Limits())
    assert str(info.value) == (f"{path}: sample 'S1', feature 'F1' is -3.0; abundances "
                               "must be ≥ 0")
    with pytest.raises(TaskFailed) as info:
        run_limited("parse_microbiome", {"path": str(files["small"]), "sample": "S9"},
                    Limits())
    assert str(info.value) == "small.tsv: sample 'S9' is not in the table (it holds 2: S1, S2)"
    _still_works(files)


def test_an_unexpected_error_is_named_not_a_traceback(files):
    with pytest.raises(TaskFailed) as info:
        run_limited("parse_labs", {"path": str(files["labs"]), "extra": 1}, Limits())
    message = str(info.value)
    assert message.startswith("the file could not be read (TypeError: ")
    assert "unexpected keyword argument 'extra'" in message
    assert "Traceback" not in message
    _still_works(files)


def test_cpu_limit(files):
    with pytest.raises(TaskFailed) as info:
        run_limited("parse_microbiome", {"path": str(files["large"]), "sample": "S1"},
                    Limits(cpu_seconds=1, wall_seconds=300))
    assert str(info.value) == "the job used more than 1 s of CPU time and was stopped"
    assert _no_children_left() == []
    _still_works(files)


def test_memory_limit(files):
    limits = Limits(memory_bytes=256 * 1024 ** 2)
    # a small table is read within the limit (reading a file used to reserve 1 GiB)
    result = run_limited("parse_microbiome", {"path": str(files["small"]), "sample": "S1"},
                         limits)
    assert (result["sample"], result["sample_total"]) == ("S1", 8.0)
    # the member expands ~150-fold (under the reader's 200-fold refusal) to 1 GiB
    with pytest.raises(TaskFailed) as info:
        run_limited("parse_microbiome", {"path": str(files["bomb"])}, limits)
    assert str(info.value) == "the file needs more memory than a job may use (256 MiB)"
    # pandas' tokenizer runs out of memory on the 4-million-cell table (it said "cannot
    # parse the table (... C error: out of memory)", as if the file were malformed)
    with pytest.raises(TaskFailed) as info:
        run_limited("parse_microbiome", {"path": str(files["large"])},
                    Limits(memory_bytes=64 * 1024 ** 2))
    assert str(info.value) == "the file needs more memory than a job may use (64 MiB)"
    _still_works(files)


def test_wall_limit_kills_the_child(files):
    with pytest.raises(TaskFailed) as info:
        run_limited("parse_microbiome", {"path": str(files["large"]), "sample": "S1"},
                    Limits(cpu_seconds=300, wall_seconds=0.5))
    assert str(info.value) == "the job took longer than 0.5 s and was stopped"
    assert _no_children_left() == []
    _still_works(files)


def test_the_parent_is_untouched_by_its_children_limits(files):
    import resource

    before = resource.getrlimit(resource.RLIMIT_AS), resource.getrlimit(resource.RLIMIT_CPU)
    pid = os.getpid()
    with pytest.raises(TaskFailed):
        run_limited("parse_microbiome", {"path": str(files["bomb"])},
                    Limits(memory_bytes=128 * 1024 ** 2, cpu_seconds=1))
    assert os.getpid() == pid
    assert (resource.getrlimit(resource.RLIMIT_AS), resource.getrlimit(resource.RLIMIT_CPU)
            ) == before
    _still_works(files)


def test_children_get_one_thread_and_the_server_keeps_its_environment(
        files: dict[str, Path]) -> None:
    # numba refuses a NUMBA_NUM_THREADS that changes after its threads started,
    # so the sandbox must not leave the variable set in the serving process
    from multiprocessing import forkserver

    before = {var: os.environ.get(var) for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS")}
    result = run_limited("parse_microbiome", {"path": str(files["small"]), "sample": "S1"},
                         Limits())
    assert result["samples"] == ["S1", "S2"] and result["sample_total"] == 8.0
    assert {var: os.environ.get(var) for var in before} == before
    server = forkserver._forkserver._forkserver_pid  # type: ignore[attr-defined]
    environ = Path(f"/proc/{server}/environ").read_bytes().split(b"\0")
    assert b"NUMBA_NUM_THREADS=1" in environ or before["NUMBA_NUM_THREADS"] is not None
    assert b"OMP_NUM_THREADS=1" in environ or before["OMP_NUM_THREADS"] is not None
