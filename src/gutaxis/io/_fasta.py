"""FASTA nucleotide sequences (and ``FeatureData[Sequence]`` artifacts)."""

from __future__ import annotations

import re

import pandas as pd

from gutaxis.exceptions import FormatError, ValidationError
from gutaxis.io._common import PathLike
from gutaxis.io._qza import text_or_artifact

__all__ = ["read_sequences", "parse_fasta"]

#: IUPAC nucleotide codes accepted in a DNA sequence (upper case after reading).
IUPAC_DNA = "ACGTRYSWKMBDHVN"
_BAD = re.compile(f"[^{IUPAC_DNA}{IUPAC_DNA.lower()}]")


def parse_fasta(text: str, source: str) -> pd.Series:
    """Parse FASTA text into id → upper-case DNA sequence.

    Parameters
    ----------
    text : str
        The file content.
    source : str
        The file name, for messages.

    Returns
    -------
    pandas.Series
        Object dtype, indexed by the first word of each header line.

    Raises
    ------
    FormatError
        Text before the first ``>`` header, a header with no id, a sequence
        with a character outside the IUPAC DNA alphabet, or no records.
    ValidationError
        A repeated id or an empty sequence.
    """
    ids: list[str] = []
    seqs: list[str] = []
    where: dict[str, int] = {}
    chunks: list[str] = []
    header_line = 0

    def close() -> None:
        if ids:
            if not chunks:
                raise ValidationError(f"{source}: line {header_line}: sequence {ids[-1]!r} "
                                      "is empty")
            seqs.append("".join(chunks).upper())

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(";"):
            continue
        if line.startswith(">"):
            close()
            chunks = []
            words = line[1:].split()
            if not words:
                raise FormatError(f"{source}: line {number}: header '>' has no sequence id")
            ident = words[0]
            if ident in where:
                raise ValidationError(f"{source}: line {number}: sequence id {ident!r} already "
                                      f"used on line {where[ident]}; ids must be unique")
            where[ident] = number
            ids.append(ident)
            header_line = number
            continue
        if not ids:
            raise FormatError(f"{source}: line {number}: expected a '>' header line before "
                              f"sequence data; found {line[:40]!r}. Is this a FASTA file?")
        line = "".join(line.split())
        bad = _BAD.search(line)
        if bad:
            char = bad.group(0)
            hint = " (aligned sequences with gaps are not accepted here)" if char in "-." else ""
            raise FormatError(
                f"{source}: line {number}: character {char!r} at column {bad.start() + 1} of "
                f"sequence {ids[-1]!r} is not an IUPAC DNA code ({IUPAC_DNA}){hint}"
            )
        chunks.append(line)
    close()
    if not ids:
        raise FormatError(f"{source}: no FASTA records found (expected '>id' lines followed "
                          "by sequence lines)")
    return pd.Series(seqs, index=pd.Index(ids, dtype=object), dtype=object, name="sequence")


def read_sequences(path: PathLike) -> pd.Series:
    """Read DNA sequences from FASTA or a ``FeatureData[Sequence]`` ``.qza``.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    pandas.Series
        Feature id → upper-case sequence; ``attrs["provenance"]`` is the read
        record (format, path, sha256).

    Raises
    ------
    FormatError
        Not FASTA, a non-IUPAC character (the message names line and column),
        or a ``.qza`` of another type.
    ValidationError
        Repeated ids or empty sequences.
    UnsafeInputError
        The file exceeds the size limit.
    """
    text, label, record = text_or_artifact(path, artifact_type="FeatureData[Sequence]",
                                           member="data/dna-sequences.fasta", fmt="fasta",
                                           what="the FASTA file")
    seqs = parse_fasta(text, label)
    seqs.attrs["provenance"] = record
    return seqs
