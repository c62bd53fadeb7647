"""How gutaxis writes what it computes: JSON, TSV, and output folders.

One rule for numbers that are not finite, in every document gutaxis writes
(``results.json``, ``profile.json``, ``provenance.json``, ``reference.json``,
``indices.tsv`` and the other TSV tables):

* **NaN** (not computed, not applicable, missing) is written as JSON
  ``null`` and as an empty TSV cell;
* **±infinity** (a real value: an MD-index whose increased genera are all
  absent is −∞) is written as the text ``"inf"`` / ``"-inf"`` in JSON and
  as ``inf`` / ``-inf`` in TSV — the spelling Python, NumPy, pandas and R
  read back as infinity.

JSON has no number for either, and a reader must be able to tell "missing"
from "infinite": so missing is ``null`` and infinity is a string.  Readers
of gutaxis documents turn the strings back into floats
(:func:`from_json_number`).

Output folders follow one rule too (:func:`output_folder`): a command
refuses to write into a folder that already holds files, unless it is told to
overwrite (``--overwrite``), and then it replaces only the files it writes
itself, keeping the earlier ones until the new ones are written; a file named
as an input is never written over.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import math
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from gutaxis.checks import check_path, check_type
from gutaxis.exceptions import GutaxisError, InputError, OutputError, ValidationError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["to_json", "from_json_number", "json_text", "write_json", "write_text", "write_tsv",
           "write_bytes", "open_atomic", "create_temporary", "check_output_folder", "output_folder",
           "hold_folder",
           "POSITIVE_INFINITY", "NEGATIVE_INFINITY", "DISTANCE_FORMATS",
           "check_distance_format"]

#: How +∞ is written in JSON and TSV.
POSITIVE_INFINITY = "inf"
#: How −∞ is written in JSON and TSV.
NEGATIVE_INFINITY = "-inf"
#: The formats of a distance matrix (``--format`` of ``diversity`` and ``analyze``)
#: and the file name ending of each: lsmat text (as QIIME 2 exports it),
#: Striped UniFrac's HDF5 layout, a QIIME 2 artifact, a chunked zarr store.
DISTANCE_FORMATS = {"tsv": ".tsv", "hdf5": ".h5", "qza": ".qza", "zarr": ".zarr"}


def check_distance_format(output_format: object, precision: object = "float64") -> None:
    """Refuse a matrix format or precision gutaxis cannot write (``--format``, ``--precision``).

    Parameters
    ----------
    output_format : str
        One of :data:`DISTANCE_FORMATS`.
    precision : {"float64", "float32"}
        float32 only with ``hdf5`` and ``zarr``: the text formats write every
        digit of float64.

    Raises
    ------
    ValidationError
        Naming the option, what it may be and what was given.
    InputError
        ``zarr`` without the zarr package (the ``[distributed]`` extra).

    Examples
    --------
    >>> check_distance_format("hdf5", "float32")
    >>> check_distance_format("tsv", "float32")
    Traceback (most recent call last):
    ...
    gutaxis.exceptions.ValidationError: --precision float32 applies to --format hdf5 or zarr; \
