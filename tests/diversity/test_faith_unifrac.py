"""Faith's PD and UniFrac: hand-computed values, scikit-bio references, properties."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import skbio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from skbio.diversity import alpha_diversity as sk_alpha
from skbio.diversity import beta_diversity as sk_beta

from gutaxis.diversity import _gram
from gutaxis.diversity import faith_unifrac as ph
from gutaxis.exceptions import InputError, NotFoundError
from gutaxis.io import read_tree
from gutaxis.tree import Tree

REF = Path(__file__).parent / "reference_phylo"
BETA = ("unweighted_unifrac", "weighted_unifrac", "weighted_normalized_unifrac")
RTOL, ATOL = 1e-9, 1e-12


def ours(metric: str, counts, tree: Tree, fids, **kw) -> np.ndarray:
    if metric == "faith_pd":
        return ph.faith_pd(sp.csr_matrix(counts), tree=tree, feature_ids=fids)
    if kw:
        return ph.unifrac(counts, tree, fids, weighted=metric != "unweighted_unifrac",
                          normalized=metric == "weighted_normalized_unifrac", **kw)
    func = {"unweighted_unifrac": ph.unweighted_unifrac, "weighted_unifrac": ph.weighted_unifrac,
            "weighted_normalized_unifrac": ph.weighted_normalized_unifrac}[metric]
    return func(sp.csr_matrix(counts), tree=tree, feature_ids=fids)


def skbio_values(metric: str, counts: np.ndarray, tree: Tree, fids) -> np.ndarray:
    sk_tree = skbio.TreeNode.read(io.StringIO(tree.to_newick()), convert_underscores=False)
    ids = [f"S{i}" for i in range(counts.shape[0])]
    counts = np.asarray(counts, dtype=np.int64)
    if metric == "faith_pd":
        return sk_alpha("faith_pd", counts, ids, taxa=list(fids), tree=sk_tree).to_numpy()
    kw = {}
    name = metric
    if metric.startswith("weighted"):
        name = "weighted_unifrac"
        kw["normalized"] = metric == "weighted_normalized_unifrac"
    with np.errstate(invalid="ignore"):  # scikit-bio's 0/0 for zero-length spans -> NaN
        return sk_beta(name, counts, ids, taxa=list(fids), tree=sk_tree, **kw).data


def assert_close(a, b, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


# ---------------------------------------------------------------- random inputs
def random_tree(n_tips: int, rng: np.random.Generator, *, shape: str = "random",
                root_length: float | None = None) -> Tree:
    """Random trees of several shapes; tips are F0..F{n-1}."""
    names = [f"F{i}" for i in range(n_tips)]
    parent: list[int] = [-1] * n_tips
    lengths = list(rng.exponential(0.5, n_tips))
    labels: list[str | None] = list(names)
    active = list(range(n_tips))

    def join(kids: list[int]) -> int:
        node = len(parent)
        parent.append(-1)
        lengths.append(float(rng.exponential(0.5)))
        labels.append(None)
        for k in kids:
            parent[k] = node
        return node

    if shape == "caterpillar":
        node = active[0]
        for k in active[1:]:
            node = join([node, k])
    else:
        while len(active) > 1:
            k = 2
            if shape == "polytomies" and len(active) >= 4 and rng.random() < 0.4:
                k = int(rng.integers(3, 5))
            if shape == "unary" and rng.random() < 0.3:
                i = int(rng.integers(len(active)))
                active[i] = join([active[i]])  # a single-child node
                continue
            pick = sorted(rng.choice(len(active), k, replace=False), reverse=True)
            kids = [active.pop(p) for p in pick]
            active.append(join(kids))
        if shape == "polytomies":
            # keep the root bifurcating (scikit-bio refuses other roots)
            root = active[0]
            kids = [v for v in range(len(parent)) if parent[v] == root]
            if len(kids) > 2:
                sub = join(kids[1:])
                parent[sub] = root
    lengths[parent.index(-1)] = np.nan if root_length is None else root_length
    if shape == "zeros":
        zero = rng.random(len(lengths)) < 0.3
        lengths = [0.0 if z and not np.isnan(x) else x for z, x in zip(zero, lengths, strict=True)]
    return Tree.from_arrays(parent, lengths, labels)


def random_counts(n_samples: int, n_features: int, rng: np.random.Generator,
                  density: float = 0.3) -> np.ndarray:
    mask = rng.random((n_samples, n_features)) < density
    counts = np.where(mask, rng.geometric(0.1, (n_samples, n_features)), 0)
    return counts.astype(np.int64)


# ---------------------------------------------------------------- hand-computed
# Tree:   R ─┬─ X:0.5 ─┬─ A:1        tip depths: A 1.5, B 2.5, C 4.5, D 5.5
#            │         └─ B:2
#            └─ Y:1.5 ─┬─ C:3
#                      └─ D:4
# s1 = {A:1, B:1}, s2 = {C:2}, s3 = {A:1, C:1}, s4 = empty
HAND_TREE = "((A:1,B:2)X:0.5,(C:3,D:4)Y:1.5)R;"
HAND_COUNTS = np.array([[1, 1, 0, 0], [0, 0, 2, 0], [1, 0, 1, 0], [0, 0, 0, 0]])


def test_hand_computed_values():
    t = Tree.from_newick(HAND_TREE)
    fids = ["A", "B", "C", "D"]
    # Faith PD: s1 A+B+X = 1+2+0.5; s2 C+Y = 3+1.5; s3 A+X+C+Y = 6; s4 = 0
    assert_close(ours("faith_pd", HAND_COUNTS, t, fids), [3.5, 4.5, 6.0, 0.0])
    uu = ours("unweighted_unifrac", HAND_COUNTS, t, fids)
    # s1|s2: nothing shared -> 1.  s1|s3: union A,B,X,C,Y = 8, shared A,X = 1.5 -> 6.5/8.
    # s2|s3: union A,X,C,Y = 6, unique A,X = 1.5 -> 0.25.  empty vs non-empty -> 1.
    expected_uu = np.array([[0, 1, 6.5 / 8, 1], [1, 0, 0.25, 1], [6.5 / 8, 0.25, 0, 1],
                            [1, 1, 1, 0]])
    assert_close(uu, expected_uu)
    wu = ours("weighted_unifrac", HAND_COUNTS, t, fids)
    # s1|s3: proportions s1 A.5 B.5 X1; s3 A.5 C.5 X.5 Y.5
    #   A 1·0 + B 2·.5 + X .5·.5 + C 3·.5 + Y 1.5·.5 = 3.5
    # s1|s2: A .5 + B 1 + X .5 + C 3 + Y 1.5 = 6.5;  s2|s3: A .5 + X .25 + C 1.5 + Y .75 = 3
    # s4 (empty) vs s: the mean tip depth of s: s1 2.0, s2 4.5, s3 3.0
    expected_wu = np.array([[0, 6.5, 3.5, 2.0], [6.5, 0, 3.0, 4.5], [3.5, 3.0, 0, 3.0],
                            [2.0, 4.5, 3.0, 0]])
    assert_close(wu, expected_wu)
    wn = ours("weighted_normalized_unifrac", HAND_COUNTS, t, fids)
    # normalizer = mean tip depth of each sample added: s1 2.0, s2 4.5, s3 3.0, s4 0
    norm = np.array([2.0, 4.5, 3.0, 0.0])
    denominator = norm[:, None] + norm[None, :]
    denominator[3, 3] = 1.0  # two empty samples: 0 by definition
    expected_wn = expected_wu / denominator
    np.fill_diagonal(expected_wn, 0)
    assert_close(wn, expected_wn)
    assert wn[0, 2] == pytest.approx(0.7)
    for metric in ("faith_pd", *BETA):
        assert_close(ours(metric, HAND_COUNTS, t, fids),
                     skbio_values(metric, HAND_COUNTS, t, fids))


def test_hand_computed_root_length_counts_like_skbio():
    t = Tree.from_newick(HAND_TREE[:-1] + ":0.25;")
    fids = ["A", "B", "C", "D"]
    # every non-empty sample also spans the root branch (0.25)
    assert_close(ours("faith_pd", HAND_COUNTS, t, fids), [3.75, 4.75, 6.25, 0.0])
    uu = ours("unweighted_unifrac", HAND_COUNTS, t, fids)
    assert uu[0, 2] == pytest.approx(6.5 / 8.25)  # the root is shared: denominator grows
    wu = ours("weighted_unifrac", HAND_COUNTS, t, fids)
    assert wu[0, 2] == pytest.approx(3.5) and wu[0, 3] == pytest.approx(2.25)
    for metric in ("faith_pd", *BETA):
        assert_close(ours(metric, HAND_COUNTS, t, fids),
                     skbio_values(metric, HAND_COUNTS, t, fids))


# ---------------------------------------------------------------- stored references
def read_lsmat(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", index_col=0)


@pytest.mark.parametrize("case", ["small", "polytomies", "medium"])
def test_reference_outputs(case):
    base = REF / case
    tree = read_tree(base / "tree.nwk")
    table = pd.read_csv(base / "table.tsv", sep="\t", index_col=0)
    X = sp.csr_matrix(table.to_numpy())
    fids = list(table.columns)
    expected_pd = pd.read_csv(base / "faith_pd.tsv", sep="\t", index_col=0)["faith_pd"]
    assert_close(ours("faith_pd", X, tree, fids), expected_pd.loc[table.index].to_numpy())
    for metric in BETA:
        expected = read_lsmat(base / f"{metric}.lsmat").loc[table.index, table.index]
        assert_close(ours(metric, X, tree, fids), expected.to_numpy())
        # tiny batch buffers: many batches and column chunks, same numbers
        assert_close(ours(metric, X, tree, fids, work_bytes=1, n_threads=1),
                     expected.to_numpy())


# ---------------------------------------------------------------- live comparisons
@pytest.mark.parametrize(
    ("shape", "n_samples", "n_tips", "n_features", "root_length"),
    [
        ("random", 2, 3, 3, None),
        ("random", 9, 12, 8, 0.3),
        ("caterpillar", 25, 40, 30, None),
        ("polytomies", 30, 50, 40, 1.0),
        ("unary", 30, 50, 35, None),
        ("zeros", 20, 30, 30, None),
        ("random", 120, 300, 250, None),
    ],
)
def test_against_skbio(shape, n_samples, n_tips, n_features, root_length):
    rng = np.random.default_rng(n_samples * 1000 + n_tips)
    tree = random_tree(n_tips, rng, shape=shape, root_length=root_length)
    counts = random_counts(n_samples, n_features, rng)
    counts[0] = 0  # an empty sample
    if n_samples > 3:
        counts[3] = counts[2]  # identical samples
        counts[:, 1] = 0  # a feature absent from every sample
    # features in a shuffled order, some tree tips not in the table
    fids = list(rng.permutation([f"F{i}" for i in range(n_tips)])[:n_features])
    for metric in ("faith_pd", *BETA):
        expected = skbio_values(metric, counts, tree, fids)
        got = ours(metric, counts, tree, fids)
        assert_close(got, expected)
        if metric != "faith_pd":
            assert_close(ours(metric, counts, tree, fids, work_bytes=1), expected)
            if n_samples > 3:
                # identical samples: 0 (exactly for the weighted metrics; the BLAS
                # path of the unweighted one sums in its own order)
                assert got[2, 3] <= (1e-15 if metric == "unweighted_unifrac" else 0.0)


def test_dense_and_sparse_paths_agree_with_skbio():
    # dense table: most branches take the BLAS / dense |a-b| paths
    rng = np.random.default_rng(5)
    tree = random_tree(40, rng)
    fids = [f"F{i}" for i in range(40)]
    counts = random_counts(60, 40, rng, density=0.9)
    counts[7] = 0
    for metric in BETA:
        assert_close(ours(metric, counts, tree, fids), skbio_values(metric, counts, tree, fids))


def test_shearing_to_the_table_changes_nothing():
    rng = np.random.default_rng(3)
    tree = random_tree(80, rng, root_length=0.7)
    fids = [f"F{i}" for i in range(0, 80, 3)]
    counts = random_counts(20, len(fids), rng)
    sheared = tree.shear(fids)
    assert sheared.n_tips == len(fids)
    for metric in ("faith_pd", *BETA):
        assert_close(ours(metric, counts, sheared, fids), ours(metric, counts, tree, fids))


def test_relative_abundances_weighted_equals_counts():
    rng = np.random.default_rng(4)
    tree = random_tree(30, rng)
    fids = [f"F{i}" for i in range(30)]
    counts = random_counts(15, 30, rng)
    counts[:, 0] += 1
    rel = counts / counts.sum(axis=1, keepdims=True)
    for metric in BETA:
        assert_close(ours(metric, rel, tree, fids), ours(metric, counts, tree, fids))
    # presence metrics only look at presence
    assert_close(ours("faith_pd", rel, tree, fids), ours("faith_pd", counts, tree, fids))


def test_threads_option():
    rng = np.random.default_rng(8)
    tree = random_tree(50, rng)
    fids = [f"F{i}" for i in range(50)]
    counts = random_counts(40, 50, rng)
    for metric in BETA:
        one = ours(metric, counts, tree, fids, n_threads=1)
        assert_close(one, ours(metric, counts, tree, fids))
    with pytest.raises(InputError, match="n_threads"):
        ph.unifrac(counts, tree, fids, weighted=False, n_threads=0)


# ---------------------------------------------------------------- edge cases / errors
def test_degenerate_tables():
    tree = Tree.from_newick(HAND_TREE)
    fids = ["A", "B", "C", "D"]
    for metric in BETA:
        assert ours(metric, np.zeros((0, 4)), tree, fids).shape == (0, 0)
        assert ours(metric, np.ones((1, 4)), tree, fids).tolist() == [[0.0]]
        assert_close(ours(metric, np.zeros((3, 4)), tree, fids), np.zeros((3, 3)))
        single = np.array([[0, 0, 5, 0], [0, 0, 1, 0], [0, 0, 0, 0]])
        assert_close(ours(metric, single, tree, fids), skbio_values(metric, single, tree, fids))
    assert ours("faith_pd", np.zeros((2, 4)), tree, fids).tolist() == [0.0, 0.0]


def test_errors():
    tree = Tree.from_newick(HAND_TREE)
    counts = sp.csr_matrix(HAND_COUNTS)
    with pytest.raises(NotFoundError, match="1 feature id.*tree's tips: 'Q'"):
        ph.unweighted_unifrac(counts, tree=tree, feature_ids=["A", "B", "C", "Q"])
    with pytest.raises(InputError, match="4 feature ids for a table with 3 columns"):
        ph.weighted_unifrac(counts[:, :3], tree=tree, feature_ids=["A", "B", "C", "D"])
    with pytest.raises(InputError, match="unique"):
        ph.faith_pd(counts, tree=tree, feature_ids=["A", "A", "C", "D"])
    unrooted = Tree.from_newick("(A:1,B:2,(C:3,D:4):1);", source="u.nwk")
    with pytest.raises(InputError, match=r"rooted tree.*u\.nwk has 3 children.*midpoint_root"):
        ph.unweighted_unifrac(counts, tree=unrooted, feature_ids=list("ABCD"))
    assert ph.unweighted_unifrac(counts, tree=unrooted.midpoint_root(),
                                 feature_ids=list("ABCD")).shape == (4, 4)
    no_length = Tree.from_newick("((A:1,B)X:0.5,(C:3,D:4):1.5);", source="n.nwk")
    with pytest.raises(InputError, match=r"1 branch\(es\) of n\.nwk have none \(e\.g\. above B\)"):
        ph.faith_pd(counts, tree=no_length, feature_ids=list("ABCD"))
    with pytest.raises(InputError, match="≥ 0"):
        ph.weighted_unifrac(-counts, tree=tree, feature_ids=list("ABCD"))
    with pytest.raises(InputError, match="NaN"):
        ph.weighted_unifrac(np.full((2, 4), np.nan), tree=tree, feature_ids=list("ABCD"))
    with pytest.raises(InputError, match="gutaxis.tree.Tree"):
        ph.weighted_unifrac(counts, tree="((A,B),C);", feature_ids=list("ABCD"))
    # an skbio TreeNode is converted
    sk = skbio.TreeNode.read(io.StringIO(HAND_TREE))
    assert_close(ph.weighted_unifrac(counts, tree=sk, feature_ids=list("ABCD")),
                 ph.weighted_unifrac(counts, tree=tree, feature_ids=list("ABCD")))


# ---------------------------------------------------------------- the registry and driver
def test_registered_and_driver():
    from gutaxis import Study
    from gutaxis.diversity import alpha_diversity, beta_diversity, get_alpha_metric, get_beta_metric

    assert get_alpha_metric("faith_pd").needs_tree
    for metric in BETA:
        m = get_beta_metric(metric)
        assert m.needs_tree and "n_threads" in m.options
    tree = Tree.from_newick(HAND_TREE)
    study = Study(HAND_COUNTS, ["s1", "s2", "s3", "s4"], ["A", "B", "C", "D"], tree=tree)
    dm = beta_diversity(study, "weighted_normalized_unifrac", n_threads=1)
    assert list(dm.ids) == ["s1", "s2", "s3", "s4"]
    assert dm.data[0, 2] == pytest.approx(0.7)
    alpha = alpha_diversity(study, ["faith_pd"])
    assert alpha["faith_pd"].tolist() == [3.5, 4.5, 6.0, 0.0]
    small = Study(HAND_COUNTS[:, :2], ["s1", "s2", "s3", "s4"], ["A", "Z"],
                  tree=Tree.from_newick("(A:1,B:1);"))
    with pytest.raises(NotFoundError, match="'Z'"):
        beta_diversity(small, "unweighted_unifrac")


# ---------------------------------------------------------------- properties
@st.composite
def problems(draw):
    n_tips = draw(st.integers(2, 9))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    shape = draw(st.sampled_from(["random", "polytomies", "unary", "zeros", "caterpillar"]))
    root = draw(st.sampled_from([None, 0.0, 0.5]))
    tree = random_tree(n_tips, rng, shape=shape, root_length=root)
    n_samples = draw(st.integers(1, 7))
    n_features = draw(st.integers(1, n_tips))
    counts = np.array(draw(st.lists(st.lists(st.integers(0, 6), min_size=n_features,
                                             max_size=n_features),
                                    min_size=n_samples, max_size=n_samples)), dtype=np.int64)
    fids = list(rng.permutation([f"F{i}" for i in range(n_tips)])[:n_features])
    return tree, counts, fids, rng


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_properties(problem):
    tree, counts, fids, rng = problem
    for metric in BETA:
        d = ours(metric, counts, tree, fids)
        n = counts.shape[0]
        assert d.shape == (n, n)
        assert np.array_equal(d, d.T)
        assert np.all(np.diag(d) == 0)
        assert np.all(d >= 0)
        if metric != "weighted_unifrac":
            assert np.all(d <= 1)
        # relabelling the taxa consistently in the tree and the table changes nothing
        perm = rng.permutation(len(fids))
        renamed_names = np.array(tree.names, dtype=object)
        mapping = {f: f"X{k}" for k, f in enumerate(rng.permutation(list(tree.tip_names)))}
        for v in tree.tip_nodes:
            renamed_names[v] = mapping[renamed_names[v]]
        renamed = Tree(tree.parent, tree.lengths, renamed_names)
        new_fids = [mapping[fids[p]] for p in perm]
        d2 = ours(metric, counts[:, perm], renamed, new_fids)
        assert_close(d2, d)
        # samples reordered -> matrix reordered
        order = rng.permutation(n)
        assert_close(ours(metric, counts[order], tree, fids), d[np.ix_(order, order)])
    # scikit-bio agrees, except where it divides 0 by 0 (samples spanning no branch
    # length): gutaxis defines those distances as 0 (see the module docstring)
    for metric in ("faith_pd", *BETA):
        got = ours(metric, counts, tree, fids)
        ref = skbio_values(metric, counts, tree, fids)
        undefined = np.isnan(ref)
        assert np.all(got[undefined] == 0)
        assert_close(got[~undefined], ref[~undefined])


@pytest.mark.parametrize("density", [0.05, 0.5, 0.9])  # list, BLAS and complement paths
@pytest.mark.parametrize("weighted, normalized", [(False, False), (True, False), (True, True)])
def test_a_block_equals_that_block_of_the_square(density, weighted, normalized):
    """unifrac_block (the blockwise tiles' kernel) against unifrac's square, every split."""
    rng = np.random.default_rng(int(density * 100))
    n, m = 120, 200
    tree = random_tree(m, rng)
    x = sp.csr_matrix(random_counts(n, m, rng, density=density))
    ids = [f"F{i}" for i in range(m)]
    square = ph.unifrac(x, tree, ids, weighted=weighted, normalized=normalized)
    for n_rows in (1, 37, n - 1):
        for work_bytes in (None, 2**14):  # one batch, or many small ones
            block = ph.unifrac_block(x, tree, ids, n_rows, weighted=weighted,
                                     normalized=normalized, work_bytes=work_bytes)
            assert block.shape == (n_rows, n - n_rows)
            np.testing.assert_allclose(block, square[:n_rows, n_rows:], rtol=0, atol=1e-13)


def test_a_block_needs_samples_on_both_sides():
    tree = Tree.from_newick("((A:1,B:2):0.5,C:3);")
    x = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    for n_rows in (0, 3, 1.5, True):
        with pytest.raises(InputError, match="n_rows must be an integer from 1 to 2"):
            ph.unifrac_block(x, tree, "ABC", n_rows, weighted=False)


@pytest.mark.parametrize(("tile", "threads"), [(16, 2), (7, 3), (7, 1)])
def test_the_dense_part_tile_by_tile_equals_one_product(monkeypatch, tile, threads):
    """The dense part goes by tiles of single-threaded BLAS on a thread pool: same numbers."""
    rng = np.random.default_rng(3)
    n, m = 90, 120
    tree = random_tree(m, rng)
    x = sp.csr_matrix(random_counts(n, m, rng, density=0.5))  # mostly the dense path
    ids = [f"F{i}" for i in range(m)]
    whole = ph.unifrac(x, tree, ids, weighted=False, n_threads=1)  # one tile
    monkeypatch.setattr(_gram, "MAX_TILE", tile)
    monkeypatch.setattr(_gram, "MIN_TILE", 1)
    tiled = ph.unifrac(x, tree, ids, weighted=False, work_bytes=2**14,  # several batches
                       n_threads=threads)
    np.testing.assert_allclose(tiled, whole, rtol=0, atol=1e-13)
    assert np.array_equal(tiled, tiled.T) and np.all(np.diag(tiled) == 0)
    block = ph.unifrac_block(x, tree, ids, 37, weighted=False, work_bytes=2**14,
                             n_threads=threads)
    np.testing.assert_allclose(block, whole[:37, 37:], rtol=0, atol=1e-13)


@pytest.mark.parametrize(("weighted", "normalized"), [(False, False), (True, False), (True, True)])
def test_the_tips_columns_are_read_in_runs_that_fit_the_working_memory(caplog, monkeypatch,
                                                                        weighted, normalized):
    """Small working memory: the tips' columns come in several runs; the same numbers."""
    rng = np.random.default_rng(11)
    n, m = 60, 200
    tree = random_tree(m, rng)
    x = sp.csr_matrix(random_counts(n, m, rng, density=0.3))
    ids = [f"F{i}" for i in range(m)]

    def runs(**kw):
        caplog.clear()
        with caplog.at_level("DEBUG", logger=ph.__name__):
            d = ph.unifrac(x, tree, ids, weighted=weighted, normalized=normalized, **kw)
        (message,) = [r.getMessage() for r in caplog.records if "runs of tips" in r.getMessage()]
        return d, int(message.split(", ")[-1].split()[0])

    whole, n_runs = runs()
    assert n_runs == 1
    # runs of 8,000 bytes at most, of whole tips (a tip's column: at most 60 values of 4
    # bytes, or 12 with the values)
    monkeypatch.setattr(ph, "TIP_RUN_FLOOR", 8000)
    in_runs, n_runs = runs(work_bytes=40_000)
    total = x.nnz * (12 if weighted else 4)
    assert n_runs > 1
    assert np.ceil(total / 8000) <= n_runs <= np.ceil(total / (8000 - 60 * (12 if weighted else 4)))
    np.testing.assert_allclose(in_runs, whole, rtol=0, atol=1e-14)
    block = ph.unifrac_block(x, tree, ids, 25, weighted=weighted, normalized=normalized,
                             work_bytes=40_000)
    np.testing.assert_allclose(block, whole[:25, 25:], rtol=0, atol=1e-14)


def test_repeated_entries_of_a_sparse_table_are_summed_and_the_callers_table_kept():
    """A CSR table may hold a (sample, feature) pair twice: it counts once, with the sum."""
    rng = np.random.default_rng(21)
    n, m = 30, 40
    tree = random_tree(m, rng)
    ids = [f"F{i}" for i in range(m)]
    counts = random_counts(n, m, rng, density=0.5).astype(np.float64)
    rows, cols = np.nonzero(counts)
    half = np.floor(counts[rows, cols] / 2)
    # every value split into two entries of the same pair (half, then the rest), each row's
    # entries in that order: repeated and unsorted column indices
    order = np.argsort(np.r_[rows, rows], kind="stable")
    duplicated = sp.csr_matrix((np.r_[half, counts[rows, cols] - half][order],
                                np.r_[cols, cols].astype(np.int32)[order],
                                np.r_[0, np.cumsum(np.bincount(rows, minlength=n) * 2)]),
                               shape=(n, m))
    assert not duplicated.has_canonical_format
    kept = duplicated.copy()
    for weighted, normalized in ((False, False), (True, False), (True, True)):
        want = ph.unifrac(sp.csr_matrix(counts), tree, ids, weighted=weighted,
                          normalized=normalized)
        got = ph.unifrac(duplicated, tree, ids, weighted=weighted, normalized=normalized)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-13)
        block = ph.unifrac_block(duplicated, tree, ids, 11, weighted=weighted,
                                 normalized=normalized)
        np.testing.assert_allclose(block, want[:11, 11:], rtol=0, atol=1e-13)
    for part in ("data", "indices", "indptr"):
        np.testing.assert_array_equal(getattr(duplicated, part), getattr(kept, part))
