"""The machinery of :mod:`gutaxis.profile.reference`: disk, hashing, inference, selection.

Private helpers of :mod:`gutaxis.profile.reference`:

* selecting the reference samples (:func:`select_samples`), relative
  abundances at a rank (:func:`relative_at`) and the reference's own
  distance spread (:func:`median_distances`);
* the directory layout — ``reference.json`` (metadata), ``arrays.npz``
  (every per-sample array, no pickle), ``classifier/`` (an optional copied
  classifier with its sidecar) — written by :func:`write_reference_dir` and
  read back, checked, by :func:`read_reference_dir`;
* :func:`content_hash`, the reference's ``version``;
* :func:`infer_sequencing`, :func:`parse_sequencing` and
  :func:`infer_taxonomy_scheme`, the best guesses of what a table is.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gutaxis._version import __version__
from gutaxis.composition import collapse
from gutaxis.exceptions import (
    FormatError,
    InputError,
    UnknownRankError,
    ValidationError,
)
from gutaxis.provenance import file_sha256
from gutaxis.study import RANKS, Study

if TYPE_CHECKING:
    from gutaxis.profile.reference import Reference

__all__ = [
    "SCHEMA_VERSION", "FORMAT", "JSON_FILE", "ARRAYS_FILE", "CLASSIFIER_DIR",
    "content_hash", "json_ready", "write_reference_dir", "read_reference_dir", "get_array",
    "check_classifier", "infer_sequencing", "parse_sequencing", "infer_taxonomy_scheme",
    "SEQUENCING_TYPES", "TAXONOMY_SCHEMES", "select_samples", "check_ranks", "relative_at",
    "median_distances", "input_records", "metadata", "details_from",
]

#: Version of the on-disk layout; a reader refuses a larger one.
SCHEMA_VERSION = 1
FORMAT = "gutaxis-reference"
JSON_FILE = "reference.json"
ARRAYS_FILE = "arrays.npz"
CLASSIFIER_DIR = "classifier"

SEQUENCING_TYPES = ("16S amplicon", "shotgun", "unknown")
TAXONOMY_SCHEMES = ("greengenes", "silva", "gtdb", "metaphlan", "unknown")


# ------------------------------------------------------------------ hashing
def content_hash(arrays: Mapping[str, np.ndarray], extra: Mapping[str, Any]) -> str:
    """SHA-256 of the arrays (names, dtypes, shapes, values) and of ``extra`` (JSON).

    String arrays are hashed as their JSON list, numbers as little-endian
    bytes, so the hash is the same on every platform and after a save/load.
    """
    digest = hashlib.sha256()
    for key in sorted(arrays):
        arr = np.asarray(arrays[key])
        digest.update(key.encode("utf-8") + b"\x00")
        if arr.dtype.kind == "U":
            digest.update(b"str" + repr(arr.shape).encode() + b"\x00")
            digest.update(json.dumps(arr.tolist(), ensure_ascii=False).encode("utf-8"))
        else:
            little = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
            digest.update(little.dtype.str.encode() + repr(arr.shape).encode() + b"\x00")
            digest.update(np.ascontiguousarray(little).tobytes())
        digest.update(b"\x01")
    digest.update(json.dumps(json_ready(dict(extra)), sort_keys=True,
                             ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


def json_ready(value: Any) -> Any:
    """``value`` with numpy scalars, tuples, paths and non-finite floats made JSON-safe."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_ready(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


# ------------------------------------------------------------- the folder
def check_classifier(path: Path) -> dict[str, Any]:
    """Check a classifier file against its sidecar without unpickling it
    (:func:`gutaxis.stats._model_file.verify_model_file`).

    Returns ``{"file", "sidecar", "sha256", "sidecar_sha256"}`` of the
    source files.
    """
    from gutaxis.stats._model_file import verify_model_file

    digest = verify_model_file(path)["sha256"]
    side = path.with_name(path.name + ".json")
    return {"file": path.name, "sidecar": side.name, "sha256": digest,
            "sidecar_sha256": file_sha256(side)}