--format tsv writes text with every digit of float64
    """
    if output_format not in DISTANCE_FORMATS:
        raise ValidationError(f"--format must be one of {', '.join(DISTANCE_FORMATS)}; got "
                              f"{output_format!r}")
    if precision not in ("float64", "float32"):
        raise ValidationError(f"--precision must be float64 or float32; got {precision!r}")
    if precision != "float64" and output_format not in ("hdf5", "zarr"):
        raise ValidationError(f"--precision {precision} applies to --format hdf5 or zarr; "
                              f"--format {output_format} writes text with every digit of "
                              "float64")
    if output_format == "zarr" and importlib.util.find_spec("zarr") is None:
        # refused before the work, not when the matrices are written after it
        raise InputError("--format zarr needs zarr: pip install 'gutaxis[distributed]'")


def to_json(value: Any) -> Any:
    """Return ``value`` as plain JSON types, with the one rule for non-finite numbers.

    Parameters
    ----------
    value : object
        Mappings, sequences, NumPy arrays and scalars, pandas missing values,
        paths, numbers, strings, booleans, None.

    Returns
    -------
    object
        Dicts with string keys, lists, str, int, float, bool or None: NaN and
        missing values become ``None``, ±∞ ``"inf"``/``"-inf"``, NumPy
        scalars Python numbers, tuples and arrays lists, paths strings; any
        other object its ``str``.

    Examples
    --------
    >>> import numpy as np
    >>> to_json({"a": float("nan"), "b": [np.float64(1.5), -np.inf], "c": (1, True)})
    {'a': None, 'b': [1.5, '-inf'], 'c': [1, True]}
    """
    import numpy as np  # here: the command line's start-up does not load numpy and pandas
    import pandas as pd

    return _to_json(value, np, pd)


def _to_json(value: Any, np: Any, pd: Any) -> Any:
    """:func:`to_json`'s recursion, with numpy and pandas imported once by the caller."""
    if isinstance(value, Mapping):
        return {str(k): _to_json(v, np, pd) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_to_json(v, np, pd) for v in value]
    if isinstance(value, np.ndarray):
        return [_to_json(v, np, pd) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return POSITIVE_INFINITY if value > 0 else NEGATIVE_INFINITY
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)


def from_json_number(value: Any) -> float | None:
    """Return a number as written by :func:`to_json` (``"inf"``, ``"-inf"``, null) as a float.

    Parameters
    ----------
    value : object

    Returns
    -------
    float or None
        ``None`` for null and for anything that is not a number or an
        infinity string.

    Examples
    --------
    >>> from_json_number("-inf"), from_json_number(2), from_json_number(None)
    (-inf, 2.0, None)
    """
    if value == POSITIVE_INFINITY:
        return math.inf
    if value == NEGATIVE_INFINITY:
        return -math.inf
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    out = float(value)
    return None if math.isnan(out) else out


