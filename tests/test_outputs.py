"""How files are written (gutaxis.outputs): non-finite numbers, whole writes, output folders."""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gutaxis.exceptions import OutputError
from gutaxis.outputs import (
    check_output_folder,
    from_json_number,
    json_text,
    open_atomic,
    output_folder,
    to_json,
    write_bytes,
    write_json,
    write_text,
    write_tsv,
)


def test_one_rule_for_nan_and_infinity_in_json():
    doc = {"nan": np.nan, "inf": np.inf, "-inf": -math.inf, "x": np.float32(1.5),
           "n": np.int64(3), "ok": np.bool_(True), "na": pd.NA, "path": Path("a/b"),
           "nested": [(1, np.nan)], "arr": np.array([1.0, np.inf])}
    assert to_json(doc) == {"nan": None, "inf": "inf", "-inf": "-inf", "x": 1.5, "n": 3,
                            "ok": True, "na": None, "path": "a/b", "nested": [[1, None]],
                            "arr": [1.0, "inf"]}
    text = json_text(doc)  # strict JSON: no NaN or Infinity tokens
    assert "NaN" not in text and "Infinity" not in text
    back = json.loads(text)
    assert [from_json_number(back[k]) for k in ("nan", "inf", "-inf", "x")] == [
        None, math.inf, -math.inf, 1.5]
    assert from_json_number("text") is None and from_json_number(True) is None


def test_one_rule_for_nan_and_infinity_in_tsv(tmp_path):
    frame = pd.DataFrame({"a": [1.25, np.nan, -np.inf], "b": ["x", "y", "z"]})
    path = write_tsv(frame, tmp_path / "t.tsv")
    assert path.read_text(encoding="utf-8").splitlines() == ["a\tb", "1.25\tx", "\ty", "-inf\tz"]
    back = pd.read_csv(path, sep="\t")
    assert math.isnan(back["a"][1]) and back["a"][2] == -math.inf


def test_writes_are_whole_or_absent(tmp_path, monkeypatch):
    target = tmp_path / "doc.json"
    write_json(target, {"a": 1})

    class Boom(RuntimeError):
        pass

    def fail(*_args, **_kwargs):
        raise Boom

    monkeypatch.setattr("os.replace", fail)
    with pytest.raises(Boom):
        write_text(target, "half")
    assert json.loads(target.read_text(encoding="utf-8")) == {"a": 1}  # old content intact
    assert [p.name for p in tmp_path.iterdir()] == ["doc.json"]  # no temporary file left


def test_an_unwritable_path_is_an_output_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match=r"file/doc\.json: cannot be written"):
        write_text(tmp_path / "file" / "doc.json", "{}")


def _prepare(folder, **options):
    with output_folder(folder, **options) as out:
        return out


def test_the_output_folder_rule(tmp_path):
    out = tmp_path / "out"
    assert _prepare(out, owned=["a.tsv"], overwrite=False) == out  # created
    (out / "a.tsv").write_text("old")
    (out / "beta").mkdir()
    (out / "beta" / "x.tsv").write_text("old")
    (out / "notes.txt").write_text("mine")
    (out / "marker_lps.tsv").write_text("old")   # a pattern: marker_*.tsv
    with pytest.raises(OutputError, match=r"out is not empty \(a\.tsv, beta, marker_lps\.tsv, "
                                          r"notes\.txt\); "
                                          r"choose a new folder for the output, or overwrite"):
        _prepare(out, owned=["a.tsv", "beta"], overwrite=False)
    with output_folder(out, owned=["a.tsv", "beta", "marker_*.tsv"], overwrite=True) as ready:
        # inside the block the owned names are gone (kept aside until it ends)
        assert sorted(p.name for p in ready.iterdir() if not p.name.startswith(".")) == [
            "notes.txt"]
        write_text(ready / "a.tsv", "new")
    assert sorted(p.name for p in out.iterdir()) == ["a.tsv", "notes.txt"]  # no hidden folder
    assert (out / "a.tsv").read_text() == "new"


def test_a_failed_write_puts_the_earlier_files_back(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.tsv").write_text("old a")
    (out / "beta").mkdir()
    (out / "beta" / "x.tsv").write_text("old x")
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match=r"beta/y\.tsv: No space left on device; the command "
                                          r"stopped, and the earlier files are kept"):
        with output_folder(out, owned=["a.tsv", "beta", "c.tsv"], overwrite=True) as ready:
            write_text(ready / "a.tsv", "new a")
            write_text(ready / "c.tsv", "new c")  # a name the earlier run did not write
            (ready / "beta").mkdir()
            raise OSError(28, "No space left on device", str(ready / "beta" / "y.tsv"))
    assert sorted(p.name for p in out.iterdir()) == ["a.tsv", "beta", "notes.txt"]
    assert (out / "a.tsv").read_text() == "old a"
    assert (out / "beta" / "x.tsv").read_text() == "old x"
    # any other failure (an interrupt) puts them back too, and is not turned into another
    with pytest.raises(KeyboardInterrupt):
        with output_folder(out, owned=["a.tsv", "beta"], overwrite=True) as ready:
            write_text(ready / "a.tsv", "new a")
            raise KeyboardInterrupt
    assert (out / "a.tsv").read_text() == "old a" and len(list(out.iterdir())) == 3


