"""Property tests: write → read gives back the same Study (BIOM HDF5, BIOM JSON, TSV)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gutaxis.io import read_table, write_biom, write_table_tsv
from gutaxis.study import RANKS, Study

_ID = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-",
              min_size=1, max_size=10).filter(lambda s: s.lower() not in {"taxonomy", "taxon"})
_NAME = st.one_of(st.none(), st.text(alphabet="abcdefghijklmnopqrstuvwxyz_[]", min_size=1,
                                     max_size=8))


@st.composite
def studies(draw):
    n_samples = draw(st.integers(1, 5))
    n_features = draw(st.integers(1, 6))
    sample_ids = draw(st.lists(_ID, min_size=n_samples, max_size=n_samples, unique=True))
    feature_ids = draw(st.lists(_ID, min_size=n_features, max_size=n_features, unique=True))
    relative = draw(st.booleans())
    if relative:
        cells = st.floats(0, 100, allow_nan=False, allow_subnormal=False)
    else:
        cells = st.integers(0, 10**6).map(float)
    values = np.array(draw(st.lists(cells, min_size=n_samples * n_features,
                                    max_size=n_samples * n_features)),
                      dtype=np.float64).reshape(n_samples, n_features)
    taxonomy = None
    if draw(st.booleans()):
        rows = [draw(st.lists(_NAME, min_size=7, max_size=7)) for _ in feature_ids]
        taxonomy = pd.DataFrame(rows, index=feature_ids, columns=list(RANKS), dtype=object)
    return Study(counts=values, sample_ids=sample_ids, feature_ids=feature_ids,
                 taxonomy=taxonomy, kind="relative" if relative else "counts")


def _same(a: Study, b: Study) -> None:
    assert b.sample_ids.tolist() == a.sample_ids.tolist()
    assert b.feature_ids.tolist() == a.feature_ids.tolist()
    np.testing.assert_array_equal(b.counts.toarray(), a.counts.toarray())
    assert b.kind == a.kind
    if a.taxonomy is None:
        assert b.taxonomy is None
    else:
        pd.testing.assert_frame_equal(b.taxonomy, a.taxonomy, check_dtype=False)


_SETTINGS = settings(max_examples=25, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])


@_SETTINGS
@given(study=studies())
def test_biom_hdf5_round_trip(tmp_path_factory, study):
    path = tmp_path_factory.mktemp("rt") / "t.biom"
    write_biom(study, path)
    _same(study, read_table(path, kind=study.kind))


@_SETTINGS
@given(study=studies())
def test_biom_json_round_trip(tmp_path_factory, study):
    path = tmp_path_factory.mktemp("rt") / "t.json"
    write_biom(study, path, format="json")
    _same(study, read_table(path, kind=study.kind))


@_SETTINGS
@given(study=studies())
def test_tsv_round_trip(tmp_path_factory, study):
    path = tmp_path_factory.mktemp("rt") / "t.tsv"
    write_table_tsv(study, path)
    back = read_table(path, kind=study.kind)
    assert back.provenance[0]["orientation"] == "features x samples"
    _same(study, back)


def test_real_table_round_trips(tmp_path, bundled):
    study = read_table(bundled.table)
    for name, writer in (("t.biom", write_biom), ("t.tsv", write_table_tsv)):
        writer(study, tmp_path / name)
        _same(study, read_table(tmp_path / name))


def test_a_feature_named_like_a_header_word_is_a_row(tmp_path):
    """A BIOM TSV whose first feature is called 'SAMPLE' (found by Hypothesis): '#OTU ID' is
    the header, the 'SAMPLE' line a row (it was taken for the header, leaving no data)."""
    path = tmp_path / "t.tsv"
    path.write_text("# Constructed from biom file\n#OTU ID\tS1\tS2\nSAMPLE\t3\t0\ntaxon\t1\t2\n")
    study = read_table(path, kind="counts")
    assert study.feature_ids.tolist() == ["SAMPLE", "taxon"]
    assert study.sample_ids.tolist() == ["S1", "S2"]
    np.testing.assert_array_equal(study.counts.toarray(), [[3, 1], [0, 2]])