def json_text(document: Any) -> str:
    """Return the JSON text of a document (indented, UTF-8 characters kept, newline at the end).

    Parameters
    ----------
    document : object
        Anything :func:`to_json` takes.

    Returns
    -------
    str
    """
    return json.dumps(to_json(document), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def open_atomic(path: str | os.PathLike[str], mode: str = "w", *,
                what: str = "") -> contextlib.AbstractContextManager[IO[Any]]:
    """Open a file that appears whole at ``path`` when the block ends, or not at all.

    The data go to a temporary file beside ``path``; when the block ends
    without an error it is flushed and synced to disk, renamed over ``path``,
    and the folder is synced, so that a file reported as written survives a
    crash.  On an error the temporary file is removed and ``path`` is left as
    it was.

    Parameters
    ----------
    path : path
        The file to write; its folder is created when missing.
    mode : {"w", "wb", "w+b"}, default "w"
        Text (UTF-8, Unix line ends) or binary; ``"w+b"`` for writers that
        also read back (HDF5).
    what : str, optional
        What the file holds, for the message (``"the distance matrix"``).

    Returns
    -------
    context manager
        Yields the open file.

    Raises
    ------
    OutputError
        The file cannot be written (the path and the reason are named).
    InputError
        ``path`` is not a path, or ``mode`` not one of the above (raised at
        once, before the block).
    """
    target = check_path(path, "path")
    if mode not in ("w", "wb", "w+b"):
        raise InputError(f"mode must be 'w', 'wb' or 'w+b'; got {mode!r}")
    return _atomic(target, mode, f"cannot write {what}" if what else "cannot be written")


@contextlib.contextmanager
def _atomic(target: Path, mode: str, failed: str) -> Iterator[IO[Any]]:
    """Do the work of :func:`open_atomic`."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = _open_new(target.parent, f".{target.name}.", "")
    except OSError as exc:
        raise OutputError(f"{target}: {failed} ({exc.strerror or exc})") from None
    try:
        with (os.fdopen(handle, mode, encoding="utf-8", newline="\n") if mode == "w"
              else os.fdopen(handle, mode)) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
        _sync_folder(target.parent)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"{target}: {failed} ({exc.strerror or exc})") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def create_temporary(folder: Path, prefix: str, suffix: str = "") -> tuple[int, str]:
    """Create a new file with a random name in ``folder``, open for writing; its fd and path.

    Unlike :func:`tempfile.mkstemp`, whose files are readable by their owner
    only (0600), the file gets the permissions any new file gets (0666 less
    the umask): once renamed into place it is a result others in the group
    may read, as a file the user wrote by hand would be.

    Examples
    --------
    >>> import os, pathlib, stat, tempfile
    >>> before = os.umask(0o022)
    >>> fd, name = create_temporary(pathlib.Path(tempfile.mkdtemp()), ".x.")
    >>> os.close(fd); _ = os.umask(before)
    >>> oct(stat.S_IMODE(os.stat(name).st_mode))
    '0o644'

    Raises
    ------
    OutputError
        The file cannot be made there (the folder and the reason are named).
    """
    folder = check_path(folder, "folder")
    try:
        return _open_new(folder, prefix, suffix)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot make a file there "
                          f"({exc.strerror or exc})") from None


def _open_new(folder: Path, prefix: str, suffix: str) -> tuple[int, str]:
    for _ in range(100):
        name = os.path.join(folder, f"{prefix}{secrets.token_hex(6)}{suffix}")
        try:
            return os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666), name
        except FileExistsError:
            continue
    raise FileExistsError(f"{folder}: no free temporary name")  # pragma: no cover


def _sync_folder(folder: Path) -> None:
    """Sync a folder's entries to disk (a rename is durable only then), where supported."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write a text file whole or not at all (see :func:`open_atomic`).

    Parameters
    ----------
    path : path
    text : str

    Returns
    -------
    pathlib.Path

    Raises
    ------
    OutputError
        The file cannot be written (the path and the reason are named).
    InputError
        ``path`` is not a path, or ``text`` not a str.
    """
    if not isinstance(text, str):
        raise InputError(f"text must be a str; got {type(text).__name__} (write_json writes "
                         "a document, write_tsv a table)")
    with open_atomic(path) as out:
        out.write(text)
    return Path(path)


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write a binary file whole or not at all (see :func:`open_atomic`).

    Parameters
    ----------
    path : path
    data : bytes

    Returns
    -------
    pathlib.Path

    Raises
    ------
    OutputError
        The file cannot be written.
    InputError
        ``path`` is not a path, or ``data`` not bytes.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InputError(f"data must be bytes; got {type(data).__name__}")
    with open_atomic(path, "wb") as out:
        out.write(data)
    return Path(path)


def write_json(path: str | os.PathLike[str], document: Any) -> Path:
    """Write a document as JSON (see :func:`json_text`), whole or not at all.

    Parameters
    ----------
    path : path
    document : object

    Returns
    -------
    pathlib.Path
    """
    return write_text(path, json_text(document))


def write_tsv(frame: pd.DataFrame, path: str | os.PathLike[str], *, index: bool = False,
              float_format: str | None = "%.10g") -> Path:
    """Write a table as TSV: NaN an empty cell, ±∞ ``inf``/``-inf``.

    Parameters
    ----------
    frame : pandas.DataFrame
    path : path
    index : bool, default False
        Write the index as the first column (named by the index's name).
    float_format : str or None, default "%.10g"
        Ten significant digits; ``"%.17g"`` round-trips float64 exactly; None
        writes Python's shortest round-trip form.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    InputError
        ``frame`` is not a DataFrame, or ``path`` not a path.
    OutputError
        The file cannot be written.
    """
    import pandas as pd

    check_type(frame, pd.DataFrame, "frame", hint="write_json writes other documents")
    text = frame.to_csv(sep="\t", index=index, float_format=float_format, na_rep="",
                        lineterminator="\n")
    return write_text(path, text)


def check_output_folder(folder: str | os.PathLike[str], *, owned: Iterable[str],
                        overwrite: bool, inputs: Iterable[str | os.PathLike[str]] = (),
                        what: str = "the output") -> Path:
    """Check, changing nothing, that :func:`output_folder` would accept ``folder``.

    Commands call it before any work, so that a folder that will be refused
    is refused at once, not after minutes of computing.

    Parameters
    ----------
    folder, owned, overwrite, inputs, what
        As :func:`output_folder`.

    Returns
    -------
    pathlib.Path
        ``folder``.

    Raises
    ------
    OutputError
        ``folder`` is a file; it holds files and ``overwrite`` is False; an
        input lies among the files the command owns; it does not exist and
        cannot be made (a folder is made and removed beside it to know).
    InputError
        ``folder`` is not a path (None, a number).
    """
    target = check_path(folder, "the output folder (--out)")
    try:
        if target.exists() and not target.is_dir():
            raise OutputError(f"{target} is a file; {what} needs a folder (choose a new path)")
        patterns = list(owned)
        owned_paths = _owned_paths(target, patterns)
    except OSError as exc:  # a name too long, a folder that may not be read
        raise OutputError(f"{target}: cannot be used as the output folder "
                          f"({exc.strerror or exc})") from None
    for source in inputs:
        src = Path(source).resolve()
        hit = [p for p in owned_paths if p.resolve() == src or p.resolve() in src.parents]
        hit += [p for pattern in patterns if (target / pattern).resolve() == src
                for p in [target / pattern]]
        if hit:
            raise OutputError(f"{target}: writing {what} here would replace the input "
                              f"{source}; choose another output folder")
    if target.is_dir() and not overwrite:
        present = sorted(p.name for p in target.iterdir())
        if present:
            shown = ", ".join(present[:8]) + (" …" if len(present) > 8 else "")
            if any(name.startswith(_ASIDE) for name in present):
                shown += (f"; {_ASIDE}… holds the earlier results of a run that was killed "
                          "before it finished: --overwrite puts them back first")
            raise OutputError(f"{target} is not empty ({shown}); choose a new folder for "
                              f"{what}, or overwrite it (--overwrite, overwrite=True in "
                              "Python: every file this command writes is replaced, including "
                              "ones an earlier run wrote that this run does not; other files "
                              "are kept)")
    if os.path.lexists(target) and not target.is_dir():
        # a dangling link or a loop: exists() says no, yet nothing can be made there
        raise OutputError(f"{target}: cannot create the folder (a link that leads nowhere is "
                          "there; choose a new path)")
    if not target.exists():
        _check_can_create(target)
    return target


def _check_can_create(target: Path) -> None:
    """Refuse at once a folder that could not be made (tried beside it, then removed)."""
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    try:
        if not parent.is_dir():
            raise NotADirectoryError(20, f"{parent} is a file")
        os.rmdir(tempfile.mkdtemp(prefix=".gutaxis-check-", dir=parent))
    except OSError as exc:
        raise OutputError(f"{target}: cannot create the folder ({exc.strerror or exc})") \
            from None


def _owned_paths(target: Path, patterns: list[str]) -> list[Path]:
    """Return what in ``target`` matches the command's owned names (never a run's aside)."""
    if not target.is_dir():
        return []
    return [p for pattern in patterns for p in target.glob(pattern)
            if not p.relative_to(target).parts[0].startswith(_ASIDE)]


def output_folder(folder: str | os.PathLike[str], *, owned: Iterable[str], overwrite: bool,
                  inputs: Iterable[str | os.PathLike[str]] = (),
                  what: str = "the output") -> contextlib.AbstractContextManager[Path]:
    """Make ``folder`` ready for a command's files, and keep the earlier ones until it is done.

    The one rule for output folders.  With ``overwrite``, what the command
    owns from an earlier run is moved aside (into a hidden folder inside
    ``folder``, by renaming), the ``with`` body writes the new files, and
    the earlier ones are removed only when the body has finished; if it
    fails, what it wrote of the owned names is removed and the earlier
    files are put back, so a run that fails (a full disk, a folder that
    cannot be written) loses nothing that was there.

    Parameters
    ----------
    folder : path
        Created when missing.
    owned : iterable of str
        The names (files or sub-folders, relative to ``folder``) the command
        writes; glob patterns are allowed (``"marker_*.tsv"``).  An owned
        sub-folder is replaced whole.
    overwrite : bool
        False: a folder that holds anything is refused.  True: what the
        command owns is replaced, including files an earlier run wrote that
        this run will not (so no stale result is left beside new ones);
        other files are left alone.
    inputs : iterable of path
        Files the command reads: none of them may be inside what it would
        write or remove.
    what : str
        What the folder is for, in messages (``"the profile"``).

    Returns
    -------
    context manager of pathlib.Path
        Entering it gives ``folder``, ready.

    Raises
    ------
    OutputError
        At once: ``folder`` is a file; it holds files and ``overwrite`` is
        False; an input lies among the files the command owns.  On entering:
        the folder cannot be created, or an earlier file cannot be moved
        aside (nothing is changed then).  On leaving: the body could not
        write a file (an ``OSError``, given with the file's name; the
        earlier files are back).
    InputError
        ``folder`` is not a path (None, a number).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     with output_folder(tmp, owned=["a.txt"], overwrite=False) as out:
    ...         _ = write_text(out / "a.txt", "first")
    ...     try:
    ...         with output_folder(tmp, owned=["a.txt"], overwrite=True) as out:
    ...             _ = write_text(out / "a.txt", "second")
    ...             raise OSError(28, "No space left on device", str(out / "b.txt"))
    ...     except OutputError as exc:
    ...         print(str(exc).split(": ", 1)[1])
    ...     print((Path(tmp) / "a.txt").read_text(), sorted(os.listdir(tmp)))
    No space left on device; the command stopped, and the earlier files are kept
    first ['a.txt']
    """
    patterns = list(owned)
    target = check_output_folder(folder, owned=patterns, overwrite=overwrite, inputs=inputs,
                                 what=what)
    return _replacing(target, patterns)


def hold_folder(folder: str | os.PathLike[str]) -> contextlib.AbstractContextManager[Path]:
    """Hold ``folder`` for this run: another process writing into it meanwhile is refused.

    The lock :func:`output_folder` takes, for a run that writes into the
    folder over a long time before its results (a blockwise run's tiles).
    Taken again by the same thread (an :func:`output_folder` inside), it is
    the same hold.

    Raises
    ------
    InputError
        ``folder`` is not a path (at once).
    OutputError
        At once: ``folder`` is a file.  On entering: the folder cannot be
        created, or another gutaxis command is writing into it.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     with hold_folder(tmp) as held:
    ...         with output_folder(held, owned=["a.txt"], overwrite=True) as out:
    ...             _ = write_text(out / "a.txt", "inside the same hold")
    ...     print(sorted(os.listdir(tmp)))
    ['a.txt']
    """
    target = check_path(folder, "the folder")
    if target.is_file():
        raise OutputError(f"{target} is a file; expected a folder")
    return _holding(target)


@contextlib.contextmanager
def _holding(target: Path) -> Iterator[Path]:
    """Create ``target``, lock it, and put back what a killed run left aside (the first hold)."""
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{target}: cannot create the folder ({exc.strerror or exc})") \
            from None
    with _locked(target) as outermost:
        if outermost:
            _recover(target)
        yield target


#: The hidden folder inside an output folder where a run keeps the earlier results.
_ASIDE = ".gutaxis-replaced-"
#: The list of what an aside folder holds, written before anything is moved into it.
_MANIFEST = "moved.json"
#: Output folders this process holds locked, per thread (nested writes re-enter).
_HELD: dict[tuple[str, int], int] = {}


@contextlib.contextmanager
def _replacing(target: Path, patterns: list[str]) -> Iterator[Path]:
    """Move what ``patterns`` name in ``target`` aside; drop it, or put it back on failure.

    The folder is locked for the run (a second run into it is refused), and
    what a run that was killed left aside is put back first.
    """
    with _holding(target):
        aside = target / f"{_ASIDE}{os.getpid()}-{os.urandom(4).hex()}"
        moved = _move_aside(target, _owned_paths(target, patterns), aside)
        try:
            yield target
        except BaseException as exc:
            for path in _owned_paths(target, patterns):  # what this run wrote of its names
                _remove(path)
            _put_back(target, aside, moved)
            if isinstance(exc, OSError) and not isinstance(exc, GutaxisError):
                name = exc.filename or target
                raise OutputError(f"{name}: {exc.strerror or exc}; the command stopped"
                                  + (", and the earlier files are kept" if moved else "")) \
                    from None
            raise
        _discard(aside)


def _discard(aside: Path) -> None:
    """Drop a finished run's earlier results: its list first, durably, then the files.

    Were the folder's removal lost in a crash, an aside without its list is
    only removed by the next run (:func:`_recover`), never put back over the
    results this run finished.
    """
    (aside / _MANIFEST).unlink(missing_ok=True)
    _sync_folder(aside)
    shutil.rmtree(aside, ignore_errors=True)


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[bool]:
    """Hold ``target`` for this run (an advisory lock on the folder); yield whether first."""
    import threading

    key = (str(target.resolve()), threading.get_ident())
    if _HELD.get(key):  # a nested write of the same run (the demo writes its parts)
        _HELD[key] += 1
        try:
            yield False
        finally:
            _HELD[key] -= 1
        return
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX: no lock
        fcntl = None  # type: ignore[assignment]
    fd = os.open(target, os.O_RDONLY)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise OutputError(f"{target}: another gutaxis command is writing into this "
                                  "folder; wait for it to finish, or choose another folder") \
                    from None
            except OSError as exc:  # a file system without locks (some NFS, Lustre mounts)
                logging.getLogger(__name__).warning(
                    "%s: the folder cannot be locked (%s): a second command writing into it "
                    "meanwhile would not be refused", target, exc.strerror or exc)
        _HELD[key] = 1
        try:
            yield True
        finally:
            del _HELD[key]
    finally:
        os.close(fd)  # closing releases the lock


def _recover(target: Path) -> None:
    """Put back what a killed run left aside (its partial files go); warn that it did."""
    import warnings

    for aside in sorted(target.glob(_ASIDE + "*")):
        try:
            moved = [Path(p) for p in json.loads((aside / _MANIFEST).read_text("utf-8"))]
        except (OSError, ValueError, TypeError):
            moved = []
        restored = [m for m in moved if (aside / m).exists() or (aside / m).is_symlink()]
        for relative in restored:
            _remove(target / relative)
        _put_back(target, aside, restored)
        if restored:
            warnings.warn(f"{target}: a run that stopped before it finished (killed) had set "
                          f"the earlier results aside; they are back: "
                          f"{', '.join(str(m) for m in restored[:8])}", stacklevel=4)


def _put_back(target: Path, aside: Path, moved: list[Path]) -> None:
    for relative in moved:
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        (aside / relative).rename(target / relative)
    shutil.rmtree(aside, ignore_errors=True)


def _move_aside(target: Path, paths: list[Path], aside: Path) -> list[Path]:
    """Rename ``paths`` into ``aside`` (same relative names); all or none of them.

    The list of them is written into ``aside`` first, so that a run killed
    while moving or writing can be undone by the next one (:func:`_recover`).
    """
    moved: list[Path] = []
    if not paths:
        return moved
    relatives = [path.relative_to(target) for path in paths]
    try:
        aside.mkdir()
        write_text(aside / _MANIFEST, json.dumps([str(r) for r in relatives]))
    except (OSError, OutputError) as exc:
        shutil.rmtree(aside, ignore_errors=True)
        raise OutputError(f"{target}: cannot set the earlier results aside ({exc}); nothing "
                          "was changed") from None
    for path, relative in zip(paths, relatives, strict=True):
        try:
            (aside / relative).parent.mkdir(parents=True, exist_ok=True)
            path.rename(aside / relative)
        except OSError as exc:
            _put_back(target, aside, list(reversed(moved)))
            raise OutputError(f"{path}: cannot replace it ({exc.strerror or exc}); nothing was "
                              "changed") from None
        moved.append(relative)
    return moved


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
