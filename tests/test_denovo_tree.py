"""Tests of gutaxis.denovo_tree: ASV ids as sequences, masking, de novo trees and their cache."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from gutaxis import denovo_tree
from gutaxis.denovo_tree import (
    build_tree,
    default_cache_dir,
    ids_look_like_sequences,
    mask_alignment,
    sequences_from_ids,
)
from gutaxis.exceptions import InputError, ToolError
from gutaxis.tree import Tree


def mutated_family(n: int = 10, length: int = 80, seed: int = 0) -> pd.Series:
    """``n`` related sequences: an ancestor, point mutations and one indel each."""
    rng = np.random.default_rng(seed)
    root = rng.choice(list("ACGT"), length)
    seqs = {}
    for k in range(n):
        s = root.copy()
        sites = rng.choice(length, 3 + k, replace=False)
        s[sites] = rng.choice(list("ACGT"), len(sites))
        seq = "".join(s)
        cut = int(rng.integers(5, length - 5))
        seq = seq[:cut] + seq[cut + 1:] if k % 3 == 0 else seq
        seqs[f"asv_{k}"] = seq
    return pd.Series(seqs)


# ---------------------------------------------------------------- ids as sequences
def test_ids_look_like_sequences():
    asv = "TACGGAGGATCCGAGCGTTATCCGGATTTATTGGGTTTAAAGGGAGCGTAGGCGG"
    assert ids_look_like_sequences([asv, asv.lower(), asv.replace("T", "U")])
    assert ids_look_like_sequences([asv[:20]], min_length=20)
    assert not ids_look_like_sequences([])
    assert not ids_look_like_sequences([asv, "ASV_1"])
    assert not ids_look_like_sequences(["4b5f2d0a9c1e8f7a6b5c4d3e2f1a0b9c"])  # an MD5 id
    assert not ids_look_like_sequences([asv[:30]])  # too short
    assert not ids_look_like_sequences(["N" * 60])  # not mostly A/C/G/T


def test_sequences_from_ids():
    ids = ["ACGU" * 15, "acgt" * 15]
    s = sequences_from_ids(ids)
    assert list(s.index) == ids
    assert s.tolist() == ["ACGT" * 15, "ACGT" * 15]
    assert s.name == "sequence"
    with pytest.raises(InputError, match=r"not nucleotide sequences \(e\.g\. 'f1'\)"):
        sequences_from_ids(["ACGT" * 15, "f1"])


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("GUTAXIS_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("GUTAXIS_CACHE_DIR")
    assert default_cache_dir().parts[-3:] == (".cache", "gutaxis", "trees")


# ---------------------------------------------------------------- masking
def test_mask_alignment_follows_qiime2_rule():
    rows = np.array([list(b"AAC-T-"), list(b"AGC-T-"), list(b"ATG-A-"), list(b"ACGAA-")],
                    dtype=np.uint8)
    keep = mask_alignment(rows)
    # column 0: A×4 -> 1.0; col 1: A,G,T,C -> 0.25 (dropped); col 2: C,C,G,G -> 0.5;
    # col 3: one A among gaps -> conservation 1.0 (gaps ignored), gap frequency 0.75;
    # col 4: T,T,A,A -> 0.5; col 5: all gaps -> dropped
    assert keep.tolist() == [True, False, True, True, True, False]
    assert mask_alignment(rows, max_gap_frequency=0.5).tolist() == [True, False, True, False,
                                                                    True, False]


# ---------------------------------------------------------------- de novo trees
def test_build_tree_and_cache(tmp_path):
    seqs = mutated_family()
    tree, info = build_tree(seqs, cache_dir=tmp_path, threads=1)
    assert isinstance(tree, Tree)
    assert sorted(tree.tip_names) == sorted(seqs.index)
    assert tree.root_children == 2 and tree.has_all_lengths
    assert info["source"] == "de novo" and info["rooting"] == "midpoint"
    assert info["aligner"].startswith("pyfamsa ") and "FAMSA" in info["aligner"]
    assert info["tree_builder"].startswith("VeryFastTree ")
    assert info["model"].startswith("JC+CAT20")
    assert info["cached"] is False and info["seconds"] > 0
    assert info["masked_columns"] <= info["alignment_columns"]
    key = info["cache_key"]
    assert len(key) == 64
    assert (tmp_path / f"{key}.nwk").is_file()
    assert json.loads((tmp_path / f"{key}.json").read_text())["cache_key"] == key
    # second call (other thread count, shuffled order): from the cache
    tree2, info2 = build_tree(seqs.sample(frac=1, random_state=1), cache_dir=tmp_path, threads=2)
    assert info2["cached"] is True and info2["cache_key"] == key
    assert info2["seconds"] < info["seconds"]
    assert tree2.to_newick() == tree.to_newick()
    # another sequence set: another key
    _, info3 = build_tree(seqs.iloc[:5], cache_dir=tmp_path, threads=1)
    assert info3["cache_key"] != key and info3["cached"] is False


def test_damaged_cache_entry_is_rebuilt(tmp_path):
    seqs = mutated_family(5, seed=2)
    _, info = build_tree(seqs, cache_dir=tmp_path, threads=1)
    (tmp_path / f"{info['cache_key']}.nwk").write_text("((broken;")
    tree, again = build_tree(seqs, cache_dir=tmp_path, threads=1)
    assert again["cached"] is False and tree.n_tips == 5


def test_a_cache_that_cannot_be_written_still_gives_the_tree(tmp_path, monkeypatch, caplog):
    # a read-only shared cache aborted the run after the tree was built
    from gutaxis import denovo_tree
    from gutaxis.exceptions import OutputError

    def refuse(path, text):
        raise OutputError(f"{path.parent}: cannot make a file there (Permission denied)")

    monkeypatch.setattr(denovo_tree, "_write_atomic", refuse)
    seqs = mutated_family(5, seed=3)
    with caplog.at_level("WARNING", logger="gutaxis.denovo_tree"):
        tree, info = build_tree(seqs, cache_dir=tmp_path, threads=1)
    assert tree.n_tips == 5 and info["cached"] is False
    assert any("could not cache the tree" in r.getMessage() for r in caplog.records)


def test_build_tree_input_errors(tmp_path):
    with pytest.raises(InputError, match="at least 3 sequences; got 2"):
        build_tree(pd.Series({"a": "ACGT", "b": "ACGA"}), cache_dir=tmp_path)
    with pytest.raises(InputError, match="unique; duplicated: 'a'"):
        build_tree(pd.Series(["ACGT", "ACGA", "AAGA"], index=["a", "a", "b"]), cache_dir=tmp_path)
    with pytest.raises(InputError, match=r"sequence 'c' contains 'J', 'X' \(first at position 3\)"):
        build_tree(pd.Series({"a": "ACGT", "b": "ACGA", "c": "ACXJ"}), cache_dir=tmp_path)
    with pytest.raises(InputError, match="sequence 'b' is empty"):
        build_tree(pd.Series({"a": "ACGT", "b": "--", "c": "ACGA"}), cache_dir=tmp_path)
    with pytest.raises(InputError, match="unknown model"):
        build_tree(mutated_family(4), cache_dir=tmp_path, model="lg")
    with pytest.raises(InputError, match="pandas Series"):
        build_tree({"a": "ACGT"}, cache_dir=tmp_path)  # type: ignore[arg-type]


def test_tool_failures_raise_tool_error(tmp_path, monkeypatch):
    seqs = mutated_family(6, seed=3)
    with pytest.raises(ToolError, match="did not finish within"):
        build_tree(seqs, cache_dir=tmp_path, timeout=1e-6)
    monkeypatch.setattr(denovo_tree, "_veryfasttree_binary", lambda: "/bin/false")
    with pytest.raises(ToolError, match=r"VeryFastTree failed \(exit status 1\)"):
        build_tree(seqs, cache_dir=tmp_path)
    monkeypatch.setattr(denovo_tree, "_veryfasttree_binary", lambda: str(tmp_path / "missing"))
    with pytest.raises(ToolError, match="cannot run VeryFastTree"):
        build_tree(seqs, cache_dir=tmp_path)
    assert not list(tmp_path.glob("*.nwk"))  # nothing cached after failures
