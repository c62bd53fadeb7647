"""The content-addressed file store: each file kept once, under its SHA-256.

``files/ab/cdef…`` holds the file whose SHA-256 is ``abcdef…``.  A file is
written to the scratch folder, flushed to disk (``fsync``), then renamed into
place and its folder flushed, so that a crash leaves either the whole file or
none; the database row that names it is committed after.  A file no row names
(a crash between the two) is harmless and removed by :meth:`FileStore.orphans`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from gutaxis.service.errors import NotFound

__all__ = ["FileStore", "TooLargeError", "StoreWriter"]

_CHUNK = 1 << 20


class TooLargeError(Exception):
    """An upload went past the size limit (nothing was kept)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the file is larger than this server's upload limit "
                         f"({limit / 1024 ** 2:.0f} MiB)")
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
        self.root.mkdir(parents=True, exist_ok=True)
        self.scratch.mkdir(parents=True, exist_ok=True)

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
        if target.is_file():
            return
        target.parent.mkdir(exist_ok=True)
        os.replace(tmp, target)
        _fsync_dir(target.parent)

    def remove(self, shas: Iterable[str]) -> None:
        """Delete stored files (the caller checks that no row names them any more)."""
        for sha in set(shas):
            if sha:
                self.path(sha).unlink(missing_ok=True)

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
