"""The command line, end to end on small files and on the bundled study."""

from __future__ import annotations

import json
import subprocess
import sys

import biom
import numpy as np
import pandas as pd
import pytest
import skbio
from typer.testing import CliRunner

from builders.cohort import cohort_files as make_cohort_files
from gutaxis import Study
from gutaxis.cli import app
from gutaxis.exceptions import UnknownMetricError
from gutaxis.knowledge import load_marker_catalog

runner = CliRunner()


@pytest.fixture
def biom_json(tmp_path):
    rng = np.random.default_rng(7)
    counts = rng.poisson(3.0, size=(6, 12)) * (rng.random((6, 12)) < 0.6)
    counts[:, 0] += 1  # no empty sample
    study = Study(counts, [f"S{i}" for i in range(6)], [f"F{j}" for j in range(12)])
    path = tmp_path / "table.json"
    path.write_text(study.to_biom().to_json("test"))
    return path, counts


def test_metrics_lists_qiime2_names():
    result = runner.invoke(app, ["metrics"])
    assert result.exit_code == 0
    for name in ("observed_features", "shannon_entropy", "faith_pd", "braycurtis",
                 "weighted_normalized_unifrac"):
        assert name in result.output


def test_diversity_writes_alpha_beta_and_provenance(tmp_path, biom_json):
    path, counts = biom_json
    out = tmp_path / "out"
    result = runner.invoke(app, ["diversity", str(path), "--metrics",
                                 "shannon_entropy,observed_features,braycurtis", "--out", str(out)])
    assert result.exit_code == 0, result.output
    alpha = pd.read_csv(out / "alpha.tsv", sep="\t", index_col=0)
    assert alpha.index.name == "sample_id"
    assert list(alpha.columns) == ["shannon_entropy", "observed_features"]
    # independent reference: scikit-bio with QIIME 2's base 2
    expected = [skbio.diversity.alpha.shannon(row, base=2) for row in counts]
    np.testing.assert_allclose(alpha["shannon_entropy"], expected, rtol=1e-12)
    np.testing.assert_array_equal(alpha["observed_features"], (counts > 0).sum(axis=1))
    dm = skbio.DistanceMatrix.read(str(out / "beta" / "braycurtis.tsv"))
    ref = skbio.diversity.beta_diversity("braycurtis", counts, ids=[f"S{i}" for i in range(6)])
    np.testing.assert_allclose(dm.data, ref.data, rtol=1e-12, atol=1e-15)
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["inputs"][0]["role"] == "table"
    assert len(prov["inputs"][0]["sha256"]) == 64
    assert prov["parameters"]["metrics"] == {"alpha": ["shannon_entropy", "observed_features"],
                                             "beta": ["braycurtis"]}
    assert prov["rarefaction"] is None and prov["tree"] is None


