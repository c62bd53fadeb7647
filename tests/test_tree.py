"""Tests of gutaxis.tree: Newick parsing/writing, conversions, shear, midpoint rooting."""

from __future__ import annotations

import io
import math
import time

import numpy as np
import pytest
import skbio

from gutaxis.exceptions import FormatError, NotFoundError, UnsafeInputError
from gutaxis.io import read_tree, write_tree
from gutaxis.tree import Tree


def random_tree(n_tips: int, seed: int, *, prefix: str = "T") -> Tree:
    """Random binary tree (random joins) with exponential branch lengths."""
    rng = np.random.default_rng(seed)
    n = 2 * n_tips - 1
    parent = np.full(n, -1, dtype=np.int64)
    active = list(range(n_tips))
    nxt = n_tips
    while len(active) > 1:
        i, j = sorted(rng.choice(len(active), 2, replace=False), reverse=True)
        parent[active[i]] = parent[active[j]] = nxt
        active.pop(i)
        active.pop(j)
        active.append(nxt)
        nxt += 1
    lengths = rng.exponential(1.0, n)
    lengths[-1] = np.nan
    names = [f"{prefix}{i}" for i in range(n_tips)] + [None] * (n - n_tips)
    return Tree.from_arrays(parent, lengths, names)


def clades(tree: Tree, digits: int = 9) -> set[tuple[frozenset[str], float]]:
    """Canonical form: every node as (tip names below it, rounded branch length)."""
    below: list[set[str]] = [set() for _ in range(tree.n_nodes)]
    out = set()
    for v in range(tree.n_nodes):
        if tree.is_tip[v]:
            below[v].add(tree.names[v])
        if v < tree.n_nodes - 1:
            below[tree.parent[v]] |= below[v]
        length = tree.lengths[v]
        out.add((frozenset(below[v]), None if math.isnan(length) else round(length, digits)))
    return out


# ---------------------------------------------------------------- parsing
def test_parse_basic_postorder_arrays():
    t = Tree.from_newick("((A:1,B:2)X:0.5,C:3)R;")
    assert t.n_tips == 3 and t.n_nodes == 5 and len(t) == 5
    assert list(t.tip_names) == ["A", "B", "C"]
    assert list(t.names) == ["A", "B", "X", "C", "R"]
    assert t.parent.tolist() == [2, 2, 4, 4, -1]
    np.testing.assert_array_equal(t.lengths[:-1], [1, 2, 0.5, 3])
    assert math.isnan(t.lengths[-1])
    assert t.subtree_start.tolist() == [0, 1, 0, 3, 0]
    assert t.children(4).tolist() == [2, 3]
    assert t.root_children == 2
    assert t.has_all_lengths
    assert t.tip_depths().to_dict() == {"A": 1.5, "B": 2.5, "C": 3.0}
    with pytest.raises(ValueError):
        t.parent[0] = 3  # immutable


def test_parse_labels_comments_whitespace_numbers():
    text = ("[a comment] ( 'tip one':1e-3 ,\n 'it''s'[&&NHX:x=1]:.5,\t"
            "(c_1:2.5E+1,d:0)'0.95':1 ) root:0.25 ;\n")
    t = Tree.from_newick(text)
    assert list(t.tip_names) == ["tip one", "it's", "c_1", "d"]
    assert t.names[-2] == "0.95"
    assert t.lengths.tolist() == [0.001, 0.5, 25.0, 0.0, 1.0, 0.25]
    assert list(Tree.from_newick("(a_b,c);", convert_underscores=True).tip_names) == ["a b", "c"]
    assert list(Tree.from_newick("('a_b',c);", convert_underscores=True).tip_names) == ["a_b", "c"]


def test_missing_lengths_are_nan_like_skbio_none():
    t = Tree.from_newick("(A:1,B)C;")
    assert math.isnan(t.lengths[1]) and not t.has_all_lengths
    assert t.to_newick() == "(A:1.0,B)C;"
    assert t.to_skbio().find("B").length is None