def write_reference_dir(directory: Path, meta: dict[str, Any], arrays: dict[str, np.ndarray],
                        classifier: Path | None, *, overwrite: bool) -> Path:
    """Write ``reference.json``, ``arrays.npz`` and the classifier into ``directory``."""
    if directory.exists() and not directory.is_dir():
        raise InputError(f"{directory} exists and is not a directory")
    if directory.is_dir() and any(directory.iterdir()) and not overwrite:
        raise InputError(f"{directory} is not empty; choose a new directory for the "
                         "reference or pass overwrite=True")
    directory.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = dict(arrays)
    np.savez_compressed(directory / ARRAYS_FILE, **payload)
    meta = dict(meta)
    if classifier is not None:
        target = directory / CLASSIFIER_DIR
        target.mkdir(exist_ok=True)
        side = classifier.with_name(classifier.name + ".json")
        (target / classifier.name).write_bytes(classifier.read_bytes())
        (target / side.name).write_bytes(side.read_bytes())
    text = json.dumps(json_ready(meta), indent=2, ensure_ascii=False) + "\n"
    (directory / JSON_FILE).write_text(text, encoding="utf-8")
    return directory


def metadata(ref: Reference, quantile: float) -> dict[str, Any]:
    """The ``reference.json`` document of ``ref``."""
    details = dict(ref.details)
    classifier = details.pop("classifier", None)
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "name": ref.name,
        "version": ref.version,
        "created": ref.created,
        "gutaxis_version": details.pop("gutaxis_version", __version__),
        "n_samples": ref.n_samples,
        "kind": ref.kind,
        "sequencing": {"type": ref.sequencing, "region": ref.region,
                       "source": details.pop("sequencing_source", "unknown")},
        "taxonomy_scheme": {"scheme": ref.taxonomy_scheme,
                            "source": details.pop("taxonomy_scheme_source", "unknown")},
        "ranks": list(ref.taxa),
        "read_depth": ref.depth_quantiles(),
        "distance": {"metric": "braycurtis", "rank": "genus", "statistic": "median",
                     "quantile": quantile, "threshold": ref.distance_threshold},
        "indices": {"columns": [str(c) for c in ref.indices.columns],
                    "notes": details.pop("index_notes", {}),
                    "panel_resolution": details.pop("panel_resolution", {})},
        "markers": ref.marker_info,
        "classifier": classifier,
        "arrays": ARRAYS_FILE,
        **details,
    }


_STRUCTURE = {"format", "schema_version", "name", "version", "n_samples", "kind", "sequencing",
              "taxonomy_scheme", "ranks", "read_depth", "distance", "indices", "markers",
              "arrays"}


def details_from(meta: dict[str, Any]) -> dict[str, Any]:
    """:attr:`Reference.details` from a ``reference.json`` document (see :func:`metadata`)."""
    details = {k: v for k, v in meta.items() if k not in _STRUCTURE}
    details["index_notes"] = meta["indices"].get("notes", {})
    details["panel_resolution"] = meta["indices"].get("panel_resolution", {})
    details["sequencing_source"] = meta["sequencing"].get("source", "unknown")
    details["taxonomy_scheme_source"] = meta["taxonomy_scheme"].get("source", "unknown")
    return details


def _bad(path: Path, what: str) -> FormatError:
    return FormatError(f"{path}: {what}")


