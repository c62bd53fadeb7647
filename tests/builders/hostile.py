"""Hostile uploads: crafted files the readers refuse, zip bombs, a large valid table.

Each builder returns bytes (what a client would upload).  The HDF5, JSON and
qza cases are the ones of ``tests/io/test_safety.py`` (built with
:mod:`builders.io`), here sent through the practice application.
"""

from __future__ import annotations

import dataclasses
import json
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

from builders.io import UUID, biom_bytes, make_qza, small_biom, symlink_info

#: What a crafted file must never let out (it sits in a file next to the upload).
SECRET = "TOP-SECRET-CONTENT-42"


@dataclasses.dataclass(frozen=True)
class Case:
    """One crafted upload: its form fields, and what the failed job must say."""

    name: str
    kind: str
    filename: str
    make: Callable[[Path], bytes]
    expected: str  # a regular expression the job's message must match (after the file name)


# ----------------------------------------------------------------------------- zip files
def deflate_repeated(chunk: bytes, times: int) -> tuple[bytes, int, int]:
    """Raw deflate data of ``chunk * times`` without compressing it ``times`` times.

    The chunk is compressed once and ended with a full flush (byte-aligned,
    history reset), so copies of that block decode to copies of the chunk.

    Returns
    -------
    data : bytes
        The raw deflate stream (what a zip member holds).
    crc : int
        CRC-32 of the uncompressed data.
    size : int
        Length of the uncompressed data.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = compressor.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(times):
        crc = zlib.crc32(chunk, crc)
    return block * times + end, crc, len(chunk) * times


def raw_zip(members: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip archive of deflated members given as (name, deflate data, crc, declared size).

    The declared size goes into both headers as is — a member may lie about
    how much it expands to.
    """
    out = bytearray()
    central = bytearray()
    for name, data, crc, size in members:
        encoded = name.encode()
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data),
                           size, len(encoded), 0) + encoded + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc,
                               len(data), size, len(encoded), 0, 0, 0, 0, 0, offset) + encoded
    start = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central),
                       start, 0)
    return bytes(out)


def _deflated(name: str, data: bytes) -> tuple[str, bytes, int, int]:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return (name, compressor.compress(data) + compressor.flush(), zlib.crc32(data), len(data))


def _artifact_head() -> list[tuple[str, bytes, int, int]]:
    meta = f"uuid: {UUID}\ntype: FeatureTable[Frequency]\nformat: BIOMV210DirFmt\n"
    return [_deflated(f"{UUID}/VERSION", b"QIIME 2\narchive: 5\nframework: 2024.2.0\n"),
            _deflated(f"{UUID}/metadata.yaml", meta.encode())]


def zip_bomb(expanded_mib: int = 1024) -> bytes:
    """A ``.qza`` whose feature table expands ~1,000-fold (zeros): honest headers."""
    data, crc, size = deflate_repeated(b"\0" * (1 << 20), expanded_mib)
    return raw_zip([*_artifact_head(), (f"{UUID}/data/feature-table.biom", data, crc, size)])


def lying_zip_bomb(expanded_mib: int = 256) -> bytes:
    """A ``.qza`` whose feature table declares 4 KiB and expands to ``expanded_mib`` MiB."""
    data, crc, _size = deflate_repeated(b"\0" * (1 << 20), expanded_mib)
    return raw_zip([*_artifact_head(),
                    (f"{UUID}/data/feature-table.biom", data, crc, 4096)])


def modest_zip_bomb(expanded_mib: int = 1024) -> bytes:
    """A ``.qza`` whose feature table expands ~150-fold: under the readers' ratio limit.

    Each MiB holds 6,000 random bytes, so the member stays below the 200-fold
    compression ratio the qza reader refuses, and only the job's memory limit
    stops it.
    """
    rng = np.random.default_rng(7)
    chunk = bytearray(1 << 20)
    chunk[:6000] = rng.integers(0, 256, 6000, dtype=np.uint8).tobytes()
    data, crc, size = deflate_repeated(bytes(chunk), expanded_mib)
    return raw_zip([*_artifact_head(), (f"{UUID}/data/feature-table.biom", data, crc, size)])


