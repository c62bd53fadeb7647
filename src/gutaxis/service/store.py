"""The content-addressed file store: each file kept once, under its SHA-256.

``files/ab/cdef…`` holds the file whose SHA-256 is ``abcdef…``.  A file is
written to the scratch folder, flushed to disk (``fsync``), then renamed into
place and its folder flushed, so that a crash leaves either the whole file or
none; the database row that names it is committed after.  A file no row names
(a crash between the two) is harmless and removed by :meth:`FileStore.orphans`.

The same bytes may be placed for a new row while a row that named them is
being removed (the same lab file uploaded for two patients, one of them
erased).  A writer therefore places its files inside :meth:`FileStore.holding`
and commits its rows before the block ends; each file it places is *held*
(a mark under ``files/.held/``) until then.  :meth:`FileStore.remove_unnamed`
runs under the store's lock, skips held files, and asks the database which
files its *committed* rows still name only then.  So a file is never removed
while a row about to name it is in flight, and a file removed just before
another writer places the same bytes is placed again by that writer.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from gutaxis.service.errors import NotFound

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: one process, threads only
    fcntl = None  # type: ignore[assignment]

__all__ = ["FileStore", "TooLargeError", "StoreWriter"]

_CHUNK = 1 << 20
#: a hold older than this (seconds) is taken for one left by a crashed writer and ignored
HOLD_EXPIRES = 3600.0
#: the marks of the files placed inside the current :meth:`FileStore.holding` block
_HELD: contextvars.ContextVar[list[Path] | None] = contextvars.ContextVar("gutaxis_store_held",
                                                                          default=None)


class TooLargeError(Exception):
    """An upload went past the size limit (nothing was kept)."""

    def __init__(self, limit: int) -> None:
        size = (f"{limit / 1024 ** 2:g} MiB" if limit % (1024 ** 2) == 0
                else f"{limit:,} bytes, {limit / 1024 ** 2:.1f} MiB")
        super().__init__(f"the file is larger than this server's upload limit ({size})")
        self.limit = limit


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StoreWriter:
    """A file being written into the store piece by piece (an upload as it arrives).

    Call :meth:`write` with each piece, then :meth:`commit` (the SHA-256 and
    size) or :meth:`abort`.  Past ``limit`` bytes the writer drops what it has
    and only counts (``too_large`` becomes True); nothing is kept.
    """

    def __init__(self, store: FileStore, limit: int) -> None:
        self._store = store
        self.limit = limit
        self.size = 0
        self.too_large = False
        self._digest = hashlib.sha256()
        fd, name = tempfile.mkstemp(dir=store.scratch, prefix="upload-")
        self._path = Path(name)
        self._file: BinaryIO | None = os.fdopen(fd, "wb")

    def write(self, data: bytes) -> None:
        """Add ``data`` (dropped once the file is too large)."""
        self.size += len(data)
        if self.too_large:
            return
        if self.size > self.limit:
            self.too_large = True
            self._close()
            return
        assert self._file is not None
        self._digest.update(data)
        self._file.write(data)

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._path.unlink(missing_ok=True)

    def commit(self) -> tuple[str, int]:
        """Flush the file to disk and move it into the store: its SHA-256 and size.

        Raises
        ------
        TooLargeError
            It went past the limit (nothing is kept).
        """
        if self.too_large:
            raise TooLargeError(self.limit)
        assert self._file is not None
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
            sha = self._digest.hexdigest()
            self._store._place(self._path, sha)
            return sha, self.size
        finally:
            self._close()

    def abort(self) -> None:
        """Drop the file."""
        self._close()


class FileStore:
    """Files by SHA-256 under ``root``, written atomically and durably.

    Parameters
    ----------
    root : path
        The store (``<data>/files``).
    scratch : path
        A folder on the same file system for files being written.

    Examples
    --------
    >>> import io, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> store = FileStore(d / "files", d / "scratch")
    >>> sha, size = store.put_stream(io.BytesIO(b"hello"))
    >>> sha[:12], size, store.path(sha).read_bytes()
    ('2cf24dba5fb0', 5, b'hello')
    """

    def __init__(self, root: Path, scratch: Path) -> None:
        self.root = Path(root)
        self.scratch = Path(scratch)
        self.held = self.root / ".held"
        self.root.mkdir(parents=True, exist_ok=True)
        self.scratch.mkdir(parents=True, exist_ok=True)
        self._threads = threading.Lock()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the store's lock (every process and thread using this store waits its turn)."""
        if fcntl is None:  # pragma: no cover
            with self._threads:
                yield
            return
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """Keep the files placed inside the block from removal until the block ends.

        Place the files and commit the rows that name them inside the block:
        :meth:`remove_unnamed` leaves a held file alone, so a row in flight
        never ends up naming a removed file.  A block inside another joins
        it (the files are held until the outer block ends).  A hold counts
        as a crashed writer's, and is ignored, :data:`HOLD_EXPIRES` seconds
        after the file was placed.

        Examples
        --------
        >>> import io, tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> store = FileStore(d / "files", d / "scratch")
        >>> with store.holding():
        ...     sha, _ = store.put_stream(io.BytesIO(b"results"))
        ...     store.remove_unnamed([sha], lambda shas: set())  # held: kept
        set()
        >>> store.remove_unnamed([sha], lambda shas: set()) == {sha}  # released: removed
        True
        """
        if _HELD.get() is not None:  # inside another block: its end releases them
            yield
            return
        token = _HELD.set([])
        try:
            yield
        finally:
            marks = _HELD.get() or []
            _HELD.reset(token)
            for mark in marks:
                mark.unlink(missing_ok=True)

    def _hold(self, sha: str) -> None:
        marks = _HELD.get()
        if marks is not None:
            self.held.mkdir(exist_ok=True)  # here, not at start: made by the server's own user
            mark = self.held / f"{sha}.{uuid.uuid4().hex}"
            mark.touch()
            marks.append(mark)

    def _held_now(self) -> set[str]:
        """List the hashes held by a live block (removing stale marks on the way)."""
        held: set[str] = set()
        now = time.time()
        if not self.held.is_dir():
            return held
        for mark in self.held.iterdir():
            try:
                if now - mark.stat().st_mtime > HOLD_EXPIRES:
                    mark.unlink(missing_ok=True)
                    continue
            except FileNotFoundError:
                continue
            held.add(mark.name.split(".", 1)[0])
        return held

    def path(self, sha256: str) -> Path:
        """Return where the file ``sha256`` is kept (whether or not it is there).

        Raises
        ------
        NotFound
            ``sha256`` is not 64 lower-case hex digits.
        """
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise NotFound(f"no stored file {sha256!r}")
        return self.root / sha256[:2] / sha256[2:]

    def open(self, sha256: str) -> Path:
        """Find a stored file.

        Returns
        -------
        Path
            Where the file ``sha256`` is.

        Raises
        ------
        NotFound
            ``sha256`` is not a SHA-256 in hex, or the store does not hold it.
        """
        path = self.path(sha256)
        if not path.is_file():
            raise NotFound(f"the file store holds no file {sha256}")
        return path

    def put_stream(self, stream: BinaryIO, *, limit: int | None = None) -> tuple[str, int]:
        """Store what ``stream`` holds; return its SHA-256 and size.

        Raises
        ------
        TooLargeError
            More than ``limit`` bytes (nothing is kept).
        """
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self.scratch, prefix="put-")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(_CHUNK):
                    size += len(chunk)
                    if limit is not None and size > limit:
                        raise TooLargeError(limit)
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            self._place(tmp, sha)
            return sha, size
        finally:
            tmp.unlink(missing_ok=True)

    def put_file(self, path: Path) -> str:
        """Store a copy of the file at ``path``; return its SHA-256."""
        with open(path, "rb") as handle:
            return self.put_stream(handle)[0]

    def _place(self, tmp: Path, sha: str) -> None:
        target = self.path(sha)
        with self._locked():
            self._hold(sha)
            if target.is_file():
                return
            target.parent.mkdir(exist_ok=True)
            os.replace(tmp, target)
            _fsync_dir(target.parent)

    def remove(self, shas: Iterable[str]) -> None:
        """Delete stored files now (nothing names them; :meth:`remove_unnamed` for the app's)."""
        for sha in set(shas):
            if sha:
                self.path(sha).unlink(missing_ok=True)

    def remove_unnamed(self, shas: Iterable[str],
                       still_named: Callable[[set[str]], set[str]]) -> set[str]:
        """Delete the files among ``shas`` that no committed row names and no writer holds.

        Call it after the transaction that dropped the rows has committed.

        Parameters
        ----------
        shas : iterable of str
            The files the dropped rows named (empty ones are ignored).
        still_named : callable
            Given a set of hashes, returns those that rows of the database
            name; it must read in a transaction of its own, begun when it is
            called (under the store's lock), so that it sees every row
            committed by a writer whose hold has ended.

        Returns
        -------
        set of str
            The hashes removed.  A held file is left (its writer's row will
            name it; if that writer fails, the file is an orphan).

        Raises
        ------
        NotFound
            A hash that is not 64 lower-case hex digits.
        """
        wanted = {sha for sha in shas if sha}
        for sha in wanted:
            self.path(sha)  # refuses a bad name before anything is removed
        if not wanted:
            return set()
        with self._locked():
            candidates = wanted - self._held_now()
            gone = candidates - still_named(candidates) if candidates else set()
            for sha in gone:
                self.path(sha).unlink(missing_ok=True)
            return gone

    def verify(self, sha256: str) -> bool:
        """Check that the stored file ``sha256`` is there and still has that hash."""
        path = self.path(sha256)
        if not path.is_file():
            return False
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
        return digest.hexdigest() == sha256

    def all(self) -> set[str]:
        """List the hashes of every stored file."""
        return {p.parent.name + p.name for p in self.root.glob("??/*") if p.is_file()}

    def orphans(self, named: set[str]) -> set[str]:
        """Find the stored files not in ``named`` (left by a crash before the commit).

        Parameters
        ----------
        named : set of str
            The hashes the database's rows name.

        Returns
        -------
        set of str
            The hashes of the other stored files.
        """
        return self.all() - named

    def clear_scratch(self) -> None:
        """Remove what a crashed write left in the scratch folder."""
        for entry in self.scratch.iterdir():
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