def read_reference_dir(directory: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``reference.json`` and the arrays of a reference folder, structurally checked.

    Raises
    ------
    InputError
        ``directory`` is not a directory.
    FormatError
        A file is missing, unreadable or not what it should be (the file is
        named), or the reference was written by a newer gutaxis.
    """
    if not directory.is_dir():
        raise InputError(f"no reference directory at {directory}")
    jpath, apath = directory / JSON_FILE, directory / ARRAYS_FILE
    if not jpath.is_file():
        raise FormatError(f"{jpath}: missing; {directory} is not a gutaxis reference "
                          "(build one with build_reference and save it)")
    try:
        meta = json.loads(jpath.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(jpath, f"not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _bad(jpath, f"not a gutaxis reference: expected \"format\": {FORMAT!r}")
    schema = meta.get("schema_version")
    if isinstance(schema, bool) or not isinstance(schema, int):
        raise _bad(jpath, f"\"schema_version\" must be an integer; got {schema!r}")
    if schema > SCHEMA_VERSION:
        raise _bad(jpath, f"written with reference schema_version {schema}, but this gutaxis "
                          f"reads up to {SCHEMA_VERSION}; upgrade gutaxis (the reference was "
                          f"made by gutaxis {meta.get('gutaxis_version', '?')})")
    if schema < 1:
        raise _bad(jpath, f"\"schema_version\" must be ≥ 1; got {schema}")
    for key, kind in (("name", str), ("version", str), ("created", str), ("ranks", list),
                      ("sequencing", dict), ("taxonomy_scheme", dict), ("distance", dict),
                      ("markers", dict), ("indices", dict)):
        if not isinstance(meta.get(key), kind):
            raise _bad(jpath, f"field \"{key}\" is missing or not a {kind.__name__}")
    if not apath.is_file():
        raise FormatError(f"{apath}: missing; the reference's arrays are not there")
    try:
        with np.load(apath, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise _bad(apath, f"not a readable .npz of plain arrays ({exc})") from None
    return meta, arrays


# --------------------------------------------------------------- inference
_SEQUENCE_ID = re.compile(r"^[ACGTUNRYSWKMBDHV]{50,}$", re.IGNORECASE)
_MD5_ID = re.compile(r"^[0-9a-f]{32}$")
_CLADE_ID = re.compile(r"^[kdpcofgst]__[^;]*(\|[kdpcofgst]__[^;]*)*$")
_REGION = re.compile(r"\bV(\d)(?:\s*[-–/]\s*V?(\d))?\b", re.IGNORECASE)


def parse_sequencing(text: str) -> tuple[str, str | None]:
    """``(type, region)`` from a sequencing description given by the user.

    ``"16S"``, ``"16S V4"``, ``"amplicon V3-V4"`` → ``("16S amplicon", "V4")``
    …; ``"shotgun"``, ``"metagenomic"``, ``"WGS"`` → ``("shotgun", None)``.

    Raises
    ------
    ValidationError
        A description that names neither.
    """
    low = str(text).strip().casefold()
    if re.search(r"16s|amplicon|\bv\d", low):
        match = _REGION.search(str(text))
        region = None
        if match:
            region = f"V{match.group(1)}" + (f"-V{match.group(2)}" if match.group(2) else "")
        return "16S amplicon", region
    if re.search(r"shotgun|metagenom|\bwgs\b|whole[- ]genome", low):
        return "shotgun", None
    raise ValidationError(f"`sequencing` must describe 16S amplicon or shotgun sequencing, "
                          f"e.g. '16S V4', '16S V3-V4' or 'shotgun'; got {text!r}")


def infer_sequencing(study: Study, scheme: str) -> str:
    """``"16S amplicon"``, ``"shotgun"`` or ``"unknown"``, guessed from the table.

    Amplicon: read counts whose feature ids are sequences or MD5 hashes of
    sequences (QIIME 2 / DADA2 / Deblur), or that carry sequences, or that
    are classified with a 16S database (Greengenes, SILVA).  Shotgun: a
    MetaPhlAn profile (read as one, or relative abundances whose features are
    MetaPhlAn clade names).  Anything else is unknown.
    """
    if scheme == "metaphlan":
        return "shotgun"
    ids = [str(f) for f in study.feature_ids]
    if study.kind == "counts":
        seq_like = sum(bool(_SEQUENCE_ID.match(f) or _MD5_ID.match(f)) for f in ids)
        if study.sequences is not None or (ids and seq_like >= 0.9 * len(ids)):
            return "16S amplicon"
        if scheme in ("greengenes", "silva"):
            return "16S amplicon"
    return "unknown"


_GG_PHYLA = {"bacteroidetes", "actinobacteria", "verrucomicrobia", "tenericutes",
             "fusobacteria", "synergistetes", "lentisphaerae"}
_GTDB_PHYLA = {"bacillota", "pseudomonadota", "actinomycetota", "verrucomicrobiota",
               "fusobacteriota", "campylobacterota"}
_SILVA_PHYLA = {"actinobacteriota", "campilobacterota", "desulfobacterota"}
_SILVA_NAME = re.compile(r"_group$|^UCG-|-Shigella$|_sensu_stricto|^uncultured|"
                         r"^\[[A-Za-z]+\]_[a-z]", re.IGNORECASE)
_GTDB_SUFFIX = re.compile(r"^[A-Z][a-z]+_[A-Z]{1,2}$|^CAG-\d+$|^UBA\d+$")


def infer_taxonomy_scheme(study: Study) -> str:
    """``"greengenes"``, ``"silva"``, ``"gtdb"``, ``"metaphlan"`` or ``"unknown"``.

    A best guess from the names in the taxonomy, scored per scheme; the
    highest score wins, and a tie or no evidence gives ``"unknown"``.

    * MetaPhlAn: the table was read as a MetaPhlAn profile, or its feature
      ids are MetaPhlAn clade names (``s__Genus_species``, ``k__…|…``).
    * Greengenes (13_8): bare species epithets (``prausnitzii``), bracketed
      names without underscores (``[Ruminococcus]``), its phylum names
      (*Bacteroidetes*, *Actinobacteria*, *Tenericutes* …).
    * SILVA 132/138: ``…_group``, ``UCG-…``, ``Escherichia-Shigella``,
      ``…_sensu_stricto``, ``uncultured`` names, 138's phyla
      (*Actinobacteriota*, *Campilobacterota*, *Desulfobacterota*).
    * GTDB: placeholder suffixes (``Firmicutes_A``, ``Ruminococcus_B``),
      ``CAG-``/``UBA`` genera, its phyla (*Bacillota*, *Pseudomonadota* …).

    The parsed taxonomy no longer holds the rank prefixes (``D_0__``,
    ``d__``), so the guess rests on names; pass the scheme explicitly when
    it is known.
    """
    if any(step.get("step") == "read" and step.get("format") == "metaphlan"
           for step in study.provenance):
        return "metaphlan"
    ids = [str(f) for f in study.feature_ids]
    if study.kind == "relative" and ids and all(_CLADE_ID.match(f) for f in ids):
        return "metaphlan"
    tax = study.taxonomy
    if tax is None:
        return "unknown"
    scores = {"greengenes": 0, "silva": 0, "gtdb": 0}
    names: set[str] = set()
    for rank in ("phylum", "class", "order", "family", "genus"):
        if rank in tax.columns:
            names.update(str(v) for v in tax[rank].dropna().unique())
    for name in names:
        low = name.casefold()
        if low in _GG_PHYLA or re.fullmatch(r"\[[A-Za-z]+\]", name):
            scores["greengenes"] += 1
        if low in _SILVA_PHYLA or _SILVA_NAME.search(name):
            scores["silva"] += 1
        if low in _GTDB_PHYLA or _GTDB_SUFFIX.match(name):
            scores["gtdb"] += 1
    if "species" in tax.columns:
        species = [str(v) for v in tax["species"].dropna().unique()]
        scores["greengenes"] += sum(bool(re.fullmatch(r"[a-z][a-z-]+", s)) for s in species)
        scores["gtdb"] += sum(bool(re.fullmatch(r"[A-Z][a-z]+(_[A-Z]+)? [a-z]+(_[A-Z]+)?", s))
                              for s in species)
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    if ranked[0][1] == 0 or ranked[0][1] == ranked[1][1]:
        return "unknown"
    return ranked[0][0]


# ------------------------------------------------------- building blocks
def select_samples(study: Study, where: str | None) -> list[str]:
    """The ids of the samples whose metadata satisfy ``where`` (all when None).

    Raises
    ------
    ValidationError
        ``where`` is not a string, refers to Python variables (``@name``),
        does not evaluate on the metadata, or is not a true/false condition;
        the study has no metadata.
    """
    if where is None:
        return [str(s) for s in study.sample_ids]
    if not isinstance(where, str) or not where.strip():
        raise ValidationError(f"`where` must be a non-empty query string such as "
                              f"\"Subject == 'Control'\"; got {where!r}")
    if study.samples is None:
        raise ValidationError("`where` selects samples by their metadata, and the study has "
                              "none; attach it first (Study.with_metadata)")
    if "@" in where:
        raise ValidationError(f"`where` may not refer to Python variables (@name); write the "
                              f"values into the query; got {where!r}")
    columns = ", ".join(map(str, study.samples.columns[:20]))
    try:
        mask = study.samples.eval(where, engine="python")
    except Exception as exc:  # pandas raises SyntaxError, NameError, ValueError, TypeError…
        raise ValidationError(
            f"`where` is not a valid query on the metadata: {where!r} "
            f"({type(exc).__name__}: {exc}). Write a condition on metadata columns, e.g. "
            f"\"Subject == 'Control'\"; the columns are: {columns}") from None
    values = mask.to_numpy() if isinstance(mask, pd.Series) else None
    if values is None or not all(v is None or v is pd.NA or isinstance(v, bool | np.bool_)
                                 or (isinstance(v, float) and np.isnan(v)) for v in values):
        got = (type(mask).__name__ if values is None
               else f"values of dtype {getattr(mask, 'dtype', '?')}")
        raise ValidationError(f"`where` must be a true/false condition on each sample, e.g. "
                              f"\"Subject == 'Control'\"; {where!r} gives {got}")
    keep = np.array([bool(v) if isinstance(v, bool | np.bool_) else False for v in values],
                    dtype=bool)
    return [str(s) for s in study.sample_ids[keep]]


def check_ranks(rank_list: Sequence[str]) -> list[str]:
    """The ranks, validated, deduplicated, in taxonomic order, with ``"genus"`` added."""
    if isinstance(rank_list, str):
        rank_list = [rank_list]
    ranks: list[str] = []
    for rank in rank_list:
        if not isinstance(rank, str) or rank.strip().lower() not in RANKS:
            raise UnknownRankError(str(rank))
        if rank.strip().lower() not in ranks:
            ranks.append(rank.strip().lower())
    if "genus" not in ranks:
        ranks.append("genus")
    return sorted(ranks, key=RANKS.index)


def relative_at(study: Study, rank: str) -> pd.DataFrame:
    """Samples × lineages at ``rank``, each row divided by its total (empty rows stay 0)."""
    collapsed = collapse(study, rank)
    totals = collapsed.sample_totals()
    inv = np.divide(1.0, totals, out=np.zeros_like(totals), where=totals > 0)
    rel = sp.csr_matrix(sp.diags(inv) @ collapsed.counts.astype(np.float64))
    return pd.DataFrame(rel.toarray(), index=collapsed.sample_ids.copy(),
                        columns=collapsed.feature_ids.copy())


def median_distances(genus: pd.DataFrame) -> np.ndarray:
    """Each row's median Bray–Curtis dissimilarity to the other rows."""
    from gutaxis.diversity.beta import braycurtis

    dist = braycurtis(sp.csr_matrix(genus.to_numpy(dtype=np.float64)))
    np.fill_diagonal(dist, np.nan)
    return np.asarray(np.nanmedian(dist, axis=1), dtype=np.float64)


def input_records(study: Study, classifier: dict[str, Any] | None) -> list[dict[str, Any]]:
    """``{"role", "path", "sha256"}`` of every hashed input (reader steps, classifier)."""
    records = [{"role": str(step.get("format", step.get("step", "input"))),
                "path": str(step.get("path", "")), "sha256": step["sha256"]}
               for step in study.provenance if isinstance(step.get("sha256"), str)]
    if classifier is not None:
        records.append({"role": "classifier", "path": classifier["file"],
                        "sha256": classifier["sha256"]})
        records.append({"role": "classifier sidecar", "path": classifier["sidecar"],
                        "sha256": classifier["sidecar_sha256"]})
    return records


def get_array(arrays: dict[str, np.ndarray], key: str, path: Path, kind: str,
              shape: tuple[int | None, ...]) -> np.ndarray:
    """``arrays[key]``, checked for dtype kind and shape (None: any length)."""
    if key not in arrays:
        raise FormatError(f"{path}: array {key!r} is missing")
    arr = arrays[key]
    if arr.dtype.kind not in kind or arr.ndim != len(shape) or any(
            want is not None and got != want for got, want in zip(arr.shape, shape, strict=True)):
        raise FormatError(f"{path}: array {key!r} has dtype {arr.dtype} and shape {arr.shape}; "
                          f"expected kind {kind!r} and shape {shape}")
    return arr
