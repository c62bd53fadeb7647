"""The public API, walked with bad arguments: only GutaxisError subclasses come out.

Every case of :data:`CASES` calls one public function (or constructor) with a
value a user could really give — a path that does not exist, a folder where a
file is expected, an empty or binary file, an unknown name, an empty list, a
count below 1, a NaN, a text where a number is needed, mismatched shapes, an
object of the wrong type, ``None`` — and checks that it fails with the exact
:class:`~gutaxis.exceptions.GutaxisError` subclass expected and a message
that names the thing and what was expected (never a bare ``ValueError``,
``KeyError``, ``TypeError``, ``AttributeError`` … from deep inside).

:func:`test_every_public_name_is_walked` keeps the table honest: each function
and class in the ``__all__`` of the packages walked must be called by some
case, or be on :data:`NO_USER_INPUT` with the reason.
"""

from __future__ import annotations

import importlib
import inspect
import math
import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from builders.reference import synthetic_study
from gutaxis import DistanceMatrix, Study
from gutaxis import challenge as gchallenge
from gutaxis import cohort as gcohort
from gutaxis import commands as gcommands
from gutaxis import composition as gcomposition
from gutaxis import diversity as gdiversity
from gutaxis import indices as gindices
from gutaxis import io as gio
from gutaxis import knowledge as gknowledge
from gutaxis import markers as gmarkers
from gutaxis import measures as gmeasures
from gutaxis import ordination as gordination
from gutaxis import outputs as goutputs
from gutaxis import profile as gprofile
from gutaxis import reference as greference
from gutaxis import selection as gselection
from gutaxis import stats as gstats
from gutaxis.exceptions import (
    EmptySamplesError,
    FormatError,
    GutaxisError,
    InputError,
    NotFoundError,
    OutputError,
    UnitError,
    UnknownMetricError,
    UnknownNameError,
    UnknownRankError,
    UnsafeInputError,
    ValidationError,
)
from gutaxis.tree import Tree


