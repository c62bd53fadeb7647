"""FASTA sequences."""

from __future__ import annotations

import pytest

from gutaxis.exceptions import FormatError, UnsafeInputError, ValidationError
from gutaxis.io import read_sequences


def _write(tmp_path, text):
    path = tmp_path / "seqs.fasta"
    path.write_text(text)
    return path


def test_read(tmp_path):
    seqs = read_sequences(_write(tmp_path, ">a1 some description\nacgt\nRYKM\n\n>a2\nNNNN\n"))
    assert seqs.to_dict() == {"a1": "ACGTRYKM", "a2": "NNNN"}


def test_bad_character_named(tmp_path):
    with pytest.raises(FormatError, match=r"seqs\.fasta: line 4: character 'X' at column 2 of "
                                          r"sequence 'a2' is not an IUPAC DNA code"):
        read_sequences(_write(tmp_path, ">a1\nACGT\n>a2\nAXGT\n"))


def test_gap_hint(tmp_path):
    with pytest.raises(FormatError, match="aligned sequences with gaps are not accepted"):
        read_sequences(_write(tmp_path, ">a1\nAC-GT\n"))


def test_duplicate_id(tmp_path):
    with pytest.raises(ValidationError, match=r"line 3: sequence id 'a' already used on line 1"):
        read_sequences(_write(tmp_path, ">a\nACGT\n>a\nACGT\n"))


def test_empty_sequence(tmp_path):
    with pytest.raises(ValidationError, match=r"line 1: sequence 'a' is empty"):
        read_sequences(_write(tmp_path, ">a\n>b\nACGT\n"))


def test_not_fasta(tmp_path):
    with pytest.raises(FormatError, match=r"line 1: expected a '>' header line"):
        read_sequences(_write(tmp_path, "id\tsequence\na\tACGT\n"))


def test_size_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("GUTAXIS_MAX_TEXT_BYTES", "10")
    with pytest.raises(UnsafeInputError, match="GUTAXIS_MAX_TEXT_BYTES"):
        read_sequences(_write(tmp_path, ">a\nACGTACGTACGT\n"))


def test_binary_file(tmp_path):
    path = tmp_path / "x.fasta"
    path.write_bytes(b">a\nAC\x00GT\n")
    with pytest.raises(FormatError, match="NUL"):
        read_sequences(path)