def test_single_tip_tree():
    t = Tree.from_newick("A:2;")
    assert t.n_tips == 1 and t.n_nodes == 1 and t.to_newick() == "A:2.0;"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("((A,B);",
         r"character 1 \(line 1, column 1\): unbalanced parentheses: this '\(' is never"),
        ("(A,(B,C;", r"character 4 .*never closed \(2 unclosed\)"),
        ("(A,B));", r"character 6 .*this '\)' has no matching '\('"),
        ("(A:x,B);", r"character 4 .*bad branch length 'x'"),
        ("(A:1:2,B);", r"character 5 .*unexpected ':'"),
        ("(A:nan,B);", r"bad branch length 'nan'"),
        ("(A:inf,B);", r"bad branch length 'inf'"),
        ("(A:1e999,B);", r"branch length '1e999' is not finite"),
        ("(A:-1,B);", r"character 4 .*negative branch length '-1'"),
        ("(A,A);", r"character 4 .*tip names must be unique; duplicated: 'A'"),
        ("(,B);", r"character 2 .*a tip has no name"),
        ("(A,B)", r"character 6 .*does not end with ';'"),
        ("(A,B);C", r"character 7 .*after the ';'"),
        ("('A,B);", r"unterminated quoted label"),
        ("(A,B)[x;", r"unterminated comment"),
        ("", r"empty Newick text"),
        (";", r"empty tree"),
        ("(A B,C);", r"cannot contain spaces unless quoted"),
        ("(A:,B);", r"missing branch length"),
        ("A,B;", r"',' outside any parentheses"),
    ],
)
def test_parse_errors_name_source_and_position(text, message):
    with pytest.raises(FormatError, match=r"^tree\.nwk: " if text else r"tree\.nwk"):
        Tree.from_newick(text, source="tree.nwk")
    with pytest.raises(FormatError, match=message):
        Tree.from_newick(text, source="tree.nwk")


def test_error_position_counts_lines():
    with pytest.raises(FormatError, match=r"character 9 \(line 2, column 3\)"):
        Tree.from_newick("(A:1,\nB:x);", source="t")


def test_huge_nesting_refused_without_recursion():
    depth = 10**7
    text = "(" * depth + "A" + ")" * depth + ";"
    start = time.perf_counter()
    with pytest.raises(UnsafeInputError, match=r"about 10,000,001 nodes, more than the limit"):
        Tree.from_newick(text, source="deep.nwk")
    assert time.perf_counter() - start < 5
    # unbalanced at that depth, below a raised node limit check: still no recursion
    with pytest.raises(UnsafeInputError):
        Tree.from_newick("(" * depth + "A;", max_nodes=1000)


def test_deep_caterpillar_within_limits_round_trips():
    depth = 30_000  # far beyond Python's recursion limit
    text = "(" * depth + "A:1" + "".join(f",T{i}:1):1" for i in range(depth)) + ";"
    t = Tree.from_newick(text)
    assert t.n_tips == depth + 1 and t.n_nodes == 2 * depth + 1
    assert Tree.from_newick(t.to_newick()).to_newick() == t.to_newick()
    assert t.tip_depths()["A"] == depth + 1
    assert t.shear(["A", "T0"]).n_tips == 2
    assert t.midpoint_root().n_tips == depth + 1


def test_size_limits():
    with pytest.raises(UnsafeInputError, match=r"is 6 characters long, more than the limit of 5"):
        Tree.from_newick("(A,B);", max_chars=5, source="x")
    with pytest.raises(UnsafeInputError, match=r"more than the limit of 2"):
        Tree.from_newick("((A,B),C);", max_nodes=2)


# ---------------------------------------------------------------- writing / conversions
def test_newick_round_trip_and_quoting():
    text = "(('a b':1.5,'it''s':2.0)'x_y':0.25,(c:1e-10,'d[1]':3.0):0.5)root:0.1;"
    t = Tree.from_newick(text)
    assert t.to_newick() == text
    assert Tree.from_newick(t.to_newick()).to_newick() == text
    # scikit-bio reads our output to the same labels (underscores are quoted)
    sk = skbio.TreeNode.read(io.StringIO(t.to_newick()))
    assert sorted(n.name for n in sk.tips()) == sorted(t.tip_names)
    assert sk.find("x_y").length == 0.25


@pytest.mark.parametrize("seed", [0, 1])
def test_round_trips_random(seed, tmp_path):
    t = random_tree(200, seed)
    assert Tree.from_newick(t.to_newick()).to_newick() == t.to_newick()
    back = Tree.from_skbio(t.to_skbio())
    assert back.to_newick() == t.to_newick()
    sk = skbio.TreeNode.read(io.StringIO(t.to_newick()))
    assert Tree.from_skbio(sk).to_newick() == t.to_newick()
    write_tree(t, tmp_path / "t.nwk")
    assert read_tree(tmp_path / "t.nwk").to_newick() == t.to_newick()