# ------------------------------------------------------------------ placeholders
class Env:
    """A placeholder for an object made at test time: ``Env("study")`` → ``env.study``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


class Make:
    """A placeholder for a value built from the test-time objects: ``Make(lambda e: …)``."""

    def __init__(self, build: Callable[[SimpleNamespace], Any], label: str = "") -> None:
        self.build, self.label = build, label

    def __repr__(self) -> str:
        return f"<{self.label or 'made'}>"


def _resolve(value: Any, env: SimpleNamespace) -> Any:
    if isinstance(value, Env):
        return getattr(env, value.name)
    if isinstance(value, Make):
        return value.build(env)
    if isinstance(value, tuple):
        return tuple(_resolve(v, env) for v in value)
    if isinstance(value, list):
        return [_resolve(v, env) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, env) for k, v in value.items()}
    return value


MISSING = Env("missing")  # a path that does not exist
FOLDER = Env("folder")  # an (empty) folder
EMPTY = Env("empty")  # an empty file
BINARY = Env("binary")  # a file of binary bytes
TABLE = Env("table")  # a valid TSV table (12 samples × 6 features, ids not sequences)
METADATA = Env("metadata")  # its metadata (Subject, Age, LPSpgml)
FULL = Env("full")  # a folder that holds a file
REFDIR = Env("refdir")  # a saved reference folder
STUDY = Env("study")  # the synthetic 16S cohort (70 samples, metadata)
SMALL = Env("small")  # the study of TABLE (12 samples), in memory
BARE = Env("bare")  # counts only: no taxonomy, no metadata
HOLLOW = Env("hollow")  # a study with two empty samples
DM = Env("dm")  # Bray–Curtis distances of SMALL
GROUPS = Env("groups")  # SMALL's Subject column
REF = Env("ref")  # a Reference built from STUDY's controls
ENTRY = Env("entry")  # the catalogue's calprotectin entry
VISIT = Env("visit")  # a previous visit
MEASURE = Env("measure")  # an index measure
MARKER = Env("marker")  # a marker measure
REL = Env("rel")  # SMALL's relative abundances (frame)
NAN = math.nan

_FEATURES = ["asv1", "asv2", "asv3", "asv4", "asv5", "asv6"]
_GENERA = ["Bacteroides", "Faecalibacterium", "Roseburia", "Prevotella", "Escherichia",
           "Akkermansia"]


def _small_study() -> Study:
    rng = np.random.default_rng(3)
    counts = rng.integers(20, 200, size=(12, 6))
    samples = [f"s{i:02d}" for i in range(12)]
    taxonomy = pd.DataFrame({"kingdom": "Bacteria", "phylum": "Firmicutes",
                             "class": "Clostridia", "order": "Eubacteriales",
                             "family": "Lachnospiraceae", "genus": _GENERA,
                             "species": None}, index=_FEATURES)
    md = pd.DataFrame({"Subject": ["Control", "Patient"] * 6,
                       "Age": rng.integers(20, 70, size=12).astype(float),
                       "LPSpgml": rng.lognormal(5, 0.4, size=12)}, index=samples)
    return Study(counts, samples, _FEATURES, taxonomy=taxonomy, samples=md)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    tmp = tmp_path_factory.mktemp("api")
    (tmp / "folder").mkdir()
    (tmp / "empty.tsv").write_bytes(b"")
    (tmp / "binary.bin").write_bytes(bytes(range(256)) * 8)
    (tmp / "full").mkdir()
    (tmp / "full" / "keep.txt").write_text("mine\n")
    small = _small_study()
    gio.write_table_tsv(small, tmp / "table.tsv")
    assert small.samples is not None
    small.samples.rename_axis("sample-id").to_csv(tmp / "metadata.tsv", sep="\t")
    study = synthetic_study()
    panel = gmarkers.marker_panel(study.samples, ["LPSpgml"])
    ref = greference.build_reference(study, name="synthetic controls",
                                     where="Subject == 'Control'", markers=panel,
                                     sequencing="16S V4")
    greference.save_reference(ref, tmp / "ref")
    hollow = Study(np.array([[0, 0, 0], [1, 2, 3], [0, 0, 0], [4, 0, 1]]),
                   ["e1", "b", "e2", "c"], ["x", "y", "z"])
    return SimpleNamespace(
        missing=tmp / "no-such-file.tsv", folder=tmp / "folder", empty=tmp / "empty.tsv",
        binary=tmp / "binary.bin", table=tmp / "table.tsv",
        metadata=tmp / "metadata.tsv", full=tmp / "full", refdir=tmp / "ref",
        study=study, small=small, bare=Study(small.counts, small.sample_ids, small.feature_ids),
        hollow=hollow, dm=gdiversity.beta_diversity(small, "braycurtis"),
        groups=small.samples["Subject"], ref=ref,
        entry=gknowledge.load_marker_catalog().find("calprotectin")[0],
        visit=gprofile.Visit("P1", None, "2025-01-01", None,
                             {"marker:crp": (4.0, "mg/L", None)}),
        measure=gmeasures.Measure("index:shannon_entropy", "Shannon", "index", 3.1, "",
                                  "within"),
        marker=gmeasures.Measure("marker:crp", "CRP", "marker", 9.0, "mg/L", "within"),
        rel=gcomposition.relative_abundance(small),
    )


# ------------------------------------------------------------------ the cases
Case = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any], type[GutaxisError], str]

_opts = {"table": TABLE, "metadata": METADATA}
_cp = gcohort.CohortParameters

CASES: list[Case] = [
    # --- gutaxis.Study, gutaxis.DistanceMatrix, Tree.from_newick
    (Study, ([[1, 2]], ["a", "b"], ["x", "y"]), {}, ValidationError,
     r"table is 1 × 2 but 2 sample ids and 2 feature ids"),
    (Study, ([[1.0, NAN]], ["a"], ["x", "y"]), {}, ValidationError, r"NaN or infinite"),
    (Study, ([[1, -2]], ["a"], ["x", "y"]), {}, ValidationError, r"must be ≥ 0"),
    (Study, ([[1, 2]], ["a"], ["x", "x"]), {}, ValidationError, r"feature ids must be unique"),
    (Study, ([[1, 2]], ["a"], ["x", "y"]), {"kind": "percent"}, ValidationError,
     r"kind must be 'counts' or 'relative'; got 'percent'"),
    (Study, ("counts", ["a"], ["x"]), {}, InputError,
     r"counts must be a samples × features matrix of numbers.*got the text 'counts'"),
    (Study, ([["1", "two"]], ["a"], ["x", "y"]), {}, InputError,
     r"counts must be a samples × features matrix of numbers.*got a list holding"),
    (Study, ([[1, 2]], None, ["x", "y"]), {}, InputError,
     r"sample_ids must be a list of names; got None"),
    (Study, ([[1, 2]], ["a"], ["x", "y"]), {"taxonomy": "k__Bacteria"}, InputError,
     r"taxonomy must be a pandas.DataFrame.*got str"),
    (Study, ([[1, 2]], ["a"], ["x", "y"]), {"samples": pd.DataFrame(index=["b"])},
     NotFoundError, r"sample id\(s\) not found in the sample metadata: 'a'"),
    (Study, ([[1, 2]], ["a"], ["x", "y"]), {"samples": ["Control"]}, InputError,
     r"samples must be a pandas.DataFrame.*got list"),
    (Study, ([[1, 2]], ["a"], ["x", "y"]), {"sequences": "ACGT"}, InputError,
     r"sequences must be a pandas.Series.*got str"),
    (DistanceMatrix, (["a", "b"], np.zeros((3, 3))), {}, ValidationError,
     r"distance matrix is \(3, 3\) but has 2 ids"),
    (DistanceMatrix, (["a", "b"], [[0, NAN], [NAN, 0]]), {}, ValidationError,
     r"distance matrix contains NaN or infinite values"),
    (DistanceMatrix, (["a", "b"], [[0, 1], [2, 0]]), {}, ValidationError,
     r"distance matrix must be symmetric"),
    (DistanceMatrix, (None, np.zeros((2, 2))), {}, InputError,
     r"distance matrix's ids must be a list of names; got None"),
    (DistanceMatrix, (["a", "b"], "far"), {}, InputError,
     r"distance matrix's data must be an n × n array of numbers; got str 'far'"),
    (Tree.from_newick, ("((a,b);",), {}, FormatError,
     r"<newick>: character 1 .*unbalanced parentheses"),
    (Tree.from_newick, (b"(a,b);",), {}, InputError,
     r"Newick text must be str; got bytes \(decode it first"),
    (Tree.from_newick, (None,), {}, InputError, r"Newick text must be str.*got None"),

    # --- gutaxis.io
    (gio.read_table, (MISSING,), {}, FormatError, r"no-such-file.tsv: cannot open the file"),
    (gio.read_table, (FOLDER,), {}, FormatError, r"expected a regular file; this is a directory"),
    (gio.read_table, (EMPTY,), {}, FormatError, r"empty.tsv: the file is empty"),
    (gio.read_table, (BINARY,), {}, FormatError,
     r"binary.bin: cannot tell the table.s format.*The file is binary \(it holds NUL bytes\)"),
    (gio.read_table, (None,), {}, InputError,
     r"path must be a path \(a str or os.PathLike\); got None"),
    (gio.read_table, (TABLE,), {"format": "xlsx"}, InputError,
     r"format must be one of biom-hdf5, .*; got 'xlsx'"),
    (gio.read_table, (TABLE,), {"kind": "percent"}, ValidationError,
     r"kind must be 'counts' or 'relative'; got 'percent'"),
    (gio.sniff_format, (EMPTY,), {}, FormatError, r"empty.tsv: the file is empty"),
    (gio.read_qza, (TABLE,), {}, FormatError,
     r"table.tsv: not a readable zip archive.*a .qza artifact was expected"),
    (gio.read_qza, (MISSING,), {}, FormatError, r"no-such-file.tsv: cannot open"),
    (gio.read_qza_table, (BINARY,), {}, FormatError,
     r"binary.bin: not a readable zip archive.*\.qza artifact was expected"),
    (gio.is_qza, (None,), {}, InputError, r"path must be a path.*; got None"),
    (gio.read_metadata, (EMPTY,), {}, FormatError, r"empty.tsv: no header line found"),
    (gio.read_metadata, (FOLDER,), {}, FormatError,
     r"folder: expected a regular file; this is a directory"),
    (gio.read_metadata, (BINARY,), {}, FormatError, r"binary.bin: .*is not valid UTF-8"),
    (gio.parse_taxonomy, (["k__Bacteria"],), {"index": ["a", "b"]}, ValidationError,
     r"1 annotations but 2 ids"),
    (gio.parse_taxonomy, (None,), {}, InputError,
     r"taxonomy strings must be a list of annotations, one per feature; got NoneType"),
    (gio.read_taxonomy, (EMPTY,), {}, FormatError,
     r"empty.tsv: no taxonomy rows found; expected lines"),
    (gio.read_taxonomy, (MISSING,), {}, FormatError,
     r"no-such-file.tsv: cannot open the file"),
    (gio.read_sequences, (EMPTY,), {}, FormatError,
     r"empty.tsv: no FASTA records found \(expected '>id' lines"),
    (gio.read_sequences, (BINARY,), {}, FormatError, r"binary.bin: .*is not valid UTF-8"),
    (gio.read_tree, (EMPTY,), {}, FormatError, r"empty.tsv: empty Newick text"),
    (gio.read_tree, (FOLDER,), {}, FormatError, r"folder: expected a regular file"),
    (gio.write_tree, ("((A,B),C);", Make(lambda e: e.folder / "t.nwk")), {}, InputError,
     r"tree must be a Tree; got str"),
    (gio.read_lsmat, (EMPTY,), {}, FormatError,
     r"empty.tsv: the distance matrix file is empty"),
    (gio.read_lsmat, (TABLE,), {}, FormatError,
     r"table.tsv: line 1: the header should be an empty cell.*\(lsmat layout\)"),
    (gio.write_lsmat, ("braycurtis", Make(lambda e: e.folder / "dm.tsv")), {}, InputError,
     r"dm must be a DistanceMatrix; got str 'braycurtis'"),
    (gio.write_lsmat, (DM, FOLDER), {}, OutputError,
     r"folder: cannot write the distance matrix \(Is a directory\)"),
    # the formats big studies use: ssu's HDF5, zarr stores, QIIME 2 artifacts
    (gio.read_distance_hdf5, (MISSING,), {}, InputError, r"no-such-file.tsv: no such file"),
    (gio.read_distance_hdf5, (EMPTY,), {}, FormatError, r"empty.tsv: not an HDF5 file"),
    (gio.read_pcoa_hdf5, (EMPTY,), {}, FormatError, r"empty.tsv: not an HDF5 file"),
    (gio.write_distance_hdf5, ("braycurtis", Make(lambda e: e.folder / "dm.h5")), {},
     InputError, r"dm must be a DistanceMatrix; got str 'braycurtis'"),
    (gio.read_distance_zarr, (FOLDER,), {}, FormatError, r"folder: not a gutaxis distance store"),
    (gio.write_distance_zarr, ("braycurtis", Make(lambda e: e.folder / "dm.zarr")), {},
     InputError, r"dm must be a DistanceMatrix; got str 'braycurtis'"),
    (gio.write_distance, (DM, FOLDER, "braycurtis", "xlsx"), {}, ValidationError,
     r"--format must be one of tsv, hdf5, qza, zarr; got 'xlsx'"),
    (gio.write_distance, (DM, FOLDER, "braycurtis", "tsv"), {"precision": "float32"},
     ValidationError, r"--precision float32 applies to --format hdf5 or zarr"),
    (gio.write_distance_matrix_qza, ("braycurtis", Make(lambda e: e.folder / "dm.qza")), {},
     InputError, r"dm must be a DistanceMatrix; got str 'braycurtis'"),
    (gio.write_alpha_qza, ("shannon", Make(lambda e: e.folder / "a.qza")), {}, InputError,
     r"values must be a pandas.Series; got str 'shannon'"),
    (gio.write_pcoa_qza, ("pcoa", Make(lambda e: e.folder / "p.qza")), {}, InputError,
     r"ordination must be a PCoA result"),
    (gio.write_qza, (Make(lambda e: e.folder / "q.qza"),),
     {"semantic_type": "DistanceMatrix", "directory_format": "DistanceMatrixDirectoryFormat",
      "files": "distance-matrix.tsv"}, InputError, r"files must map file names to bytes"),
    (gio.write_table_tsv, ("table", Make(lambda e: e.folder / "t.tsv")), {}, InputError,
     r"study must be a Study; got str 'table' \(read a table with gutaxis.io.read_table"),
    (gio.write_table_tsv, (SMALL, FOLDER), {}, OutputError, r"folder: cannot write the table"),
    (gio.write_biom, (SMALL, Make(lambda e: e.folder / "t.biom")), {"format": "tsv"},
     InputError, r"format must be 'hdf5' or 'json'; got 'tsv'"),
    (gio.write_biom, (None, Make(lambda e: e.folder / "t.biom")), {}, InputError,
     r"study must be a Study; got None"),
    (gio.example_dataset, ("no-such-study",), {}, NotFoundError,
     r"example data set.*not found.*cfs_giloteaux_2016"),
    (gio.read_example, ("no-such-study",), {}, NotFoundError,
     r"example data set\(s\) not found in the bundled data: 'no-such-study'"),
    (gio.parse_sequencing, ("nanopore",), {}, ValidationError, r"sequencing type 'nanopore'"),
    (gio.parse_sequencing, (None,), {}, ValidationError,
     r"sequencing type None is not one gutaxis knows; describe 16S"),
    (gio.infer_sequencing, (SMALL, "ncbi"), {}, ValidationError,
     r"taxonomy scheme must be one of greengenes, .*; got 'ncbi'"),
    (gio.infer_sequencing, ("16S", "greengenes"), {}, InputError,
     r"study must be a Study; got str '16S'"),
    (gio.infer_taxonomy_scheme, (None,), {}, InputError, r"study must be a Study; got None"),

    # --- gutaxis.commands
    (gcommands.ChallengeOptions, (), {"diary": MISSING}, InputError,
     r"DIARY .*no-such-file.tsv: no such file"),
    (gcommands.ChallengeOptions, (), {"diary": TABLE, "challenges": FOLDER}, InputError,
     r"--challenges .*: is a folder; expected a file"),
    (gcommands.ChallengeOptions, (), {"diary": TABLE, "carryover_days": -2}, ValidationError,
     r"--carryover-days must be 0 or more; got -2"),
    (gcommands.run_challenge, (TABLE,), {}, InputError, r"options must be a ChallengeOptions"),
    (gcommands.run_challenge, (Make(lambda e: gcommands.ChallengeOptions(diary=e.table)),), {},
     FormatError, r"table.tsv: line 1: expected the header time,kind,item,value"),
    (gcommands.LabsImportOptions, (), {"bundle": MISSING}, InputError,
     r"BUNDLE .*no-such-file.tsv: no such file"),
    (gcommands.run_labs_import, (TABLE,), {}, InputError,
     r"options must be a LabsImportOptions"),
    (gcommands.run_labs_import, (Make(lambda e: gcommands.LabsImportOptions(bundle=e.table)),),
     {}, FormatError, r"table.tsv: not JSON \(line 1, column 1"),
    (gcommands.food_groups_of, ("foods.yaml",), {}, InputError,
     r"catalog must be a FoodCatalog.*load_food_catalog"),
    (gcommands.TableOptions, (), {"table": MISSING}, InputError,
     r"TABLE .*no-such-file.tsv: no such file"),
    (gcommands.TableOptions, (), {"table": FOLDER}, InputError, r"is a folder; expected a file"),
    (gcommands.TableOptions, (), {"table": None}, InputError,
     r"TABLE: the feature table is required"),
    (gcommands.TableOptions, (), {"table": TABLE, "metadata": MISSING}, InputError,
     r"--metadata .*no-such-file.tsv: no such file"),
    (gcommands.TableOptions, (), {"table": 42}, InputError,
     r"TABLE must be a path \(a str or os.PathLike\); got int 42"),
    (gcommands.default, (gcohort.CohortParameters, "permutaions"), {}, UnknownNameError,
     r"unknown CohortParameters field 'permutaions'; did you mean 'permutations'"),
    (gcommands.default, ("CohortParameters", "seed"), {}, InputError,
     r"takes an options class.*got 'CohortParameters'"),
    (gcommands.DiversityOptions, (), {"table": TABLE, "rarefy": "deep"}, ValidationError,
     r"--rarefy must be an integer ≥ 1; got 'deep'"),
    (gcommands.DiversityOptions, (), {"table": TABLE, "rarefy": 0}, ValidationError,
     r"--rarefy must be an integer ≥ 1; got 0"),
    (gcommands.DiversityOptions, (), {"table": TABLE, "metrics": ["shanon"]},
     UnknownMetricError, r"unknown metric 'shanon'; did you mean 'shannon_entropy'"),
    (gcommands.DiversityOptions, (), {"table": TABLE, "metrics": []}, ValidationError,
     r"give at least one metric name, e.g. --metrics shannon_entropy"),
    (gcommands.DiversityOptions, (), {"table": TABLE, "metrics": "shannon_entropy"}, InputError,
     r"--metrics.*list of names.*\['shannon_entropy'\]"),
    (gcommands.DiversityOptions, (), {"table": TABLE, "shannon_base": "two"}, ValidationError,
     r"--base must be a finite number > 0; got 'two'"),
    (gcommands.DiversityOptions, (), {"table": TABLE, "shannon_base": 1}, ValidationError,
     r"--base must be a finite number > 0 other than 1; got 1"),
    (gcommands.DiversityOptions, (), {"table": TABLE, "threads": "4"}, ValidationError,
     r"--threads must be an integer ≥ 1; got '4'"),
    (gcommands.DiversityOptions, (), {"table": TABLE, "seed": -1}, ValidationError,
     r"--seed must be an integer ≥ 0; got -1"),
    (gcommands.DiversityOptions, (), {"table": TABLE, "tree": FOLDER}, InputError,
     r"--tree .*folder: is a folder; expected a file"),
    (gcommands.run_diversity, ("table.tsv",), {}, InputError,
     r"options must be a DiversityOptions; got str 'table.tsv' \(make one with"),
    (gcommands.run_diversity, (Make(lambda e: gcommands.DiversityOptions(table=e.empty)),), {},
     FormatError, r"empty.tsv: the file is empty"),
    (gcommands.AnalysisOptions, (), {"table": TABLE, "metadata": METADATA, "parameters": None},
     InputError, r"parameters must be CohortParameters; got NoneType"),
    (gcommands.AnalysisOptions, (), {"table": TABLE, "parameters": _cp("Subject")},
     InputError, r"needs sample metadata \(--metadata\)"),
    (gcommands.AnalysisOptions, (), {**_opts, "parameters": _cp("Subject"),
                                     "markers": "LPSpgml"}, InputError,
     r"--markers.*list of names.*\['LPSpgml'\]"),
    (gcommands.run_analysis, (Make(lambda e: gcommands.AnalysisOptions(
        table=e.table, metadata=e.metadata, parameters=_cp("Group"))),), {},
     NotFoundError, r"metadata column\(s\) not found in the sample metadata \S*metadata.tsv: "
                    r"'Group'.*"
                    r"Available: Subject"),
    (gcommands.run_analysis, (None,), {}, InputError,
     r"options must be an AnalysisOptions; got None"),
    (gcommands.IndicesOptions, (), {"table": MISSING}, InputError,
     r"TABLE .*no-such-file.tsv: no such file"),
    (gcommands.run_indices, (Make(lambda e: gcommands.IndicesOptions(table=e.binary)),), {},
     FormatError, r"binary.bin: cannot tell the table.s format.*The file is binary"),
    (gcommands.run_indices, (TABLE,), {}, InputError,
     r"options must be an IndicesOptions; got pathlib.PosixPath \(make one with"),
    (gcommands.ReferenceOptions, (), {**_opts, "name": ""}, ValidationError,
     r"needs a name \(--name\)"),
    (gcommands.ReferenceOptions, (), {**_opts, "name": "r", "min_reads": -5}, ValidationError,
     r"--min-reads must be an integer ≥ 0; got -5"),
    (gcommands.ReferenceOptions, (), {**_opts, "name": "r", "min_reads": "many"},
     ValidationError, r"--min-reads must be an integer ≥ 0; got 'many'"),
    (gcommands.ReferenceOptions, (), {"table": TABLE, "name": "r"}, InputError,
     r"needs the sample metadata \(--metadata\)"),
    (gcommands.run_reference_build, (Make(lambda e: gcommands.ReferenceOptions(
        table=e.table, metadata=e.metadata, name="r", where="Group == 'Control'")),), {},
     ValidationError, r"--where is not a valid condition.*the columns are: Subject"),
    (gcommands.run_reference_build, ({"name": "r"},), {}, InputError,
     r"options must be a ReferenceOptions; got dict"),
    (gcommands.ProfileOptions, (), {"table": TABLE, "sample": "s00", "reference": MISSING},
     InputError, r"--reference .*no such folder"),
    (gcommands.ProfileOptions, (), {"table": TABLE, "sample": "s00", "reference": TABLE},
     InputError, r"--reference .*is a file; expected a folder"),
    (gcommands.ProfileOptions, (), {"table": TABLE, "sample": "", "reference": REFDIR},
     ValidationError, r"--sample must be a sample id; got ''"),
    (gcommands.ProfileOptions, (), {"table": TABLE, "sample": "s00", "reference": REFDIR,
                                    "n_boot": 0}, ValidationError,
     r"n_boot must be an integer ≥ 1; got 0"),
    (gcommands.ProfileOptions, (), {"table": TABLE, "sample": "s00", "reference": REFDIR,
                                    "seed": "x"}, ValidationError,
     r"--seed must be an integer ≥ 0; got 'x'"),
    (gcommands.run_profile, (Make(lambda e: gcommands.ProfileOptions(
        table=e.table, sample="s99", reference=e.refdir)),), {}, NotFoundError,
     r"sample id\(s\) not found in .*table.tsv: 's99'. Available: s00"),
    (gcommands.run_profile, ("s00",), {}, InputError,
     r"options must be a ProfileOptions; got str 's00'"),
    (gcommands.run_demo, (TABLE,), {}, OutputError,
     r"table.tsv is a file; the demo needs a folder"),
    (gcommands.run_demo, (FULL,), {}, OutputError, r"is not empty.*--overwrite"),

    # --- gutaxis.cohort
    (_cp, ("",), {}, ValidationError, r"group column \(--group\) must be a column name"),
    (_cp, (None,), {}, ValidationError, r"group column \(--group\).*got None"),
    (_cp, ("Subject",), {"rank": "genera"}, UnknownRankError,
     r"unknown taxonomic rank 'genera'; did you mean 'genus'\? \(the valid names are: .*genus"),
    (_cp, ("Subject",), {"rarefy_depth": "deep"}, ValidationError,
     r"rarefaction depth \(--rarefy\) must be an integer ≥ 1; got 'deep'"),
    (_cp, ("Subject",), {"rarefy_depth": 0}, ValidationError,
     r"rarefaction depth \(--rarefy\) must be an integer ≥ 1; got 0"),
    (_cp, ("Subject",), {"permutations": -1}, ValidationError,
     r"permutations \(--permutations\) must be an integer ≥ 0; got -1"),
    (_cp, ("Subject",), {"cv_folds": 1}, ValidationError,
     r"cross-validation folds \(--cv-folds\) must be an integer ≥ 2; got 1"),
    (_cp, ("Subject",), {"min_prevalence": NAN}, ValidationError,
     r"min_prevalence must be a share in \[0, 1\); got nan"),
    (_cp, ("Subject",), {"alpha_metrics": ["shanon"]}, UnknownMetricError,
     r"unknown alpha diversity metric 'shanon'"),
    (_cp, ("Subject",), {"beta_metrics": ["shannon_entropy"]}, UnknownMetricError,
     r"unknown beta diversity metric 'shannon_entropy'"),
    (_cp, ("Subject",), {"covariates": None}, InputError,
     r"covariates \(--covariates\) must be a list of names; got None"),
    (_cp, ("Subject",), {"covariates": "Age"}, InputError,
     r"covariates \(--covariates\) must be a list of names; got the text 'Age' "
     r"\(write \['Age'\]\)"),
    (_cp, ("Subject",), {"threads": 0}, ValidationError,
     r"threads \(--threads\) must be an integer ≥ 1; got 0"),
    (gcohort.analyze_cohort, (SMALL, _cp("Group")), {}, NotFoundError,
     r"metadata column\(s\) not found.*'Group'"),
    (gcohort.check_cohort, (SMALL, _cp("Group")), {}, NotFoundError,
     r"metadata column\(s\) not found.*'Group'"),
    (gcohort.check_cohort, (SMALL, _cp("Subject", subject="Nope")), {}, NotFoundError,
     r"metadata column\(s\) not found.*'Nope'"),
    (gstats.permutation_design, (pd.Index(["a", "b"]), np.array([0, 1]), ["p"], "PERMANOVA"),
     {}, InputError, r"subjects must give one subject per sample \(2\); got 1"),
    (gcohort.check_cohort, (SMALL, None), {}, InputError,
     r"parameters must be a CohortParameters.*got None"),
    (gcohort.analyze_cohort, (BARE, _cp("Subject")), {}, InputError,
     r"needs sample metadata \(--metadata\)"),
    (gcohort.analyze_cohort, ("table.biom", _cp("Subject")), {}, InputError,
     r"study must be a Study.*got str"),
    (gcohort.analyze_cohort, (SMALL, None), {}, InputError,
     r"parameters must be a CohortParameters.*got None"),
    (gcohort.analyze_cohort, (SMALL, _cp("Subject")), {"markers": "LPSpgml"}, InputError,
     r"markers must be a MarkerPanel.*got str"),

    # --- gutaxis.diversity
    (gdiversity.alpha_diversity, (SMALL, ["shanon"]), {}, UnknownMetricError,
     r"unknown alpha diversity metric 'shanon'"),
    (gdiversity.alpha_diversity, (SMALL, "shannon_entropy"), {}, InputError,
     r"metrics must be a list of names; got the text 'shannon_entropy'"),
    (gdiversity.alpha_diversity, ("table", ["shannon_entropy"]), {}, InputError,
     r"study must be a Study.*got str"),
    (gdiversity.alpha_diversity, (SMALL, ["shannon_entropy"]), {"base": "e"}, InputError,
     r"`base` must be a number > 0 and ≠ 1; got 'e'"),
    (gdiversity.alpha_diversity, (SMALL, ["shannon_entropy"]), {"base": NAN}, InputError,
     r"`base` must be a number > 0 and ≠ 1; got nan"),
    (gdiversity.beta_diversity, (SMALL, "bray"), {}, UnknownMetricError,
     r"unknown beta diversity metric 'bray'.*braycurtis"),
    (gdiversity.beta_diversity, (SMALL, "unweighted_unifrac"), {}, InputError,
     r"needs a phylogenetic tree.*--tree"),
    (gdiversity.beta_diversity, (HOLLOW, "braycurtis"), {}, EmptySamplesError,
     r"undefined between samples with no reads; 2 sample\(s\).*are empty: e1, e2"),
    (gdiversity.beta_diversity, (SMALL, "braycurtis"), {"n_threads": 0}, InputError,
     r"`n_threads` must be an integer ≥ 1; got 0"),
    (gdiversity.beta_diversity, (SMALL, "aitchison"), {"pseudocount": "one"}, InputError,
     r"`pseudocount` must be a number > 0; got 'one'"),
    (gdiversity.beta_diversity, (None, "braycurtis"), {}, InputError,
     r"study must be a Study.*got None"),
    (gdiversity.get_alpha_metric, ("shanon",), {}, UnknownMetricError,
     r"unknown alpha diversity metric 'shanon'; did you mean 'shannon_entropy'"),
    (gdiversity.get_beta_metric, ("jacard",), {}, UnknownMetricError,
     r"unknown beta diversity metric 'jacard'; did you mean 'jaccard'"),
    (gdiversity.split_metrics, (["shannon_entropy", "nope"],), {}, UnknownMetricError,
     r"unknown metric 'nope'; the valid names are: aitchison"),
    (gdiversity.split_metrics, ("braycurtis",), {}, InputError,
     r"metric names must be a list of names; got the text 'braycurtis' "
     r"\(write \['braycurtis'\]\)"),
    (gdiversity.applicable_metrics, ("table.biom", ["braycurtis"]), {}, InputError,
     r"study must be a Study; got str 'table.biom'"),
    (gdiversity.applicable_metrics, (SMALL, ["faith_pd"]), {"asked": ["faith_pd"]}, InputError,
     r"faith_pd cannot be computed on .*: needs a phylogenetic tree"),
    (gdiversity.rarefy, (SMALL, "deep"), {}, InputError,
     r"`depth` must be an integer ≥ 1; got 'deep'"),
    (gdiversity.rarefy, (SMALL, 0), {}, InputError, r"`depth` must be an integer ≥ 1; got 0"),
    (gdiversity.rarefy, (SMALL, 100), {"seed": -1}, InputError,
     r"`seed` must be an integer ≥ 0 \(or None for a fresh one\); got -1"),
    (gdiversity.rarefy, ("table", 100), {}, InputError, r"study must be a Study.*got str"),
    (gdiversity.rarefy, (Make(lambda e: e.small.relative()), 100), {}, InputError,
     r"holds relative abundances.*Rarefy the read-count table"),

    # --- gutaxis.indices
    (gindices.gmhi, ("table",), {}, InputError,
     r"gmhi takes a Study or a pandas.DataFrame \(species × samples\); got str"),
    (gindices.gmhi, (SMALL,), {}, gindices.NotApplicableError,
     r"gmhi is not applicable: .* is not a species-level profile"),
    (gindices.gmhi_values, (np.ones((2, 3)), ["s__A_b", "s__C_d"]), {}, ValidationError,
     r"samples × species with 2 columns \(one per name\); got shape \(2, 3\)"),
    (gindices.gmhi_values, ("abundant", ["s__A_b"]), {}, ValidationError,
     r"gmhi_values: values must be a samples × species array of numbers; got str"),
    (gindices.md_index, (SMALL,), {"lists": "qiime-2"}, NotFoundError,
     r"MD-index list\(s\) not found.*'qiime-2'.*qiime-1.9.1-dev"),
    (gindices.md_index, (None,), {}, InputError, r"study must be a Study.*got None"),
    (gindices.md_index_values, (np.ones(3), np.ones(2)), {}, ValidationError,
     r"increased and decreased.*same length.*3.*2"),
    (gindices.md_index_lists, ("qiime-2",), {}, NotFoundError,
     r"MD-index list\(s\) not found in the knowledge base: 'qiime-2'; did you mean "
     r"'qiime-1.9.1-dev'"),
    (gindices.key_taxa, ("table",), {}, InputError, r"study must be a Study.*got str"),
    (gindices.key_taxa, (SMALL,), {"catalog": "taxa.yaml"}, InputError,
     r"catalog must be a TaxaCatalog.*got str"),
    (gindices.key_taxa_resolution, (None,), {}, InputError, r"study must be a Study; got None"),
    (gindices.compute_indices, (pd.DataFrame(),), {}, InputError,
     r"study must be a Study.*got pandas.DataFrame"),
    (gindices.not_computable_reason, ("shannon_entropy",), {}, NotFoundError,
     r"index\(s\) not found in the indices that can be not computable: 'shannon_entropy'.*"
     r"gmhi, md_index"),

    # --- gutaxis.knowledge: the load_* functions
    (gknowledge.load_marker_catalog, (MISSING,), {}, FormatError,
     r"no-such-file.tsv: cannot read the file \(No such file or directory\); expected a "
     r"YAML file in the schema of gutaxis/knowledge/markers.yaml"),
    (gknowledge.load_marker_catalog, (EMPTY,), {}, FormatError,
     r"empty.tsv: the file is empty; expected a YAML document"),
    (gknowledge.load_taxa_catalog, (FOLDER,), {}, FormatError,
     r"folder: cannot read the file \(Is a directory\)"),
    (gknowledge.load_taxa_catalog, (TABLE,), {}, FormatError, r"table.tsv: not valid YAML"),
    (gknowledge.load_fhir_knowledge, (FOLDER,), {}, FormatError,
     r"folder: cannot read the file \(Is a directory\); expected a YAML file in the schema "
     r"of gutaxis/knowledge/fhir.yaml"),
    (gknowledge.load_chain, (BINARY,), {}, FormatError,
     r"binary.bin: byte 128 is not UTF-8 text; expected a YAML file in the schema of "
     r"gutaxis/knowledge/chain.yaml"),
    (gknowledge.classify, ("high",), {"low": 1.0, "high": 5.0}, ValidationError,
     r"value must be a number; got 'high'"),
    (gknowledge.classify, (NAN,), {"low": 1.0, "high": 5.0}, ValidationError,
     r"value is NaN; a missing value cannot be placed against a range"),
    (gknowledge.load_interventions, (MISSING,), {}, FormatError,
     r"no-such-file.tsv: cannot read the file.*interventions.yaml"),
    (gknowledge.load_food_catalog, (MISSING,), {}, FormatError,
     r"no-such-file.tsv: cannot read the file.*foods.yaml"),
    (gknowledge.load_food_catalog, (EMPTY,), {}, FormatError,
     r"empty.tsv: the file is empty; expected a YAML document \(FoodCatalog"),
    (gknowledge.load_bristol_scale, (3,), {}, InputError,
     r"path must be a path \(a str or os.PathLike\); got int 3"),
    (gknowledge.load_bristol_scale, (BINARY,), {}, FormatError,
     r"binary.bin: byte 128 is not UTF-8 text.*bristol.yaml"),

    (gknowledge.load_challenge_knowledge, (MISSING,), {}, FormatError,
     r"no-such-file.tsv: cannot read the file.*challenge.yaml"),
    (gknowledge.load_challenge_knowledge, (EMPTY,), {}, FormatError,
     r"empty.tsv: the file is empty; expected a YAML document \(ChallengeKnowledge"),

    # --- gutaxis.challenge
    (gchallenge.read_diary, (MISSING,), {}, FormatError,
     r"no-such-file.tsv: cannot read the diary"),
    (gchallenge.read_diary, (EMPTY,), {}, FormatError,
     r"empty.tsv: empty file; expected the header time,kind,item,value"),
    (gchallenge.read_diary, (BINARY,), {}, FormatError,
     r"binary.bin: line 2: byte 0x80 is not UTF-8 text"),
    (gchallenge.read_diary, (TABLE,), {}, FormatError,
     r"table.tsv: line 1: expected the header time,kind,item,value"),
    (gchallenge.read_diary, (42,), {}, InputError, r"must be a path"),
    (gchallenge.read_challenges, (MISSING,), {}, FormatError,
     r"no-such-file.tsv: cannot read the challenges"),
    (gchallenge.read_challenges, (TABLE,), {}, FormatError,
     r"line 1: expected the header food_group,start,end"),
    (gchallenge.diary_from_rows, ("2026-03-01,symptom,pain,3",), {}, ValidationError,
     r"expected rows of \(time, kind, item, value\); got a text"),
    (gchallenge.diary_from_rows, ([("2026-03-01", "symptom", "pain", 11)],), {},
     ValidationError, r"diary: row 1: field 'value': symptom 'pain': the score from 0"),
    (gchallenge.challenges_from_steps, ([],), {}, FormatError, r"challenges: no challenges"),
    (gchallenge.challenges_from_steps, ([("gluten", "2026-03-01", False)],), {},
     ValidationError, r"expected \(food_group, ChallengeStep, sham\) rows"),
    (gchallenge.diary_csv, ("DIARY.csv",), {}, InputError, r"diary must be a Diary"),
    (gchallenge.challenges_csv, (["gluten"],), {}, InputError,
     r"challenges\[\] must be a Challenge"),
    (gchallenge.challenge_verdicts, (TABLE, []), {}, InputError,
     r"diary must be a Diary.*read_diary"),
    (gchallenge.challenge_verdicts, (Make(lambda e: gchallenge.diary_from_rows(
        [("2026-03-01", "symptom", "pain", 3)])), ["gluten"]), {}, InputError,
     r"challenges\[\] must be a Challenge"),
    (gchallenge.VerdictOptions, (), {"decision": 0.4}, ValidationError,
     r"decision must be in \(0.5, 1\); got 0.4"),
    (gchallenge.VerdictOptions, (), {"carryover_days": -1}, ValidationError,
     r"carryover_days must be >= 0"),
    (gchallenge.diary_suspects, ("DIARY.csv",), {}, InputError, r"diary must be a Diary"),
    (gchallenge.diary_suspects, (Make(lambda e: gchallenge.diary_from_rows(
        [("2026-03-01", "symptom", "pain", 3)])),), {"groups_of": {"bread": "gluten"}},
     ValidationError, r"groups_of must map a diary item to a set of names; got dict"),
    (gchallenge.SuspectOptions, (), {"fdr": 2.0}, ValidationError,
     r"fdr must be between 0 and 1; got 2.0"),
    (gchallenge.SuspectOptions, (), {"windows": ((24.0, 4.0),)}, ValidationError,
     r"a lag window needs 0 <= low < high hours; got \(24.0, 4.0\)"),

    (gchallenge.ProtocolSpec, (), {"groups": (), "elimination_start": Make(
        lambda e: __import__("datetime").date(2026, 3, 1)), "elimination_days": 21},
     ValidationError, r"groups: name at least one food group to remove"),
    (gchallenge.ProtocolSpec, (("egg",), "2026-03-01", 21), {}, InputError,
     r"elimination_start must be a date"),
    (gchallenge.build_calendar, ("spec", {}, None), {}, InputError, r"spec must be a ProtocolSpec"),
    (gchallenge.challenge_order, (("gluten",),), {}, InputError, r"spec must be a ProtocolSpec"),
    (gchallenge.back_at_baseline, ([], {}, None, None), {}, ValidationError,
     r"scores and baseline must map each symptom"),

    # --- gutaxis.markers
    (gmarkers.marker_panel, (Make(lambda e: e.small.samples), ["Nope"]), {}, NotFoundError,
     r"marker column\(s\) not found in metadata: 'Nope'. Available: Subject"),
    (gmarkers.marker_panel, (Make(lambda e: e.small.samples), []), {}, ValidationError,
     r"no marker columns given; name at least one .*--markers"),
    (gmarkers.marker_panel, (Make(lambda e: e.small.samples), ["LPSpgml=furlongs"]), {},
     UnitError, r"unknown unit 'furlongs'; expected"),
    (gmarkers.marker_panel, (Make(lambda e: e.small.samples), ["Subject=mg/L"]), {},
     ValidationError, r"marker column 'Subject'"),
    (gmarkers.marker_panel, (Make(lambda e: e.small.samples), "LPSpgml"), {}, InputError,
     r"marker columns \(--markers\) must be a list of names; got the text 'LPSpgml'"),
    (gmarkers.marker_panel, ("metadata.tsv", ["LPSpgml"]), {}, InputError,
     r"samples must be a pandas.DataFrame.*got str"),
    (gmarkers.read_marker_specs, (MISSING,), {}, FormatError,
     r"no-such-file.tsv: cannot read the markers file"),
    (gmarkers.read_marker_specs, (EMPTY,), {}, FormatError,
     r"empty.tsv: empty markers file; expected a header 'column<TAB>unit'"),
    (gmarkers.read_marker_specs, (BINARY,), {}, FormatError, r"binary.bin: "),
    (gmarkers.MarkerPanel, ("LPSpgml", {}), {}, InputError,
     r"values must be a pandas.DataFrame.*got str"),
    (gmarkers.read_labs, (MISSING,), {}, FormatError,
     r"no-such-file.tsv: cannot read the lab results file"),
    (gmarkers.read_labs, (EMPTY,), {}, FormatError, r"empty.tsv: empty file; expected a header"),
    (gmarkers.read_labs, (BINARY,), {}, FormatError,
     r"binary.bin: line 2: byte 0x80 is not UTF-8 text"),
    (gmarkers.read_labs, (TABLE,), {}, FormatError,
     r"table.tsv: line 1: the header is not comma- or tab-separated"),
    (gmarkers.interpret_marker, (ENTRY, "high", "ug/g"), {}, ValidationError,
     r"value must be a finite number ≥ 0; got 'high'"),
    (gmarkers.interpret_marker, (ENTRY, NAN, "ug/g"), {}, ValidationError,
     r"value must be a finite number ≥ 0; got nan"),
    (gmarkers.interpret_marker, (ENTRY, 12.0, "furlongs"), {}, UnitError,
     r"unknown unit 'furlongs'"),
    (gmarkers.interpret_marker, ("calprotectin", 12.0, "ug/g"), {}, InputError,
     r"entry must be a MarkerEntry.*got str"),
    (gmarkers.interpret_result, ("calprotectin 12",), {}, InputError,
     r"result must be a MarkerResult; got str 'calprotectin 12'"),
    (gmarkers.interpret_result, (Make(lambda e: gmarkers.MarkerResult(
        "calprotectin", e.entry, 12.0, "ug/g", ref_low=5.0, ref_high=1.0)),), {},
     ValidationError, r"ref_low \(5\) is above ref_high \(1\)"),
    (gmarkers.MarkerResult, ("crp", None, "9", "mg/L"), {}, ValidationError,
     r"marker crp: value must be a number; got '9'"),
    (gmarkers.parse_unit, ("furlongs",), {}, UnitError, r"unknown unit 'furlongs'; expected"),
    (gmarkers.parse_unit, (None,), {}, UnitError, r"unknown unit None; expected"),
    (gmarkers.conversion_factor, ("mg/L", "ug/g"), {}, UnitError,
     r"cannot convert mg/L \(.*\) to ug/g \(.*\)"),
    (gmarkers.convert, ("ten", "mg/L", "ug/mL"), {}, ValidationError,
     r"convert: the values must be numbers; got 'ten'"),

    # --- gutaxis.reference
    (greference.build_reference, (STUDY,), {"name": "r", "where": "Group == 'Control'"},
     ValidationError, r"--where is not a valid condition.*'Group'"),
    (greference.build_reference, (STUDY,), {"name": ""}, ValidationError,
     r"the reference needs a name \(--name\), a non-empty text; got ''"),
    (greference.build_reference, (STUDY,), {"name": "r", "min_reads": -1}, ValidationError,
     r"minimum read count \(--min-reads\) must be an integer ≥ 0; got -1"),
    (greference.build_reference, (STUDY,), {"name": "r", "rank_list": ["genera"]},
     UnknownRankError, r"unknown taxonomic rank 'genera'"),
    (greference.build_reference, (STUDY,), {"name": "r", "sequencing": "nanopore"},
     ValidationError, r"sequencing type 'nanopore' is not one gutaxis knows"),
    (greference.build_reference, ("table.tsv",), {"name": "r"}, InputError,
     r"study must be a Study.*got str"),
    (greference.build_reference, (STUDY,), {"name": "r", "markers": ["LPSpgml"]}, InputError,
     r"markers must be a MarkerPanel.*got list"),
    (greference.build_reference, (STUDY,), {"name": "r", "classifier_path": MISSING},
     InputError, r"no model file at .*no-such-file.tsv"),
    (greference.save_reference, (REF, TABLE), {}, OutputError,
     r"table.tsv is a file; the reference needs a folder"),
    (greference.save_reference, (REF, FULL), {}, OutputError,
     r"full is not empty \(keep.txt\).*--overwrite"),
    (greference.save_reference, ("ref", Make(lambda e: e.folder / "r")), {}, InputError,
     r"reference must be a Reference.*got str"),
    (greference.load_reference, (MISSING,), {}, InputError,
     r"no reference folder at .*no-such-file.tsv \(make one with `gutaxis reference build`\)"),
    (greference.load_reference, (FOLDER,), {}, FormatError, r"folder.*reference.json"),
    (greference.load_reference, (TABLE,), {}, InputError, r"no reference folder at .*table.tsv"),
    (greference.reference_document, (None,), {}, InputError,
     r"reference must be a Reference.*got None"),
    (greference.compare_to_reference, (REF, STUDY, "nope"), {}, NotFoundError,
     r"sample id\(s\) not found.*'nope'"),
    (greference.compare_to_reference, ("ref", STUDY, "S000"), {}, InputError,
     r"reference must be a Reference.*got str"),
    (greference.compare_to_reference, (REF, None, "S000"), {}, InputError,
     r"patient_study must be a Study; got None"),
    (greference.compare_to_reference, (REF, STUDY, "S000"), {"n_boot": 0}, InputError,
     r"`n_boot` must be an integer ≥ 1; got 0"),
    (greference.compare_to_reference, (REF, STUDY, "S000"), {"ranks": ["genera"]},
     NotFoundError, r"rank\(s\) not found in the reference 'synthetic controls': 'genera'"),
    (greference.place_markers, (REF, [MEASURE]), {}, ValidationError,
     r"places markers; index:shannon_entropy is"),
    (greference.place_markers, (REF, ["marker:crp"]), {}, InputError,
     r"each marker must be a Measure; got str 'marker:crp'"),
    (greference.place_markers, (None, [MARKER]), {}, InputError,
     r"reference must be a Reference; got None \(build one with"),
    (greference.percentile_status, ("low", 3.0), {}, ValidationError,
     r"ci_low must be a finite number in \[0, 100\]; got 'low'"),
    (greference.percentile_status, (1.0, NAN), {}, ValidationError,
     r"ci_high must be a finite number in \[0, 100\]; got nan"),
    (greference.select_samples, (SMALL, 5), {}, ValidationError,
     r"sample selection \(--where\) must be a condition such as .*; got 5"),
    (greference.select_samples, (SMALL, "Group == 'Control'"), {}, ValidationError,
     r"--where is not a valid condition.*the columns are: Subject"),
    (greference.select_samples, (BARE, "Subject == 'Control'"), {}, ValidationError,
     r"--where\) reads the sample metadata, and the study has none; give --metadata"),
    (greference.select_samples, ("table", None), {}, InputError,
     r"study must be a Study; got str 'table'"),
    (greference.query_columns_hint, (SMALL, 5), {}, ValidationError,
     r"`where` must be a query string such as .*; got 5"),
    (greference.query_columns_hint, (None, "Subject == 'x'"), {}, InputError,
     r"study must be a Study; got None"),
    (gselection.sample_subjects, (SMALL, "host"), {}, NotFoundError,
     r"metadata column.*host"),
    (gselection.sample_subjects, (BARE, "host"), {}, ValidationError,
     r"--subject host reads the sample metadata, and the study has none"),
    (gselection.sample_subjects, (SMALL, 3), {}, ValidationError,
     r"the subject column \(--subject\) must be a column name; got 3"),
    (gselection.subject_like_columns, ("md.tsv",), {}, InputError,
     r"samples must be a pandas.DataFrame; got str .md.tsv. \(pass the sample metadata"),
    (gselection.no_metadata_note, ("table.tsv",), {}, InputError,
     r"study must be a Study; got str .table.tsv. \(read a table with gutaxis.io.read_table"),
    (gselection.per_subject, ([1.0], pd.Series(dtype=str)), {}, InputError,
     r"values must be a pandas DataFrame or Series indexed by sample id; got list"),
    (gselection.per_subject, (pd.Series([1.0], index=["a"]), {"a": "p"}), {}, InputError,
     r"subjects must be a pandas.Series; got dict \(read them with sample_subjects\)"),
    (gselection.per_subject, (pd.Series([1.0], index=["a"]), pd.Series({"b": "p"})), {},
     InputError, r"1 sample\(s\) have no subject: a"),
    (gselection.per_subject, (pd.Series([1.0], index=["a"]), pd.Series({"a": "p"})),
     {"how": "median"}, InputError, r"how must be 'mean' or 'first'; got 'median'"),
    (greference.check_ranks, (["genus", "genera"],), {}, UnknownRankError,
     r"unknown taxonomic rank 'genera'"),
    (greference.check_ranks, (None,), {}, InputError,
     r"the ranks must be a list of rank names \(kingdom, .*\); got NoneType"),
    (greference.relative_at, (SMALL, "genera"), {}, UnknownRankError,
     r"unknown taxonomic rank 'genera'"),
    (greference.relative_at, (BARE, "genus"), {}, InputError, r"needs the features' taxonomy"),
    (greference.relative_at, ("table", "genus"), {}, InputError,
     r"study must be a Study; got str 'table'"),

    # --- gutaxis.profile (the entry points)
    (gprofile.build_profile, (STUDY, "nope", REF), {}, NotFoundError,
     r"sample id\(s\) not found in .*: 'nope'. Available: S000"),
    (gprofile.build_profile, ("table", "S000", REF), {}, InputError,
     r"study must be a Study.*got str"),
    (gprofile.build_profile, (STUDY, "S000", "ref"), {}, InputError,
     r"reference must be a Reference.*got str"),
    (gprofile.build_profile, (STUDY, "S000", REF), {"labs": "labs.csv"}, InputError,
     r"labs must be a LabResults.*got str"),
    (gprofile.build_profile, (STUDY, "S000", REF), {"previous": "profile.json"}, InputError,
     r"previous must be a Visit.*got str"),
    (gprofile.build_profile, (STUDY, "S000", REF), {"markers": ["LPSpgml"]}, InputError,
     r"markers must be a MarkerPanel.*got list"),
    (gprofile.build_profile, (STUDY, "S000", REF), {"n_boot": 0}, InputError,
     r"`n_boot` must be an integer ≥ 1; got 0"),
    (gprofile.read_visit, (MISSING,), {}, InputError,
     r"no-such-file.tsv: cannot read the previous profile"),
    (gprofile.read_visit, (EMPTY,), {}, FormatError,
     r"empty.tsv: not valid JSON .*; expected the profile.json of an earlier visit"),
    (gprofile.read_visit, (BINARY,), {}, InputError,
     r"binary.bin: cannot read the previous profile"),
    (gprofile.read_visit, (FOLDER,), {}, InputError, r"folder: cannot read the previous profile"),
    (gprofile.visit_from_document, ([],), {}, FormatError,
     r"not a gutaxis profile.json \(expected a JSON object\)"),
    (gprofile.visit_from_document, ({"schema_version": "9.0"},), {}, FormatError,
     r"schema_version 9.0.*upgrade gutaxis"),
    (gprofile.visit_from_document, ({"schema_version": "2.0", "measures": []},), {},
     FormatError, r"\"sample_id\" must be a text; got None"),
    (gprofile.compare_visits, ("profile.json", [MARKER], None), {}, InputError,
     r"previous must be a Visit.*got str"),
    (gprofile.compare_visits, (VISIT, [MARKER], None), {"z": 0}, InputError,
     r"`z` must be a number > 0 \(1.96 for 95 %\); got 0"),
    (gprofile.compare_visits, (VISIT, ["marker:crp"], None), {}, InputError,
     r"each current measure must be a Measure; got str 'marker:crp'"),
    (gprofile.compare_visits, (VISIT, [MARKER], "ref"), {}, InputError,
     r"reference must be a Reference.*got str"),
    (gprofile.robust_sd, (["a", "b"],), {}, ValidationError,
     r"robust_sd: the values must be numbers"),
    (gprofile.critical_difference, ([1.0, 2.0, 3.0],), {"z": -1}, InputError,
     r"`z` must be a number > 0 \(1.96 for 95 %\); got -1"),

    # --- gutaxis.composition
    (gcomposition.collapse, (SMALL, "genera"), {}, UnknownRankError,
     r"unknown taxonomic rank 'genera'; did you mean 'genus'\? \(the valid names are"),
    (gcomposition.collapse, (BARE, "genus"), {}, InputError,
     r"needs the features' taxonomy.*--taxonomy"),
    (gcomposition.collapse, ("table", "genus"), {}, InputError,
     r"study must be a Study; got str 'table'"),
    (gcomposition.taxon_labels, (None,), {}, InputError,
     r"lineages must be a list of lineages .*; got NoneType"),
    (gcomposition.lineages, ("k__Bacteria", "genus"), {}, InputError,
     r"taxonomy must be a pandas.DataFrame.*got str"),
    (gcomposition.lineages, (Make(lambda e: e.small.taxonomy), "genera"), {},
     UnknownRankError, r"unknown taxonomic rank 'genera'"),
    (gcomposition.relative_abundance, (HOLLOW,), {}, InputError,
     r"undefined for samples with no reads; 2 sample\(s\).*are empty: 'e1', 'e2'"),
    (gcomposition.relative_abundance, (None,), {}, InputError, r"study must be a Study; got None"),
    (gcomposition.clr, (np.array([[1.0, NAN]]),), {}, InputError,
     r"clr: the values contain NaN or infinite entries"),
    (gcomposition.clr, (np.ones((2, 2)),), {"pseudocount": -1}, InputError,
     r"`pseudocount` must be a number ≥ 0; got -1"),
    (gcomposition.clr, ("abundances",), {}, InputError,
     r"clr: the values must be a samples × parts array of numbers; got str"),
    (gcomposition.clr, (np.ones((2, 2, 2)),), {}, InputError, r"1-D or 2-D.*got 3-D"),
    (gcomposition.group_means, (REL, GROUPS), {"top": 0}, InputError,
     r"`top` must be an integer ≥ 1 \(or None for all taxa\); got 0"),
    (gcomposition.group_means, (REL, GROUPS), {"order": ["Nope"]}, InputError,
     r"group\(s\) 'Nope' in `order` have no samples"),
    (gcomposition.group_means, (REL, Make(lambda e: e.groups.iloc[:3])), {}, InputError,
     r"9 sample\(s\) have no entry in `groups`"),
    (gcomposition.group_means, ("rel", GROUPS), {}, InputError,
     r"relative must be a pandas.DataFrame.*got str"),
    (gcomposition.group_means, (REL, ["Control"]), {}, InputError,
     r"groups must be a pandas.Series.*got list"),
    (gcomposition.filter_prevalence, (SMALL,), {"min_prevalence": 2}, InputError,
     r"`min_prevalence` must be a fraction in \[0, 1\]; got 2"),
    (gcomposition.filter_prevalence, (SMALL,), {"min_prevalence": NAN}, InputError,
     r"`min_prevalence` must be a fraction in \[0, 1\]; got nan"),
    (gcomposition.filter_prevalence, ("table",), {}, InputError,
     r"study must be a Study; got str 'table'"),

    # --- gutaxis.ordination
    (gordination.pcoa, (DM,), {"n_components": 0}, InputError,
     r"n_components must be between 1 and the number of samples \(12\); got 0"),
    (gordination.pcoa, (DM,), {"n_components": "3"}, InputError,
     r"n_components must be an integer or None; got '3'"),
    (gordination.pcoa, (DM,), {"method": "svd"}, InputError,
     r"unknown PCoA method 'svd'; valid methods are: auto, eigh, eigsh"),
    (gordination.pcoa, ("braycurtis",), {}, InputError,
     r"pcoa takes a gutaxis DistanceMatrix; got str"),

    # --- gutaxis.stats
    (gstats.permanova, (DM, GROUPS), {"permutations": -1}, InputError,
     r"permutations must be a non-negative integer; got -1"),
    (gstats.permanova, (DM, Make(lambda e: e.groups.iloc[:5])), {}, NotFoundError,
     r"sample id\(s\) not found in the grouping's index"),
    (gstats.permanova, (DM, Make(lambda e: e.groups.map(lambda _: "one"))), {},
     InputError, r"PERMANOVA needs at least 2 groups; the grouping has 1"),
    (gstats.permanova, ("braycurtis", GROUPS), {}, InputError,
     r"permanova takes a gutaxis DistanceMatrix; got str"),
    (gstats.permdisp, (DM, GROUPS), {"test": "mean"}, InputError,
     r"unknown PERMDISP test 'mean'; valid tests are: centroid, median"),
    (gstats.permdisp, (None, GROUPS), {}, InputError,
     r"permdisp takes a gutaxis DistanceMatrix; got NoneType"),
    (gstats.compare_groups, (Make(lambda e: e.small.samples["Age"]), GROUPS),
     {"min_group_size": 0}, InputError, r"min_group_size must be an integer >= 1; got 0"),
    (gstats.compare_groups, ([1.0, 2.0], GROUPS), {}, InputError,
     r"values must be a pandas Series indexed by sample id; got list"),
    (gstats.compare_groups, (Make(lambda e: e.small.samples["Age"]), GROUPS),
     {"order": ["Nope", "Control"]}, ValidationError,
     r"order names group\(s\) with no samples: 'Nope'; expected labels among"),
    (gstats.compare_groups_many, ("alpha", GROUPS), {}, InputError,
     r"frame must be a pandas DataFrame \(samples × variables\); got str"),
    (gstats.bh_adjust, ([0.5, 2.0],), {}, ValidationError,
     r"p_values must be in \[0, 1\] or NaN; got 2.0"),
    (gstats.bh_adjust, (["a"],), {}, ValidationError, r"p_values must be numbers in \[0, 1\]"),
    (gstats.group_labels, (["a", "b"],), {}, InputError,
     r"column must be a pandas.Series; got list \(a metadata column"),
    (gstats.spearman_pairs, ("markers",), {}, InputError,
     r"a must be a pandas DataFrame \(samples × variables\); got str"),
    (gstats.spearman_pairs, (REL,), {"min_n": 1}, InputError,
     r"min_n must be an integer >= 3 .*; got 1"),
    (gstats.differential_abundance, (SMALL, "Group"), {}, InputError,
     r"group column 'Group' is not in the sample metadata; its columns are: 'Subject'"),
    (gstats.differential_abundance, (SMALL, "Subject"), {"mc_samples": 0}, InputError,
     r"`mc_samples` must be an integer ≥ 1; got 0"),
    (gstats.differential_abundance, ("table", "Subject"), {}, InputError,
     r"study must be a Study.*got str"),
    (gstats.differential_abundance, (SMALL, "Subject"), {"subject": 3}, InputError,
     r"subject must be a metadata column name or a pandas Series"),
    (gstats.linda, (SMALL, "Group"), {}, InputError,
     r"the variable 'Group' is not in the sample metadata; its columns are: 'Subject'"),
    (gstats.linda, (SMALL, "Subject"), {"zero_handling": "none"}, InputError,
     r"`zero_handling` must be one of auto, pseudo-count, imputation, half-minimum"),
    (gstats.linda, (SMALL, "Subject"), {"subject": "Nobody"}, InputError,
     r"the subject column 'Nobody' is not in the sample metadata"),
    (gstats.linda, (None, "Subject"), {}, InputError, r"study must be a Study.*got None"),
    (gstats.percentile_with_ci, (NAN, [1.0, 2.0, 3.0]), {}, InputError,
     r"`value` is NaN; a missing value has no percentile"),
    (gstats.percentile_with_ci, ("high", [1.0, 2.0, 3.0]), {}, InputError,
     r"`value` must be a number; got 'high'"),
    (gstats.percentile_with_ci, (1.0, [1.0, 2.0]), {"n_boot": 0}, InputError,
     r"n_boot.*≥ 1.*0"),
    (gstats.percentile_with_ci, (1.0, []), {}, InputError,
     r"the reference has no values \(all NaN or empty\)"),
    (gstats.percentiles_with_ci, ({"a": 1.0}, "reference"), {}, InputError,
     r"reference must be a pandas.DataFrame.*got str"),
    (gstats.percentiles_with_ci, ({"nope": 1.0}, REL), {}, NotFoundError,
     r"measure\(s\) not found in the reference table: 'nope'"),
    (gstats.midrank_percentile, (1.0, ["low", "high"]), {}, InputError,
     r"reference values must be numbers"),
    (gstats.midrank_percentile, ("x", np.array([1.0, 2.0])), {}, InputError,
     r"`value` must be a number; got 'x'"),
    (gstats.cross_validate_forest, (REL, GROUPS), {"feature_set": "x", "n_splits": 1},
     InputError, r"n_splits \(--cv-folds\) must be an integer >= 2; got 1"),
    (gstats.cross_validate_forest, ("features", GROUPS), {"feature_set": "x"}, InputError,
     r"features must be a pandas DataFrame \(samples × features\); got str"),
    (gstats.fit_final_model, (REL, Make(lambda e: e.groups.map(lambda _: "one"))), {},
     ValidationError, r"a classifier needs at least two classes; all 12 .* are 'one'"),
    (gstats.fit_final_model, (REL, GROUPS), {"n_estimators": 0}, InputError,
     r"n_estimators must be an integer >= 1; got 0"),
    (gstats.load_classifier, (MISSING,), {}, InputError, r"no model file at .*no-such-file.tsv"),
    (gstats.load_classifier, (EMPTY,), {}, UnsafeInputError,
     r"refusing to load .*empty.tsv: its sidecar .*empty.tsv.json is missing"),
    (gstats.verify_model_file, (BINARY,), {}, UnsafeInputError,
     r"refusing to load .*binary.bin: its sidecar"),
    (gstats.verify_model_file, (FOLDER,), {}, InputError, r"no model file at .*folder"),
    (gstats.make_result, (), {"method": "t", "statistic_name": "s", "statistic": 1.0,
                              "p_value": 1.5, "permutations": 9, "n": 5, "n_groups": 2,
                              "effect_size": 0.1, "effect_size_name": "e"},
     ValidationError, r"p_value must be in \[0, 1\]"),

    # --- gutaxis.measures
    (gmeasures.Measure, ("index:x", "X", "marker", 1.0, "", "within"), {}, ValidationError,
     r"measure id 'index:x' must be 'marker:<key>'"),
    (gmeasures.Measure, ("index:x", "X", "index", 1.0, "", "normal"), {}, ValidationError,
     r"status must be one of low, within.*got 'normal'"),
    (gmeasures.Measure, ("index:x", "X", "index", "high", "", "within"), {}, ValidationError,
     r"measure index:x: value must be a number or None; got 'high'"),
    (gmeasures.Measure, ("index:x", "X", "index", 1.0, "", "within"), {"percentile": "5"},
     ValidationError, r"percentile must be a number or None; got '5'"),
    (gmeasures.Alert, ("low_depth", "Few reads."), {"scope": "patient"}, ValidationError,
     r"scope must be one of reference, followup; got 'patient'"),
    (gmeasures.Alert, (None, "Few reads."), {}, ValidationError,
     r"alert code must be a non-empty text; got None"),
    (gmeasures.measure_id, ("lab", "crp"), {}, ValidationError,
     r"measure kind must be one of index, taxon, marker; got 'lab'"),
    (gmeasures.measure_id, ("marker", ""), {}, ValidationError,
     r"a measure needs a non-empty key; got ''"),

    # --- gutaxis.outputs
    (goutputs.write_text, (FOLDER, "text"), {}, OutputError, r"folder: cannot be written"),
    (goutputs.create_temporary, (Make(lambda e: e.full / "keep.txt"), ".x."), {}, OutputError,
     r"keep.txt: cannot make a file there"),
    (gio.numeric_typos, (["41", "4O"],), {}, InputError, r"column must be"),
    (gio.metadata_source, ("md.tsv",), {}, InputError, r"samples must be"),
    (goutputs.check_distance_format, ("csv",), {}, ValidationError,
     r"--format must be one of tsv, hdf5, qza, zarr; got 'csv'"),
    (goutputs.check_distance_format, ("hdf5", "float16"), {}, ValidationError,
     r"--precision must be float64 or float32; got 'float16'"),
    (goutputs.write_text, (Make(lambda e: e.full / "t.txt"), None), {}, InputError,
     r"text must be a str.*got None"),
    (goutputs.write_text, (None, "text"), {}, InputError,
     r"path must be a path \(a str or os.PathLike\); got None"),
    (goutputs.write_json, (Make(lambda e: e.full / "keep.txt" / "x.json"), {}), {},
     OutputError, r"x.json: cannot be written"),
    (goutputs.write_tsv, ("frame", Make(lambda e: e.full / "t.tsv")), {}, InputError,
     r"frame must be a pandas.DataFrame.*got str"),
    (goutputs.output_folder, (TABLE,), {"owned": (), "overwrite": False}, OutputError,
     r"is a file; the output needs a folder"),
    (goutputs.output_folder, (FULL,), {"owned": (), "overwrite": False}, OutputError,
     r"is not empty \(keep.txt\).*--overwrite"),
    (goutputs.output_folder, (None,), {"owned": (), "overwrite": False}, InputError,
     r"output folder \(--out\) must be a path .*; got None"),
    (goutputs.write_bytes, (FOLDER, b"x"), {}, OutputError, r"folder: cannot be written"),
    (goutputs.write_bytes, (Make(lambda e: e.full / "b.bin"), "text"), {}, InputError,
     r"data must be bytes; got str"),
    (goutputs.open_atomic, (Make(lambda e: e.full / "b.bin"), "a"), {}, InputError,
     r"mode must be 'w', 'wb' or 'w\+b'; got 'a'"),
    (goutputs.check_output_folder, (TABLE,), {"owned": (), "overwrite": False}, OutputError,
     r"is a file; the output needs a folder"),
    (goutputs.check_output_folder, (FULL,), {"owned": (), "overwrite": False}, OutputError,
     r"is not empty \(keep.txt\).*--overwrite, overwrite=True in Python"),
    (goutputs.check_output_folder, (3,), {"owned": (), "overwrite": False}, InputError,
     r"output folder \(--out\) must be a path .*; got int 3"),
    (goutputs.hold_folder, (TABLE,), {}, OutputError, r"is a file; expected a folder"),
    (goutputs.hold_folder, (None,), {}, InputError, r"the folder must be a path .*; got None"),
]

#: The packages walked (each function and class of their ``__all__``), besides the
#: constructors of ``gutaxis.Study`` and ``gutaxis.DistanceMatrix`` and
#: ``Tree.from_newick``.
SCOPE = ("io", "commands", "cohort", "diversity", "indices", "knowledge", "markers", "reference",
         "profile", "composition", "ordination", "stats", "measures", "outputs", "selection",
         "challenge")

#: The functions and classes of :data:`SCOPE` that take no value from a user, with the reason
#: (constants are not callables and need no entry).
NO_USER_INPUT: dict[str, set[str]] = {
    "io": {"get_limits",  # no argument (the GUTAXIS_MAX_* variables are read and checked)
           "PCoALike",  # a typing protocol (what the writers accept), not called
           # records the readers fill in
           "QzaArtifact", "ExampleDataset", "Limits"},
    # the records the run_* functions return
    "commands": {"DiversityResult", "AnalysisResult", "IndicesResult", "ReferenceResult",
                 "ProfileResult", "DemoResult", "ChallengeResult",
                 "LabsImportResult"},
    # records the readers and the statistics fill in
    "challenge": {"Diary", "Challenge", "ChallengeStep", "Verdict", "SuspectReport",
                  "SuspectTest", "Calendar", "CalendarChallenge"},
    # the result record; the types of the progress callbacks
    "cohort": {"CohortAnalysis", "StepCallback", "FoldCallback"},
    "diversity": {"alpha_metrics", "beta_metrics",  # no argument
                  "RarefactionResult"},  # result record
    "indices": {"NotApplicableError", "KeyTaxonMatch"},  # an exception, a result record
    # the knowledge base's schema records: built and validated by the load_* functions,
    # which turn pydantic's errors into FormatError
    "knowledge": {"MarkerCatalog", "MarkerEntry", "Cutoff", "Source", "TaxaCatalog",
                  "TaxonEntry", "Association", "Finding", "MdIndexList", "ChainCatalog",
                  "ChainLink", "Condition", "InterventionCatalog", "Intervention",
                  "LinkTrigger", "Synonym", "SynonymName",
                  "FoodCatalog", "FoodGroup", "Food", "GroupMembership", "BristolScale",
                  "BristolType", "ChallengeKnowledge", "MeaningfulWorsening",
                  "ProtocolTemplate", "DayRange",
                  "NcbiTaxon", "FhirKnowledge", "FhirConcept", "FhirCodeSystemInfo",
                  "Spelling",  # made by TaxaCatalog.spellings from a loaded catalogue
                  "gmhi_species_sets",  # no argument
                  "normalise_taxon",  # takes any value (as text)
                  "source_label"},  # writes a Source record of the knowledge base
    "markers": {"MarkerColumn", "LabResults", "Unit"},  # records the readers fill in
    "reference": {"Reference",  # made by build_reference / load_reference (walked)
                  "ReferenceComparison", "SmallReferenceWarning"},  # result, warning
    # the profile's records and the steps build_profile runs on the objects it made (the
    # walk covers its entry points: build_profile, read_visit, visit_from_document,
    # compare_visits)
    "profile": {"Profile", "LinkAssessment", "LinkStatus", "Option", "FollowupRow", "Visit",
                "Summary", "assess_markers", "patient_markers", "assess_chain",
                "measures_by_id", "select_options", "summarise"},
    "composition": {"UnknownRankError",  # an exception
                    "taxon_label"},  # takes any value: a text that is no lineage is kept
    "ordination": {"OrdinationResult"},  # result record
    "stats": {"PermutationDesign",  # made by permutation_design (walked)
              "DifferentialAbundance", "LinDAResult", "ClassifierResult", "FittedClassifier",
              "TestResult"},  # result records
    # a record, and Literal types
    "measures": {"RangeUsed", "Status", "MeasureKind", "Censoring", "AlertScope"},
    # take any value: everything has a JSON form, and a non-number reads as None
    "outputs": {"to_json", "from_json_number", "json_text"},
}


def _case_id(case: Case) -> str:
    func, args, kwargs = case[:3]
    name = getattr(func, "__qualname__", repr(func))
    shown = [repr(a)[:30] for a in args] + [f"{k}={v!r}"[:30] for k, v in kwargs.items()]
    return f"{name}({', '.join(shown)})"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_bad_argument_gives_a_gutaxis_error(case: Case, env: SimpleNamespace) -> None:
    func, args, kwargs, expected, pattern = case
    with pytest.raises(GutaxisError) as info:
        func(*_resolve(args, env), **_resolve(kwargs, env))
    assert type(info.value) is expected, (
        f"expected {expected.__name__}, got {type(info.value).__name__}: {info.value}")
    assert re.search(pattern, str(info.value)), f"message {str(info.value)!r} !~ {pattern!r}"


def _public_callables(package: str) -> dict[str, Any]:
    module = importlib.import_module(f"gutaxis.{package}")
    return {name: getattr(module, name) for name in module.__all__
            if inspect.isclass(getattr(module, name)) or callable(getattr(module, name))}


def test_every_public_name_is_walked() -> None:
    walked = {case[0] for case in CASES}
    missing = [f"gutaxis.{package}.{name}" for package in SCOPE
               for name, obj in _public_callables(package).items()
               if name not in NO_USER_INPUT.get(package, set()) and obj not in walked]
    missing += [name for obj, name in ((Study, "gutaxis.Study"),
                                       (DistanceMatrix, "gutaxis.DistanceMatrix"),
                                       (Tree.from_newick, "gutaxis.tree.Tree.from_newick"))
                if obj not in walked]
    assert not missing, ("public names without a bad-argument case (add one to CASES, or to "
                         f"NO_USER_INPUT with the reason): {', '.join(missing)}")


def test_the_allow_list_names_only_public_callables() -> None:
    assert set(NO_USER_INPUT) <= set(SCOPE)
    stale = {package: sorted(names - set(_public_callables(package)))
             for package, names in NO_USER_INPUT.items()}
    assert not any(stale.values()), f"NO_USER_INPUT names no public callable: {stale}"
    walked = {case[0] for case in CASES}
    both = [f"{package}.{name}" for package, names in NO_USER_INPUT.items() for name in names
            if _public_callables(package)[name] in walked]
    assert not both, f"walked, so not to be on NO_USER_INPUT: {both}"