def billion_laughs() -> bytes:
    """A ``.qza`` whose 500-byte metadata.yaml is a 'billion laughs': 9⁹ strings by aliases."""
    lines = ["a0: &a0 [" + ", ".join(["lol"] * 9) + "]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    lines += ["uuid: *a8", "type: FeatureTable[Frequency]", "format: BIOMV210DirFmt"]
    meta = ("\n".join(lines) + "\n").encode()
    return raw_zip([_deflated(f"{UUID}/VERSION", b"QIIME 2\narchive: 5\n"),
                    _deflated(f"{UUID}/metadata.yaml", meta)])


# ----------------------------------------------------------------------------- a large table
def large_table(n_features: int = 4000, n_samples: int = 1000, seed: int = 3) -> bytes:
    """A valid dense TSV feature table (counts 0–99), ~4 MB per million cells."""
    rng = np.random.default_rng(seed)
    digits = np.array([str(i).encode() for i in range(100)], dtype=object)
    header = b"#OTU ID\t" + b"\t".join(f"S{j}".encode() for j in range(n_samples)) + b"\n"
    rows = [header]
    for i in range(n_features):
        values = digits[rng.integers(0, 100, n_samples)]
        rows.append(f"F{i}\t".encode() + b"\t".join(values) + b"\n")
    return b"".join(rows)


# ----------------------------------------------------------------------------- the cases
def _biom(**kwargs: object) -> Callable[[Path], bytes]:
    def make(folder: Path) -> bytes:
        return small_biom(folder / "crafted.biom", **kwargs).read_bytes()  # type: ignore[arg-type]
    return make


def _secret_h5(folder: Path) -> Path:
    other = folder / "secret.h5"
    with h5py.File(other, "w") as f:
        f["data"] = np.array([1.0, 2.0, 3.0, 4.0])
        f["s"] = SECRET
    return other


def _external_link(folder: Path) -> bytes:
    other = _secret_h5(folder)

    def tweak(f: h5py.File) -> None:
        del f["observation/matrix/data"]
        f["observation/matrix/data"] = h5py.ExternalLink(str(other), "/data")
    return small_biom(folder / "crafted.biom", tweak=tweak).read_bytes()


def _external_storage(folder: Path) -> bytes:
    raw = folder / "secret.bin"
    raw.write_bytes(np.arange(4, dtype="<f8").tobytes())

    def tweak(f: h5py.File) -> None:
        del f["observation/matrix/data"]
        f["observation/matrix"].create_dataset("data", shape=(4,), dtype="<f8",
                                               external=[(str(raw), 0, 32)])
    return small_biom(folder / "crafted.biom", tweak=tweak).read_bytes()


def _virtual_dataset(folder: Path) -> bytes:
    other = _secret_h5(folder)

    def tweak(f: h5py.File) -> None:
        del f["observation/matrix/data"]
        layout = h5py.VirtualLayout(shape=(4,), dtype="f8")
        layout[:] = h5py.VirtualSource(str(other), "data", shape=(4,))
        f["observation/matrix"].create_virtual_dataset("data", layout)
    return small_biom(folder / "crafted.biom", tweak=tweak).read_bytes()


def _truncated(folder: Path) -> bytes:
    return small_biom(folder / "crafted.biom").read_bytes()[:600]


def _enormous_shape(f: h5py.File) -> None:
    f.attrs["shape"] = np.array([10**12, 2], dtype=np.int64)


def _json_table(**overrides: object) -> Callable[[Path], bytes]:
    table: dict[str, object] = {
        "format": "Biological Observation Matrix 1.0.0", "matrix_type": "sparse",
        "shape": [2, 2], "rows": [{"id": "F0"}, {"id": "F1"}],
        "columns": [{"id": "S0"}, {"id": "S1"}], "data": [[0, 0, 1], [1, 1, 2]]}
    table.update(overrides)
    return lambda folder: json.dumps(table).encode()


def _qza(extra: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Callable[[Path], bytes]:
    def make(folder: Path) -> bytes:
        return make_qza(folder / "crafted.qza", "FeatureTable[Frequency]",
                        {"data/feature-table.biom": biom_bytes(folder)},
                        extra=extra).read_bytes()
    return make


def _text(text: bytes) -> Callable[[Path], bytes]:
    return lambda folder: text


MICROBIOME = [
    Case("indptr falls", "microbiome", "falls.biom", _biom(indptr=[0, 3, 1, 4]),
         r"observation/matrix/indptr must be non-decreasing; it falls from 3 to 1 at row 1"),
    Case("index out of bounds", "microbiome", "bounds.biom", _biom(indices=[0, 0, 5, 1]),
         r"indices contains 5, outside 0…1 \(the table declares 2 samples\)"),
    Case("enormous declared shape", "microbiome", "huge-shape.biom",
         _biom(tweak=_enormous_shape), r"declared 1,000,000,000,000 features"),
    Case("HDF5 external link", "microbiome", "link.biom", _external_link,
         r"HDF5 object '/observation/matrix/data' is an external link"),
    Case("HDF5 external storage", "microbiome", "raw.biom", _external_storage,
         r"keeps its data in external file.*external storage is refused"),
    Case("HDF5 virtual dataset", "microbiome", "vds.biom", _virtual_dataset, r"virtual dataset"),
    Case("truncated HDF5", "microbiome", "cut.biom", _truncated, r"\S"),
    Case("JSON nested 200,000 deep", "microbiome", "deep.json",
         _text(b'{"data": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"), r"\S"),
    Case("invalid JSON", "microbiome", "bad.json", _text(b'{"shape": [1, 1],\n "rows": [}'),
         r"invalid JSON at line 2"),
    Case("JSON value NaN", "microbiome", "nan.json", _json_table(data=[[0, 0, float("nan")]]),
         r"sample 'S0', feature 'F0' is nan"),
    Case("qza path traversal", "microbiome", "traversal.qza",
         _qza([(f"{UUID}/../../evil.txt", b"x")]),
         r"archive member .*contains '\.\.' \(path traversal\)"),
    Case("qza absolute member", "microbiome", "absolute.qza", _qza([("/etc/evil", b"x")]),
         r"archive member '/etc/evil' has an absolute path"),
    Case("qza symbolic link", "microbiome", "symlink.qza",
         _qza([(symlink_info(f"{UUID}/data/link"), b"/etc/passwd")]),
         r"member '.*/data/link' is a symbolic link"),
    Case("qza zip bomb (1 GiB of zeros)", "microbiome", "bomb.qza", lambda f: zip_bomb(),
         r"archive member '.*feature-table\.biom' expands 1,0\d\d-fold .*zip bomb"),
    Case("qza member longer than its header says", "microbiome", "liar.qza",
         lambda f: lying_zip_bomb(), r"feature-table\.biom"),
    Case("qza billion laughs in metadata.yaml", "microbiome", "laughs.qza",
         lambda f: billion_laughs(), r"metadata\.yaml field 'uuid' should be a string"),
    Case("not UTF-8", "microbiome", "latin1.tsv",
         _text("#OTU ID\tS1\nF\u00e9\t3\n".encode("latin-1")), r"UTF-8"),
    Case("UTF-16", "microbiome", "utf16.tsv", _text("#OTU ID\tS1\nF1\t3\n".encode("utf-16")),
         r"encoded as UTF-16"),
    Case("random bytes", "microbiome", "noise.biom",
         lambda f: np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
         r"\S"),
    Case("empty file", "microbiome", "empty.tsv", _text(b""), r"\S"),
    Case("negative count", "microbiome", "negative.tsv", _text(b"#OTU ID\tS1\nF1\t-3\nF2\t5\n"),
         r"negative"),
]

LABS = [
    Case("labs not UTF-8", "labs", "LABS.csv",
         _text("sample_id,marker,value,unit\nP\u00e9,LPS,3,pg/mL\n".encode("latin-1")),
         r"UTF-8"),
    Case("labs value not a number", "labs", "LABS-text.csv",
         _text(b"sample_id,marker,value,unit\nP1,LPS,lots,pg/mL\n"), r"line 2.*value"),
    Case("labs unknown marker", "labs", "LABS-marker.csv",
         _text(b"sample_id,marker,value,unit\nP1,unobtainium,3,pg/mL\n"), r"unobtainium"),
    Case("labs missing column", "labs", "LABS-columns.csv",
         _text(b"sample_id,marker,value\nP1,LPS,3\n"), r"unit"),
    Case("labs wrong unit", "labs", "LABS-unit.csv",
         _text(b"sample_id,marker,value,unit\nP1,hs-CRP,3,furlongs\n"), r"furlongs"),
]

CASES = MICROBIOME + LABS