def test_from_skbio_validates():
    sk = skbio.TreeNode.read(io.StringIO("(A:1,A:2);"))
    with pytest.raises(FormatError, match="unique"):
        Tree.from_skbio(sk, source="sk")
    sk = skbio.TreeNode.read(io.StringIO("(A:-1,B:2);"))
    with pytest.raises(FormatError, match="negative"):
        Tree.from_skbio(sk)


def test_from_arrays_any_order():
    # nodes: 0=root, 1=X, 2=A, 3=B, 4=C ; X=(A,B), root=(X,C)
    t = Tree.from_arrays([-1, 0, 1, 1, 0], [np.nan, 0.5, 1, 2, 3], [None, "X", "A", "B", "C"])
    assert t.to_newick() == "((A:1.0,B:2.0)X:0.5,C:3.0);"
    with pytest.raises(FormatError, match="exactly one root"):
        Tree.from_arrays([-1, -1], [1, 1], ["A", "B"])
    with pytest.raises(FormatError, match="cycle"):
        Tree.from_arrays([-1, 2, 1], [1, 1, 1], ["R", "A", "B"])
    with pytest.raises(ValueError, match="postorder"):
        Tree(np.array([1, -1, 1]), np.zeros(3), np.array(["A", "R", "B"], dtype=object))


def test_lookups():
    t = Tree.from_newick("((A:1,B:2):0.5,C:3);")
    assert t.missing_tips(["C", "D", "A", "E"]) == ["D", "E"]
    assert t.missing_tips([]) == []
    assert t.tip_positions(["C", "A"]).tolist() == [3, 0]
    with pytest.raises(NotFoundError, match="1 feature id.*'Z'"):
        t.tip_positions(["A", "Z"])
    assert "3 tips" in repr(t)


# ---------------------------------------------------------------- shear / midpoint
def test_shear_small_cases_like_skbio():
    t = Tree.from_newick("((A:1,B:2)X:0.5,C:3)R:0.25;")
    assert t.shear(["A", "C"]).to_newick() == "(A:1.5,C:3.0)R:0.25;"
    # the root absorbs a single child: length added, name taken
    assert t.shear(["A", "B"]).to_newick() == "(A:1.0,B:2.0)X:0.75;"
    assert t.shear(["A"]).to_newick() == "A:1.75;"
    sk = t.to_skbio()
    for keep in (["A", "C"], ["A", "B"], ["A"], ["A", "B", "C"]):
        assert clades(t.shear(keep)) == clades(Tree.from_skbio(sk.shear(keep)))
    with pytest.raises(NotFoundError):
        t.shear(["A", "Q"])


@pytest.mark.parametrize("seed", range(4))
def test_shear_random_matches_skbio(seed):
    t = random_tree(60, seed)
    rng = np.random.default_rng(seed)
    keep = list(rng.choice(t.tip_names, 17, replace=False))
    ours = t.shear(keep)
    theirs = Tree.from_skbio(t.to_skbio().shear(keep))
    assert clades(ours) == clades(theirs)
    assert sorted(ours.tip_names) == sorted(keep)
    np.testing.assert_allclose(ours.tip_depths()[keep], t.tip_depths()[keep], rtol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_midpoint_root_matches_skbio(seed):
    t = random_tree(40 + seed, seed)
    ours = t.midpoint_root()
    theirs = Tree.from_skbio(t.to_skbio().root_at_midpoint())
    assert ours.root_children == 2
    assert clades(ours, 7) == clades(theirs, 7)


def test_midpoint_root_on_unrooted_trifurcation():
    t = Tree.from_newick("(A:1,B:1,(C:1,D:5):1);")
    r = t.midpoint_root()
    theirs = Tree.from_skbio(t.to_skbio().root_at_midpoint())
    assert clades(r) == clades(theirs)
    depths = r.tip_depths()
    assert depths["D"] == pytest.approx(3.5) and depths["A"] == pytest.approx(3.5)
    # midpoint exactly on a node: that node becomes the root
    r2 = Tree.from_newick("((A:1,B:1):1,(C:1,D:1):1);").midpoint_root()
    assert r2.n_nodes == 7 and r2.root_children == 2
    # degenerate inputs come back unchanged
    zero = Tree.from_newick("(A:0,B:0,C:0);")
    assert zero.midpoint_root() is zero
    single = Tree.from_newick("A;")
    assert single.midpoint_root() is single