def test_an_earlier_file_that_cannot_be_moved_changes_nothing(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    for name in ("a.tsv", "b.tsv"):
        (out / name).write_text(f"old {name}")
    rename = Path.rename

    def refuse_b(self, target):
        if self.name == "b.tsv" and self.parent == out:
            raise PermissionError(1, "Operation not permitted", str(self))
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", refuse_b)
    with pytest.raises(OutputError, match=r"b\.tsv: cannot replace it \(Operation not "
                                          r"permitted\); nothing was changed"):
        _prepare(out, owned=["a.tsv", "b.tsv"], overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["a.tsv", "b.tsv"]
    assert (out / "a.tsv").read_text() == "old a.tsv"


def test_an_input_is_never_written_over(tmp_path):
    out = tmp_path / "v1"
    out.mkdir()
    previous = out / "profile.json"
    previous.write_text("{}")
    for overwrite in (False, True):
        with pytest.raises(OutputError, match=r"would replace the input .*profile\.json"):
            _prepare(out, owned=["profile.json"], overwrite=overwrite,
                     inputs=[previous], what="the profile")
    assert previous.read_text() == "{}"
    # an input inside an owned sub-folder counts too
    (out / "beta").mkdir()
    (out / "beta" / "in.tsv").write_text("x")
    with pytest.raises(OutputError, match="would replace the input"):
        _prepare(out, owned=["beta"], overwrite=True, inputs=[out / "beta" / "in.tsv"])


def test_a_name_the_system_refuses_is_an_output_error(tmp_path):
    with pytest.raises(OutputError, match=r"cannot be used as the output folder \(File name "
                                          r"too long\)"):
        _prepare(tmp_path / ("x" * 300), owned=["a.tsv"], overwrite=False)


def test_a_file_where_a_folder_is_wanted(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError, match="is a file; the output needs a folder"):
        _prepare(tmp_path / "f", owned=[], overwrite=True)


def test_check_output_folder_changes_nothing(tmp_path):
    (tmp_path / "alpha.tsv").write_text("old", encoding="utf-8")
    (tmp_path / "mine.txt").write_text("mine", encoding="utf-8")
    assert check_output_folder(tmp_path, owned=["alpha.tsv"], overwrite=True) == tmp_path
    assert (tmp_path / "alpha.tsv").read_text(encoding="utf-8") == "old"   # not removed yet
    with pytest.raises(OutputError, match=r"is not empty \(alpha.tsv, mine.txt\)"):
        check_output_folder(tmp_path, owned=["alpha.tsv"], overwrite=False)
    assert not (tmp_path / "new").exists()
    check_output_folder(tmp_path / "new", owned=[], overwrite=False)
    assert not (tmp_path / "new").exists()                                # not created either


def test_an_acknowledged_write_is_synced_file_then_folder(tmp_path, monkeypatch):
    """A rename survives a crash only once the file's data and the folder entry are synced."""
    synced: list[str] = []
    real_fsync = os.fsync

    def record(fd):
        synced.append("folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        return real_fsync(fd)

    monkeypatch.setattr("os.fsync", record)
    write_bytes(tmp_path / "a.bin", b"\x00\x01")
    assert synced == ["file", "folder"]
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"


def test_an_error_inside_open_atomic_leaves_the_old_file(tmp_path):
    target = tmp_path / "m.tsv"
    target.write_text("old\n", encoding="utf-8")
    with pytest.raises(ZeroDivisionError), open_atomic(target) as out:
        out.write("new, half written\n")
        1 / 0  # noqa: B018
    assert target.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["m.tsv"]


def test_a_second_run_into_the_same_folder_is_refused_while_the_first_writes(tmp_path):
    import subprocess
    import sys
    import textwrap

    out = tmp_path / "out"
    out.mkdir()
    (out / "a.txt").write_text("old")
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from gutaxis.outputs import output_folder, write_text
        with output_folder({str(out)!r}, owned=["a.txt"], overwrite=True) as o:
            write_text(o / "a.txt", "first")
            print("writing", flush=True)
            time.sleep(30)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "writing\n"
        with pytest.raises(OutputError, match="another gutaxis command is writing into this "
                                              "folder"):
            _prepare(out, owned=["a.txt"], overwrite=True)
        assert (out / "a.txt").read_text() == "first"  # the first run's file, untouched
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()


def test_what_a_killed_run_set_aside_is_put_back_by_the_next(tmp_path):
    out = tmp_path / "out"
    aside = out / ".gutaxis-replaced-99999999-abcd"
    (aside / "beta").mkdir(parents=True)
    (aside / "moved.json").write_text('["a.tsv", "beta"]')
    (aside / "a.tsv").write_text("earlier a")
    (aside / "beta" / "x.tsv").write_text("earlier x")
    (out / "a.tsv").write_text("partial")  # what the killed run had written
    (out / "notes.txt").write_text("mine")
    # without --overwrite: refused, and the message says what the hidden folder is
    with pytest.raises(OutputError, match=r"holds the earlier results of a run that was killed"):
        _prepare(out, owned=["a.tsv", "beta"], overwrite=False)
    with pytest.warns(UserWarning, match=r"a run that stopped before it finished .* they are "
                                         r"back: a.tsv, beta"), \
            pytest.raises(OutputError, match="No space left on device"):
        with output_folder(out, owned=["a.tsv", "beta"], overwrite=True) as ready:
            # inside: the earlier results are set aside again by this run, not lost
            assert not (ready / "a.tsv").exists()
            raise OSError(28, "No space left on device", str(ready / "a.tsv"))
    assert (out / "a.tsv").read_text() == "earlier a"
    assert (out / "beta" / "x.tsv").read_text() == "earlier x"
    assert sorted(p.name for p in out.iterdir()) == ["a.tsv", "beta", "notes.txt"]


def test_an_owned_pattern_never_takes_a_runs_hidden_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.txt").write_text("old")
    with pytest.raises(OutputError, match="No space left on device"):
        with output_folder(out, owned=["*"], overwrite=True) as ready:
            write_text(ready / "b.txt", "new")
            raise OSError(28, "No space left on device", str(ready / "c.txt"))
    assert sorted(p.name for p in out.iterdir()) == ["a.txt"]
    assert (out / "a.txt").read_text() == "old"


def test_a_finished_runs_set_aside_files_are_never_put_back(tmp_path, monkeypatch):
    import gutaxis.outputs as goutputs

    out = tmp_path / "out"
    out.mkdir()
    (out / "a.txt").write_text("old")
    # the removal of the set-aside folder lost (a crash right after the run finished)
    monkeypatch.setattr(goutputs.shutil, "rmtree", lambda *a, **k: None)
    with output_folder(out, owned=["a.txt"], overwrite=True) as ready:
        write_text(ready / "a.txt", "new")
    monkeypatch.undo()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is "put back": no warning
        with output_folder(out, owned=["b.txt"], overwrite=True) as ready:
            write_text(ready / "b.txt", "other")
    assert (out / "a.txt").read_text() == "new"
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "b.txt"]


def test_results_get_the_permissions_of_any_new_file_not_owner_only(tmp_path):
    # every result was 0600 (tempfile.mkstemp): a group could not read a shared analysis
    import os
    import stat

    from gutaxis.outputs import write_text

    before = os.umask(0o022)
    try:
        written = write_text(tmp_path / "out" / "a.txt", "x")
        os.umask(0o077)
        private = write_text(tmp_path / "out" / "b.txt", "y")
    finally:
        os.umask(before)
    assert stat.S_IMODE(written.stat().st_mode) == 0o644
    assert stat.S_IMODE(private.stat().st_mode) == 0o600  # the umask still rules
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.txt", "b.txt"]


def test_a_folder_that_cannot_be_made_is_refused_before_any_work(tmp_path):
    # found only after every step of the analysis had run
    import os

    from gutaxis.exceptions import OutputError
    from gutaxis.outputs import check_output_folder

    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(OutputError, match=r"f.txt/x/y: cannot create the folder \(.*f.txt is "
                                          r"a file\)"):
        check_output_folder(tmp_path / "f.txt" / "x" / "y", owned=(), overwrite=False)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        if os.geteuid() != 0:  # root may write anywhere
            with pytest.raises(OutputError, match=r"locked/out: cannot create the folder "
                                                  r"\(Permission denied\)"):
                check_output_folder(locked / "out", owned=(), overwrite=False)
    finally:
        locked.chmod(0o700)
    assert check_output_folder(tmp_path / "new" / "out", owned=(), overwrite=False) \
        == tmp_path / "new" / "out"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt", "locked"]  # nothing left
    # a link that leads nowhere (or to itself): exists() is False, yet no folder can be made
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    for name in ("dangling", "loop"):
        with pytest.raises(OutputError, match=f"{name}: cannot create the folder"):
            check_output_folder(tmp_path / name, owned=(), overwrite=False)


def test_a_folder_that_cannot_be_locked_is_written_with_a_warning(tmp_path, monkeypatch, caplog):
    # some network file systems refuse locks: the run goes on, and says what it cannot promise
    import errno
    import fcntl

    from gutaxis.outputs import hold_folder

    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with caplog.at_level("WARNING", logger="gutaxis.outputs"), hold_folder(tmp_path / "o") as o:
        (o / "x.txt").write_text("written")
    assert (tmp_path / "o" / "x.txt").read_text() == "written"
    assert "cannot be locked (No locks available)" in caplog.text
