"""The content-addressed file store: hashes, the size limit, one copy per content, integrity."""

from __future__ import annotations

import hashlib
import io
import os
import random
from pathlib import Path

import pytest

from gutaxis.service.errors import NotFound
from gutaxis.service.store import FileStore, StoreWriter, TooLargeError


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "files", tmp_path / "scratch")


def _files(folder: Path) -> list[Path]:
    """The files under ``folder`` but the store's own (``.lock``, the marks under ``.held``)."""
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and not p.relative_to(folder).parts[0].startswith("."))


def _data(n: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(n)


@pytest.mark.parametrize("data", [
    b"",
    b"hello",
    _data(3 * (1 << 20) + 17),  # several of the store's 1 MiB chunks, and a part of one
], ids=["empty", "small", "3MiB"])
def test_put_stream_hash_size_place_and_content(store: FileStore, data: bytes) -> None:
    sha, size = store.put_stream(io.BytesIO(data))
    assert sha == hashlib.sha256(data).hexdigest()
    assert size == len(data)
    path = store.root / sha[:2] / sha[2:]
    assert store.path(sha) == path
    assert path.read_bytes() == data
    assert _files(store.root) == [path]
    assert _files(store.scratch) == []
    assert store.open(sha) == path
    assert store.all() == {sha}


def test_known_digest(store: FileStore) -> None:
    sha, size = store.put_stream(io.BytesIO(b"abc"))
    assert (sha, size) == ("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", 3)


def test_put_stream_at_the_limit_is_kept(store: FileStore) -> None:
    sha, size = store.put_stream(io.BytesIO(b"x" * 10), limit=10)
    assert (sha, size) == (hashlib.sha256(b"x" * 10).hexdigest(), 10)


@pytest.mark.parametrize("n", [11, (1 << 20) + 5, 3 * (1 << 20)])
def test_put_stream_past_the_limit_keeps_nothing(store: FileStore, n: int) -> None:
    limit = 10 if n == 11 else 1 << 20
    with pytest.raises(TooLargeError, match=r"larger than this server's upload limit") as info:
        store.put_stream(io.BytesIO(_data(n)), limit=limit)
    assert info.value.limit == limit
    assert _files(store.root) == []
    assert _files(store.scratch) == []
    assert store.all() == set()


def test_too_large_message_names_the_limit_in_mib() -> None:
    assert str(TooLargeError(200 * 1024 ** 2)) == (
        "the file is larger than this server's upload limit (200 MiB)")
    # a limit set in bytes is said in bytes (2,000,000 read "2 MiB", 5 % off)
    assert str(TooLargeError(2_000_000)).endswith("(2,000,000 bytes, 1.9 MiB)")


def test_same_content_is_stored_once(store: FileStore, tmp_path: Path) -> None:
    data = _data(5000)
    first = store.put_stream(io.BytesIO(data))
    path = store.path(first[0])
    before = path.stat()
    second = store.put_stream(io.BytesIO(data))
    source = tmp_path / "copy.bin"
    source.write_bytes(data)
    third = store.put_file(source)
    writer = StoreWriter(store, limit=10 ** 6)
    writer.write(data[:100])
    writer.write(data[100:])
    fourth = writer.commit()
    assert first == second == fourth == (hashlib.sha256(data).hexdigest(), 5000)
    assert third == first[0]
    assert _files(store.root) == [path]
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert _files(store.scratch) == []


def test_different_contents_are_different_files(store: FileStore) -> None:
    shas = {store.put_stream(io.BytesIO(bytes([i]) * 10))[0] for i in range(5)}
    assert len(shas) == 5
    assert store.all() == shas
    assert len(_files(store.root)) == 5


def test_writer_in_pieces(store: FileStore) -> None:
    data = _data(2 * (1 << 20) + 3, seed=2)
    writer = StoreWriter(store, limit=len(data))
    for start in range(0, len(data), 65536):
        writer.write(data[start:start + 65536])
    assert writer.size == len(data)
    sha, size = writer.commit()
    assert (sha, size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert store.path(sha).read_bytes() == data
    assert _files(store.scratch) == []


def test_writer_past_the_limit_keeps_nothing_and_counts_on(store: FileStore) -> None:
    writer = StoreWriter(store, limit=100)
    writer.write(b"a" * 60)
    assert _files(store.scratch) != []  # being written
    writer.write(b"b" * 60)
    assert writer.too_large
    assert _files(store.scratch) == []  # dropped at once, not at the end
    writer.write(b"c" * 1000)
    assert writer.size == 1120
    with pytest.raises(TooLargeError) as info:
        writer.commit()
    assert info.value.limit == 100
    assert _files(store.root) == []
    assert _files(store.scratch) == []


def test_writer_abort_keeps_nothing(store: FileStore) -> None:
    writer = StoreWriter(store, limit=100)
    writer.write(b"half a file")
    writer.abort()
    assert _files(store.root) == []
    assert _files(store.scratch) == []


def test_verify_detects_a_flipped_byte(store: FileStore) -> None:
    data = _data(4096, seed=3)
    sha, _ = store.put_stream(io.BytesIO(data))
    assert store.verify(sha) is True
    path = store.path(sha)
    damaged = bytearray(data)
    damaged[2048] ^= 0x01
    os.chmod(path, 0o600)
    path.write_bytes(bytes(damaged))
    assert store.verify(sha) is False
    path.write_bytes(data)
    assert store.verify(sha) is True
    path.write_bytes(data[:-1])  # truncated
    assert store.verify(sha) is False


def test_verify_of_a_missing_file_is_false(store: FileStore) -> None:
    assert store.verify("0" * 64) is False
    with pytest.raises(NotFound, match="the file store holds no file 0{64}"):
        store.open("0" * 64)


@pytest.mark.parametrize("name", [
    "",
    "abc",
    "0" * 63,
    "0" * 65,
    "A" * 64,                        # upper case is not how hashes are written here
    "g" * 64,
    "../" + "0" * 61,
    "/etc/passwd".ljust(64, "0"),
    "00/" + "0" * 61,
    "0" * 62 + "\x00\x00",
])
def test_path_refuses_what_is_not_a_hex_sha256(store: FileStore, name: str) -> None:
    with pytest.raises(NotFound, match="no stored file"):
        store.path(name)
    with pytest.raises(NotFound):
        store.verify(name)


def test_remove_refuses_a_bad_name_and_skips_an_empty_one(store: FileStore) -> None:
    sha, _ = store.put_stream(io.BytesIO(b"kept"))
    with pytest.raises(NotFound):
        store.remove(["../" + sha[3:]])
    store.remove([""])  # a row without a file
    assert store.all() == {sha}


def test_remove_orphans_and_scratch(store: FileStore) -> None:
    kept, orphan = (store.put_stream(io.BytesIO(d))[0] for d in (b"kept", b"orphan"))
    assert store.orphans({kept}) == {orphan}
    store.remove([orphan, orphan, ""])
    assert store.all() == {kept}
    (store.scratch / "upload-crashed").write_bytes(b"partial")
    (store.scratch / "job-1-x").mkdir()
    (store.scratch / "job-1-x" / "table.biom").write_bytes(b"partial")
    store.clear_scratch()
    assert list(store.scratch.iterdir()) == []
    assert store.all() == {kept}


# ------------------------------------------------------------------ removal beside writers
def _nothing_named(shas: set[str]) -> set[str]:
    return set()


def test_a_held_file_is_kept_until_its_writer_commits(store: FileStore) -> None:
    # the same bytes arrive for a new row while an old row naming them is dropped:
    # the remover must not take the file from under the row about to be committed
    asked: list[set[str]] = []
    remover = FileStore(store.root, store.scratch)  # another process's view of the store
    with store.holding():
        sha, _ = store.put_stream(io.BytesIO(b"lab results"))
        assert remover.remove_unnamed([sha], lambda shas: asked.append(shas) or set()) == set()
        assert store.verify(sha)
        assert asked == []  # a held file is not even a candidate
    assert list(store.held.iterdir()) == []  # released
    assert remover.remove_unnamed([sha], lambda shas: asked.append(shas) or set()) == {sha}
    assert asked == [{sha}] and not store.path(sha).exists()


def test_remove_unnamed_keeps_what_rows_still_name(store: FileStore) -> None:
    a, b = (store.put_stream(io.BytesIO(d))[0] for d in (b"a", b"b"))
    assert store.remove_unnamed([a, b, ""], lambda shas: shas & {a}) == {b}
    assert store.all() == {a}
    assert store.remove_unnamed([""], _nothing_named) == set()
    with pytest.raises(NotFound):
        store.remove_unnamed(["../" + a[3:], a], _nothing_named)
    assert store.all() == {a}  # a bad name refuses the whole call


def test_a_file_removed_before_a_writer_places_it_is_placed_again(store: FileStore) -> None:
    sha, _ = store.put_stream(io.BytesIO(b"same bytes"))
    assert store.remove_unnamed([sha], _nothing_named) == {sha}
    writer = StoreWriter(store, limit=100)
    writer.write(b"same bytes")
    with store.holding():
        assert writer.commit() == (sha, 10)
    assert store.verify(sha)


def test_a_block_inside_another_holds_until_the_outer_one_ends(store: FileStore) -> None:
    with store.holding():
        outer, _ = store.put_stream(io.BytesIO(b"outer"))
        with store.holding():
            inner, _ = store.put_stream(io.BytesIO(b"inner"))
        assert store.remove_unnamed([outer, inner], _nothing_named) == set()
    assert store.remove_unnamed([outer, inner], _nothing_named) == {outer, inner}


def test_a_place_outside_a_block_holds_nothing(store: FileStore) -> None:
    sha, _ = store.put_stream(io.BytesIO(b"seeded before the server starts"))
    assert not store.held.exists()
    assert store.remove_unnamed([sha], _nothing_named) == {sha}


def test_a_hold_left_by_a_crashed_writer_expires(store: FileStore) -> None:
    sha, _ = store.put_stream(io.BytesIO(b"orphaned hold"))
    store.held.mkdir()
    mark = store.held / f"{sha}.crashed"
    mark.touch()
    assert store.remove_unnamed([sha], _nothing_named) == set()
    old = mark.stat().st_mtime - 2 * 3600
    os.utime(mark, (old, old))
    assert store.remove_unnamed([sha], _nothing_named) == {sha}
    assert not mark.exists()


def test_the_store_lock_excludes_other_processes(store: FileStore) -> None:
    import subprocess
    import sys
    import threading

    code = ("import fcntl, os, sys\n"
            "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('locked', flush=True)\n"
            "sys.stdin.readline()\n")
    with subprocess.Popen([sys.executable, "-c", code, str(store.root / ".lock")],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdin is not None and child.stdout is not None
        assert child.stdout.readline() == "locked\n"
        data = b"placed only once the other process lets go"
        writer = threading.Thread(target=store.put_stream, args=(io.BytesIO(data),))
        writer.start()
        writer.join(timeout=0.5)
        assert writer.is_alive() and store.all() == set()  # waiting for the lock
        child.stdin.write("go\n")
        child.stdin.flush()
        writer.join(timeout=10)
    assert store.all() == {hashlib.sha256(data).hexdigest()}