def test_rarefy_reports_dropped_samples(tmp_path, biom_json):
    path, counts = biom_json
    depth = int(np.sort(counts.sum(axis=1))[2])  # two samples fall below
    out = tmp_path / "r"
    result = runner.invoke(app, ["diversity", str(path), "--metrics", "observed_features",
                                 "--rarefy", str(depth), "--seed", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    prov = json.loads((out / "provenance.json").read_text())
    below = [f"S{i}" for i in range(6) if counts[i].sum() < depth]
    assert prov["rarefaction"]["dropped"] == below
    assert prov["rarefaction"]["depth"] == depth
    assert len(pd.read_csv(out / "alpha.tsv", sep="\t")) == 6 - len(below)


def test_unknown_metric_lists_valid_names(tmp_path, biom_json):
    path, _ = biom_json
    result = runner.invoke(app, ["diversity", str(path), "--metrics", "shanon",
                                 "--out", str(tmp_path / "x")])
    assert isinstance(result.exception, UnknownMetricError)
    assert "did you mean 'shannon_entropy'?" in str(result.exception)
    assert "valid names are" in str(result.exception)


def test_phylogenetic_metric_without_tree_is_a_clear_error(tmp_path, biom_json):
    path, _ = biom_json
    result = runner.invoke(app, ["diversity", str(path), "--metrics", "faith_pd",
                                 "--out", str(tmp_path / "x")])
    assert "faith_pd cannot be computed on" in str(result.exception)
    assert "needs a phylogenetic tree: give --tree" in str(result.exception)


def test_console_script_turns_errors_into_one_line(tmp_path):
    bad = tmp_path / "bad.biom"
    bad.write_text("this is not a table\n")
    proc = subprocess.run([sys.executable, "-m", "gutaxis.cli", "diversity", str(bad),
                           "--out", str(tmp_path / "o")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "error:" in proc.stderr and "bad.biom" in proc.stderr


def test_help_has_an_example_for_every_option():
    result = runner.invoke(app, ["diversity", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert result.output.count("Example:") >= 12



def _qza(path, semantic_type, member, payload):
    """A minimal QIIME 2 artifact: <uuid>/metadata.yaml + <uuid>/data/<member>."""
    import zipfile

    uuid = "7c1d0d55-6a55-4a61-9a2b-3f5a8f4c2e10"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{uuid}/VERSION", "QIIME 2\narchive: 5\nframework: 2024.2.0\n")
        zf.writestr(f"{uuid}/metadata.yaml", f"uuid: {uuid}\ntype: {semantic_type}\n"
                                             "format: SomeDirFmt\n")
        zf.writestr(f"{uuid}/data/{member}", payload)
    return path


def test_qza_table_and_rooted_tree_give_qiime2_values(tmp_path):
    """`gutaxis diversity table.qza --tree tree.qza` against scikit-bio (QIIME 2's engine)."""
    import io as stdio

    from gutaxis.io import write_biom

    rng = np.random.default_rng(11)
    n, m = 9, 14
    counts = rng.poisson(4.0, size=(n, m)) * (rng.random((n, m)) < 0.5)
    counts[:, 0] += 1
    sids, fids = [f"S{i}" for i in range(n)], [f"F{j}" for j in range(m)]
    biom_path = tmp_path / "inner.biom"
    write_biom(Study(counts, sids, fids), biom_path)
    table = _qza(tmp_path / "table.qza", "FeatureTable[Frequency]", "feature-table.biom",
                 biom_path.read_bytes())
    sk_tree = skbio.TreeNode.read(stdio.StringIO(
        _random_newick(fids, np.random.default_rng(5))))
    tree = _qza(tmp_path / "tree.qza", "Phylogeny[Rooted]", "tree.nwk",
                str(sk_tree).encode())
    out = tmp_path / "out"
    result = runner.invoke(app, ["diversity", str(table), "--tree", str(tree), "--out", str(out)])
    assert result.exit_code == 0, result.output

    alpha = pd.read_csv(out / "alpha.tsv", sep="\t", index_col=0)
    sk = skbio.diversity.alpha_diversity
    np.testing.assert_allclose(alpha["shannon_entropy"], sk("shannon", counts, sids, base=2),
                               rtol=1e-12)
    np.testing.assert_allclose(alpha["faith_pd"],
                               sk("faith_pd", counts, sids, taxa=fids, tree=sk_tree), rtol=1e-9)
    np.testing.assert_allclose(alpha["chao1"], sk("chao1", counts, sids), rtol=1e-12)
    np.testing.assert_allclose(alpha["simpson"], sk("simpson", counts, sids), rtol=1e-12)
    np.testing.assert_allclose(alpha["pielou_evenness"], sk("pielou_e", counts, sids),
                               rtol=1e-12)
    beta = skbio.diversity.beta_diversity
    refs = {
        "braycurtis": beta("braycurtis", counts, sids),
        "jaccard": beta("jaccard", counts > 0, sids),
        "unweighted_unifrac": beta("unweighted_unifrac", counts, sids, taxa=fids, tree=sk_tree),
        "weighted_unifrac": beta("weighted_unifrac", counts, sids, taxa=fids, tree=sk_tree),
        "weighted_normalized_unifrac": beta("weighted_unifrac", counts, sids, taxa=fids,
                                            tree=sk_tree, normalized=True),
    }
    for name, ref in refs.items():
        got = skbio.DistanceMatrix.read(str(out / "beta" / f"{name}.tsv"))
        np.testing.assert_allclose(got.data, ref.data, rtol=1e-9, atol=1e-12, err_msg=name)
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["tree"]["source"] == "user" and prov["tree"]["path"] == str(tree)
    import hashlib

    tree_inputs = [r for r in prov["inputs"] if r["role"] == "tree"]
    assert len(tree_inputs) == 1
    assert tree_inputs[0]["sha256"] == hashlib.sha256(tree.read_bytes()).hexdigest()


def _random_newick(tips, rng):
    """A random rooted binary tree with exponential branch lengths, as Newick."""
    nodes = [f"{t}:{rng.exponential(0.5):.6f}" for t in tips]
    while len(nodes) > 1:
        i, j = sorted(rng.choice(len(nodes), size=2, replace=False))
        b, a = nodes.pop(j), nodes.pop(i)
        nodes.append(f"({a},{b}):{rng.exponential(0.5):.6f}")
    return nodes[0].rsplit(":", 1)[0] + ";"


# ------------------------------------------------------------------- analyze
@pytest.fixture
def cohort_files(tmp_path):
    """A 24-sample, 2-group table with taxonomy, and metadata with two markers."""
    return make_cohort_files(tmp_path)


def test_analyze_writes_report_results_and_tables(tmp_path, cohort_files):
    table, metadata = cohort_files
    out = tmp_path / "out"
    result = runner.invoke(app, ["analyze", str(table), "--metadata", str(metadata),
                                 "--group", "Diagnosis", "--markers", "LPSpgml,CRP=mg/L",
                                 "--permutations", "99", "--cv-folds", "4", "--cv-repeats", "2",
                                 "--trees", "20", "--mc-samples", "16", "--save-model",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"report: {out / 'report.html'}" in result.output
    for name in ("report.html", "results.json", "alpha.tsv", "beta/braycurtis.tsv",
                 "differential_abundance.tsv", "marker_tests.tsv",
                 "marker_taxon_associations.tsv", "model/combined.joblib",
                 "model/combined.joblib.json"):
        assert (out / name).is_file(), name
    doc = json.loads((out / "results.json").read_text())
    assert doc["markers"]["LPS"]["higher_in"] == "case"
    assert doc["markers"]["CRP"]["unit"] == "mg/L"  # not hs-CRP: a user unit, no catalogue entry
    assert doc["rarefaction_depth"] == 5000
    assert set(doc["classifier"]) == {"microbiome", "markers", "combined"}
    # the three planted genera are found higher in cases
    da = {f["label"]: f for f in doc["differential_abundance"]["features"]}
    assert all(da[f"Genus{j}"]["higher_in"] == "case" for j in range(3))


@pytest.mark.parametrize("extra, message", [
    (["--group", "Nope"], "Nope"),
    (["--group", "Diagnosis", "--markers", "Word=ng/mL"], "'Word' must be numeric"),
    (["--group", "Diagnosis", "--markers", "Mystery"], "marker column(s) not found"),
    (["--group", "Diagnosis", "--markers", "CRP=parsec"], "unknown unit 'parsec'"),
    # bounds come from the options objects alone, worded as the library words them
    (["--group", "Diagnosis", "--trees", "0"], "trees per forest (--trees) must be an integer ≥ 1"),
    (["--group", "Diagnosis", "--mc-samples", "1"],
     "Monte Carlo instances (--mc-samples) must be an integer ≥ 2"),
    (["--group", "Diagnosis", "--threads", "0"],
     "threads (--threads) must be an integer ≥ 1; got 0"),
])
def test_analyze_errors_are_one_clear_line(tmp_path, cohort_files, extra, message):
    table, metadata = cohort_files
    proc = subprocess.run([sys.executable, "-m", "gutaxis.cli", "analyze", str(table),
                           "--metadata", str(metadata), *extra, "--no-classifier",
                           "--out", str(tmp_path / "o")], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "error:" in proc.stderr and message in proc.stderr


def test_analyze_help_has_examples():
    result = runner.invoke(app, ["analyze", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "gutaxis analyze table.biom" in result.output
    assert result.output.count("Example:") >= 22  # every option


def test_demo_runs_the_cohort_analysis_end_to_end(tmp_path, monkeypatch):
    """`gutaxis demo` on the bundled study, with its defaults and a de novo tree."""
    monkeypatch.setenv("GUTAXIS_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"report: {out / 'report.html'}" in result.output
    doc = json.loads((out / "results.json").read_text())
    import jsonschema

    from gutaxis.report import results_schema

    jsonschema.validate(doc, results_schema())
    assert doc["n_samples"] == 87 and doc["groups"] == {"Control": 39, "Patient": 48}
    assert set(doc["beta"]) >= {"braycurtis", "unweighted_unifrac", "weighted_unifrac"}
    assert set(doc["markers"]) == {"LPS", "LBP", "sCD14", "I-FABP"}
    assert doc["classifier"]["combined"]["cv"]["n_repeats"] == 10
    html = (out / "report.html").read_text()
    for section in ("summary", "diversity", "composition", "differential-abundance", "markers",
                    "marker-taxon", "classifier", "methods", "provenance"):
        assert f'id="{section}"' in html, section
    assert (out / "tree.nwk").is_file()
    # the practitioner's side: a reference of the controls and one patient's profile
    assert (out / "reference" / "reference.json").is_file()
    assert (out / "reference" / "classifier" / "combined.joblib").is_file()
    for name in ("profile.html", "profile.pdf", "profile.json"):
        assert (out / "profile" / name).is_file(), name
    assert f"profile (html): {out / 'profile' / 'profile.html'}" in result.output
    profile_doc = json.loads((out / "profile" / "profile.json").read_text())
    assert profile_doc["reference"]["n_samples"] == 39


# ------------------------------------------------------------------- indices
def test_indices_on_the_authors_gmhi_example_match_their_output(tmp_path):
    """`gutaxis indices` on the GMHI authors' MetaPhlAn2 table reproduces their GMHI."""
    from pathlib import Path

    data = Path(__file__).parent / "indices" / "data"
    result = runner.invoke(app, ["indices", str(data / "example_species_relative_abundances.csv"),
                                 "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    ours = pd.read_csv(tmp_path / "indices.tsv", sep="\t", index_col="sample_id")
    theirs = pd.read_csv(data / "example_GMHI_output.csv", index_col=0, encoding="utf-8-sig")
    assert list(ours.columns[:3]) == ["gmhi", "md_index", "shannon_entropy"]
    computed = ours["gmhi_status"] == "computed"  # not Sample19, Sample20: neither set there
    assert ours.index[~computed].tolist() == ["Sample19", "Sample20"]
    assert (theirs.loc[~computed, "GMHI"] == 0.0).all() and ours.loc[~computed, "gmhi"].isna().all()
    np.testing.assert_allclose(ours.loc[computed, "gmhi"], theirs.loc[computed, "GMHI"], rtol=0,
                               atol=1e-9)


def test_indices_on_a_16s_table_leave_gmhi_empty_and_say_why(tmp_path):
    from gutaxis.io import example_dataset

    result = runner.invoke(app, ["indices", str(example_dataset().table), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "gmhi" in result.output and "not a species-level profile" in result.output
    ours = pd.read_csv(tmp_path / "indices.tsv", sep="\t", index_col="sample_id")
    assert ours["gmhi"].isna().all() and ours["md_index"].notna().all()
    assert len(ours) == 87


# ------------------------------------------------------- reference and profile
@pytest.fixture(scope="module")
def bundled_reference(tmp_path_factory):
    from gutaxis.io import example_dataset

    data = example_dataset()
    out = tmp_path_factory.mktemp("ref") / "controls"
    result = runner.invoke(app, ["reference", "build", str(data.table), "--metadata",
                                 str(data.metadata), "--where", "Subject == 'Control'",
                                 "--name", "controls", "--markers", "LPSpgml,LBPugml",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"reference: {out}" in result.output
    return data, out


def test_profile_writes_html_pdf_json_and_a_followup(tmp_path, bundled_reference):
    data, ref = bundled_reference
    common = [str(data.table), "--sample", "ERR1331786", "--reference", str(ref),
              "--metadata", str(data.metadata), "--markers", "LPSpgml,LBPugml"]
    first = runner.invoke(app, ["profile", *common, "--out", str(tmp_path / "v1")])
    assert first.exit_code == 0, first.output
    doc = json.loads((tmp_path / "v1" / "profile.json").read_text())
    assert doc["sample_id"] == "ERR1331786" and doc["followup"] is None
    second = runner.invoke(app, ["profile", *common, "--previous",
                                 str(tmp_path / "v1" / "profile.json"),
                                 "--out", str(tmp_path / "v2")])
    assert second.exit_code == 0, second.output
    doc2 = json.loads((tmp_path / "v2" / "profile.json").read_text())
    rows = {row["id"]: row for row in doc2["followup"]}
    # the same sample twice: no change, and so no real change
    shannon = rows["index:shannon_entropy"]
    assert shannon["change"] == 0 and shannon["real_change"] is False
    assert "previous_same_sample" in {w["code"] for w in doc2["warnings"]}
    assert 'id="followup"' in (tmp_path / "v2" / "profile.html").read_text()


@pytest.mark.parametrize("labs, message", [
    ("sample_id,marker,value,unit\nERR1331786,LBP,12,furlongs\n", "line 2"),
    ("sample_id,marker,value,unit\nERR1331786,unobtainium,12,ng/mL\n", "unobtainium"),
    ("sample_id,marker,value,unit\nERR1331786,LBP,twelve,ug/mL\n", "twelve"),
    ("sample,marker,value\nERR1331786,LBP,12\n", "sample_id"),
])
def test_bad_lab_files_are_one_clear_line(tmp_path, bundled_reference, labs, message):
    data, ref = bundled_reference
    path = tmp_path / "labs.csv"
    path.write_text(labs, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "gutaxis.cli", "profile", str(data.table),
                           "--sample", "ERR1331786", "--reference", str(ref), "--labs", str(path),
                           "--out", str(tmp_path / "o")], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "error:" in proc.stderr and "labs.csv" in proc.stderr and message in proc.stderr


# ------------------------------------------------- what a new user runs into
def _gutaxis(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gutaxis.cli", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd)


@pytest.mark.parametrize("command", [
    ["diversity", "absent.biom", "--out", "o"],
    ["indices", "absent.biom", "--out", "o"],
    ["analyze", "absent.biom", "--metadata", "md.tsv", "--group", "g", "--out", "o"],
    ["reference", "build", "absent.biom", "--metadata", "md.tsv", "--name", "n", "--out", "o"],
    ["profile", "absent.biom", "--sample", "S", "--reference", ".", "--out", "o"],
])
def test_a_missing_input_file_is_one_line_naming_the_option(tmp_path, command):
    proc = _gutaxis(*command, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == "error: TABLE absent.biom: no such file"


def test_a_missing_metadata_file_is_one_line(tmp_path, biom_json):
    path, _ = biom_json
    proc = _gutaxis("diversity", str(path), "--metadata", "nope.tsv", "--out", "o", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == "error: --metadata nope.tsv: no such file"


def test_reusing_an_output_folder_needs_overwrite(tmp_path, biom_json):
    path, _ = biom_json
    out = tmp_path / "out"
    first = ["diversity", str(path), "--metrics", "braycurtis,jaccard", "--out", str(out)]
    assert runner.invoke(app, first).exit_code == 0
    proc = _gutaxis("diversity", str(path), "--metrics", "braycurtis", "--out", str(out))
    assert proc.returncode == 2
    assert "is not empty" in proc.stderr and "--overwrite" in proc.stderr
    result = runner.invoke(app, ["diversity", str(path), "--metrics", "braycurtis", "--out",
                                 str(out), "--overwrite"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "beta").iterdir()) == ["braycurtis.tsv"]


def test_diversity_says_on_screen_when_metadata_leaves_samples_out(tmp_path, biom_json):
    path, _ = biom_json
    md = tmp_path / "md.tsv"
    md.write_text("sample-id\tgroup\n" + "".join(f"S{i}\tg\n" for i in range(4)))
    result = runner.invoke(app, ["diversity", str(path), "--metadata", str(md), "--metrics",
                                 "observed_features", "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert "skipped samples without metadata: 2 sample(s) of the table have no row in the " \
           "metadata and are left out: 'S4', 'S5'" in " ".join(result.output.split())


@pytest.mark.parametrize(("extra", "message"), [
    (["--group", "diagnosis"],
     "did you mean 'Diagnosis'? Available: Diagnosis, LPSpgml, CRP, Word"),
    (["--group", "Diagnosis", "--rank", "gneus"],
     "unknown taxonomic rank 'gneus'; did you mean 'genus'? (the valid names are: kingdom"),
])
def test_misspelt_names_get_a_suggestion(tmp_path, cohort_files, extra, message):
    table, metadata = cohort_files
    proc = _gutaxis("analyze", str(table), "--metadata", str(metadata), *extra,
                    "--no-classifier", "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert message in proc.stderr


def test_errors_speak_the_command_line(tmp_path):
    from gutaxis.io import example_dataset

    data = example_dataset()
    proc = _gutaxis("reference", "build", str(data.table), "--metadata", str(data.metadata),
                    "--name", "x", "--where", "Subject == 'control'", "--out",
                    str(tmp_path / "r"))
    assert proc.returncode == 2
    assert "column 'Subject' holds: 'Patient' 48, 'Control' 39" in proc.stderr
    assert "--where" in proc.stderr and "--min-reads" in proc.stderr
    assert "overwrite=True" not in proc.stderr and "min_reads" not in proc.stderr


def test_the_help_says_the_order_and_has_no_bool_placeholders():
    root = runner.invoke(app, ["--help"], env={"COLUMNS": "120"})
    text = " ".join(root.output.split())
    assert "`gutaxis analyze` a cohort; `gutaxis reference build`" in text
    assert "`gutaxis profile`" in text
    for command in (["diversity"], ["analyze"], ["indices"], ["reference", "build"],
                    ["profile"], ["demo"]):
        result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "120"})
        assert result.exit_code == 0
        assert "<bool>" not in result.output, command
        assert "--out" in result.output and "--overwrite" in result.output, command
    profile_help = " ".join(runner.invoke(app, ["profile", "--help"],
                                          env={"COLUMNS": "120"}).output.split())
    assert "<0.5" in profile_help and "gutaxis markers" in profile_help
    assert "--markers-file" in profile_help and "--patient" in profile_help
    assert "gutaxis reference build" in profile_help


def test_out_is_required_alike_everywhere():
    for command in (["diversity", "t.biom"], ["indices", "t.biom"],
                    ["analyze", "t.biom", "--metadata", "m", "--group", "g"],
                    ["reference", "build", "t.biom", "--metadata", "m", "--name", "n"],
                    ["profile", "t.biom", "--sample", "s", "--reference", "r"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2 and "Missing option '--out'" in result.output, command


def test_verbose_is_accepted_after_the_command(tmp_path, biom_json):
    path, _ = biom_json
    result = runner.invoke(app, ["diversity", str(path), "--metrics", "observed_features",
                                 "--out", str(tmp_path / "o"), "-v"])
    assert result.exit_code == 0, result.output


def test_markers_lists_the_catalogue(monkeypatch):
    import io

    from rich.console import Console

    import gutaxis.cli as cli

    result = runner.invoke(app, ["markers"], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    text = result.output
    for name in ("calprotectin", "hscrp", "lps", "zonulin_serum", "pg/mL", "<0.5"):
        assert name in text, name
    # piped: one line per marker, tab-separated, whole (at 80 columns aliases were cut
    # across lines, "sCD14_ug_m" / "l")
    catalog = load_marker_catalog().markers
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    assert lines[0] == ["id", "name", "unit", "also accepted as", "specimen",
                        "published cut-off"]
    assert [line[0] for line in lines[1:]] == [e.id for e in catalog]
    assert all(len(line) == 6 for line in lines)
    assert "sCD14_ug_ml" in result.stdout
    # on a terminal: a table whose columns wrap, never cut, every id whole on one line
    screen = io.StringIO()
    monkeypatch.setattr(cli, "out_console", Console(file=screen, force_terminal=True,
                                                    width=80, soft_wrap=True))
    assert runner.invoke(app, ["markers"]).exit_code == 0
    narrow = screen.getvalue()
    assert "…" not in narrow
    for entry in catalog:
        assert f" {entry.id} " in narrow, entry.id


@pytest.mark.parametrize("command", [
    ["diversity", "{table}", "--metrics", "braycurtis"],
    ["indices", "{table}"],
    ["analyze", "{table}", "--metadata", "{metadata}", "--group", "Subject"],
    ["reference", "build", "{table}", "--metadata", "{metadata}", "--name", "n"],
    ["profile", "{table}", "--sample", "ERR1331786", "--reference", "{folder}"],
])
def test_a_folder_that_will_be_refused_is_refused_before_any_work(tmp_path, command):
    from gutaxis.io import example_dataset

    data = example_dataset()
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    args = [a.format(table=data.table, metadata=data.metadata, folder=tmp_path)
            for a in command]
    proc = _gutaxis(*args, "--out", str(out))
    assert proc.returncode == 2
    # one line, the refusal: nothing was computed or reported before it
    assert proc.stdout == "" and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(f"error: {out} is not empty (notes.txt); choose a new folder")
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_warnings_are_one_line_and_left_out_samples_are_named(tmp_path):
    from gutaxis.io import example_dataset

    data = example_dataset()
    proc = _gutaxis("reference", "build", str(data.table), "--metadata", str(data.metadata),
                    "--where", "Age > 60", "--min-reads", "50000", "--name", "old",
                    "--out", str(tmp_path / "ref"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("warning: --where 'Age > 60' after leaving out 4 sample(s) with "
                               "fewer than 50000 reads leaves 11 samples; with fewer than 30")
    assert "SmallReferenceWarning" not in proc.stderr and ".py:" not in proc.stderr
    left_out = [line for line in lines if line.startswith("left out")]
    # worked out here from the files themselves: the table's read sums, the metadata's ages
    table = biom.load_table(str(data.table))
    depth = dict(zip(table.ids(), table.sum(axis="sample"), strict=True))
    ages = pd.read_csv(data.metadata, sep="\t", index_col=0)["Age"]
    old = [s for s in table.ids() if s in ages.index and ages[s] > 60]
    shallow = [s for s in old if depth[s] < 50000]
    assert (len(shallow), len(old) - len(shallow)) == (4, 11)
    assert left_out == [f"left out 4 sample(s) with fewer than 50000 reads: "
                        f"{', '.join(shallow)} (all in reference.json, under excluded)"]


def test_a_reader_error_names_the_option_it_came_from(tmp_path):
    from gutaxis.io import example_dataset

    data = example_dataset()
    proc = _gutaxis("diversity", str(data.table), "--metadata", str(data.table),
                    "--out", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: --metadata {data.table}: this is an HDF5 file (a BIOM "
                                  "table?), not the metadata file")


def test_the_command_line_starts_without_loading_the_analysis():
    """`gutaxis --help` and option errors must not wait for numpy, pandas, scipy or numba.

    The commands import those inside ``run_*`` and ``.write``; the options and their
    defaults come from light modules (`gutaxis.cohort.parameters`, the commands' options,
    `gutaxis.report.result_files`); the package's ``Study`` and ``DistanceMatrix`` are
    lazy attributes.
    """
    heavy = ("numpy", "pandas", "scipy", "numba", "matplotlib", "sklearn", "jinja2",
             "weasyprint", "biom", "skbio")
    code = ("import sys, gutaxis.cli; "
            f"print(','.join(m for m in {heavy!r} if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


def test_analyze_with_subject_says_how_many_people(tmp_path):
    from test_cohort_repeated_measures import people

    study = people(n_people=16, per_person=3)
    table = tmp_path / "table.biom.json"
    table.write_text(study.to_biom().to_json("test"))
    metadata = tmp_path / "md.tsv"
    study.samples.rename_axis("sample-id").to_csv(metadata, sep="\t")
    taxonomy = tmp_path / "taxonomy.tsv"
    study.taxonomy.apply(lambda r: "; ".join(f"{k[0]}__{v}" for k, v in r.items()), axis=1) \
        .rename("Taxon").rename_axis("Feature ID").to_csv(taxonomy, sep="\t")
    result = runner.invoke(app, ["analyze", str(table), "--metadata", str(metadata),
                                 "--taxonomy", str(taxonomy), "--group", "diagnosis",
                                 "--subject", "host_subject_id", "--no-classifier",
                                 "--permutations", "99", "--mc-samples", "8",
                                 "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert ("48 samples (case 24, control 24); 40 features\nfrom 16 people (case 8, control 8; "
            "column host_subject_id): every test counts people") in result.output


def test_a_logged_warning_is_one_unwrapped_line(tmp_path):
    folder = tmp_path / ("a folder with a rather long name, " * 3).strip()
    folder.mkdir()
    shared = folder / "esophagus_study_2004.fn.shared"
    shared.write_text("label\tGroup\tnumOtus\tOtu1\tOtu2\t\n"
                      "0.01\tA\t2\t5\t0\t\n0.01\tB\t2\t1\t7\t\n"
                      "0.03\tA\t1\t5\t\n0.03\tB\t1\t8\t\n")
    proc = _gutaxis("diversity", str(shared), "--metrics", "observed_features",
                    "--out", str(tmp_path / "o"))
    assert proc.returncode == 0, proc.stderr
    warning = [line for line in proc.stderr.splitlines() if "OTU definitions" in line]
    assert len(warning) == 1 and warning[0].startswith("warning: ")
    assert f"'{shared}' > '{folder / 'esophagus_study_2004.fn.0.03.shared'}'" in warning[0]
    assert "WARNING" not in proc.stderr


def test_brackets_in_a_message_reach_the_user(tmp_path):
    """Rich read '[row, column, value]' as markup and printed 'should be ; found …'."""
    path = tmp_path / "t.json"
    path.write_text('{"id": null, "format": "Biological Observation Matrix 1.0.0", '
                    '"format_url": "http://biom-format.org", "type": "OTU table", '
                    '"generated_by": "x", "date": "2020-01-01", "matrix_type": "sparse", '
                    '"matrix_element_type": "int", "shape": [2, 2], '
                    '"rows": [{"id": "f1", "metadata": null}, {"id": "f2", "metadata": null}], '
                    '"columns": [{"id": "s1", "metadata": null}, {"id": "s2", "metadata": null}],'
                    ' "data": [[0, 1]]}')
    proc = _gutaxis("diversity", str(path), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert "data[0] should be [row, column, value]; found '[0, 1]'" in proc.stderr


def test_a_logged_exception_keeps_its_traceback(capsys):
    """The server's 'the server log has the details' needs the traceback in that log."""
    import logging

    from gutaxis import cli

    logger = logging.getLogger("gutaxis")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    try:
        cli._logging(False)
        try:
            {}["the missing key"]
        except KeyError:
            logging.getLogger("gutaxis.service.app").exception("unexpected error on GET /x")
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "warning: unexpected error on GET /x"
    assert err[1] == "Traceback (most recent call last):"
    assert err[-1] == "KeyError: 'the missing key'"


def test_sigterm_while_writing_puts_the_earlier_results_back(tmp_path):
    import signal
    import subprocess
    import sys
    import textwrap

    out = tmp_path / "out"
    out.mkdir()
    (out / "a.txt").write_text("old")
    script = textwrap.dedent(f"""
        import time
        from gutaxis import cli
        from gutaxis.outputs import output_folder, write_text

        def writing():
            with output_folder({str(out)!r}, owned=["a.txt"], overwrite=True) as o:
                write_text(o / "a.txt", "partial")
                print("writing", flush=True)
                time.sleep(30)

        cli.app = writing
        cli.main()
        """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "writing\n"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 143
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    assert sorted(p.name for p in out.iterdir()) == ["a.txt"]  # no hidden folder left
    assert (out / "a.txt").read_text() == "old"


def test_a_table_read_as_relative_says_why_naming_the_cell(tmp_path):
    table = tmp_path / "t.tsv"
    table.write_text("#OTU ID\tS1\tS2\tS3\nA\t10.5\t0\t3\nB\t5\t5\t5\nC\t0\t7\t1\n")
    result = runner.invoke(app, ["diversity", str(table), "--metrics", "observed_features",
                                 "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "3 samples × 3 features (relative abundances)" in text
    assert ("table: values are not whole numbers (1 of 7; first, sample 'S1', feature 'A' "
            "has 10.5): read as relative abundances") in text


def test_ctrl_c_says_it_was_interrupted_and_how_a_blockwise_run_goes_on(monkeypatch, capsys):
    # Typer turns KeyboardInterrupt into a silent exit 130: the user saw a blank line
    import typer

    import gutaxis.cli as cli

    stopped = typer.Typer()

    @stopped.command()
    def diversity(table: str, cluster: str = "", out: str = "") -> None:
        raise KeyboardInterrupt

    @stopped.command()
    def other() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "app", stopped)
    for argv, said in (
            (["gutaxis", "diversity", "t.biom", "--cluster", "local", "--out", "o"],
             "interrupted; the tiles written are kept: run the same command with --resume "
             "to go on"),
            (["gutaxis", "other"], "interrupted")):
        monkeypatch.setattr(sys, "argv", argv)
        with pytest.raises(SystemExit) as stop:
            cli.main()
        assert stop.value.code == 130
        assert " ".join(capsys.readouterr().err.split()).endswith(said)
