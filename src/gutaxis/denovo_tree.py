"""De novo phylogenies of ASV sequences: align, mask, infer, midpoint-root.

:func:`build_tree` follows QIIME 2's ``phylogeny align-to-tree-mafft-fasttree``
pipeline with the tools that ship as Python wheels:

====================  ===============================  ==============================
step                  QIIME 2                          gutaxis
====================  ===============================  ==============================
multiple alignment    MAFFT (``--auto``)               FAMSA 2 through ``pyfamsa``,
                                                       scoring matrix ``NUC.4.4`` (the
                                                       pyfamsa author's advice for
                                                       DNA; FAMSA's default MIQS is a
                                                       protein matrix)
masking               ``alignment mask``:              the same rule: keep columns
                      max_gap_frequency 1.0,           with gap frequency ≤ 1.0 and
                      min_conservation 0.4             conservation (most frequent
                                                       non-gap character / non-gap
                                                       characters) ≥ 0.4
tree inference        FastTree 2 ``-nt`` (JC + CAT20,  VeryFastTree 4 (a parallel
                      SH-like supports)                re-implementation of FastTree 2)
                                                       ``-nt``: the same model by
                                                       default; ``model="gtr-gamma"``
                                                       adds ``-gtr -gamma``
rooting               midpoint (scikit-bio)            :meth:`Tree.midpoint_root`
====================  ===============================  ==============================

Results are cached (Newick + JSON) under a key that hashes the sorted
``(id, sequence)`` pairs, the tool versions and the parameters, so a second
call with the same sequences returns at once.

References
----------
.. [1] Deorowicz, S., Debudaj-Grabysz, A. & Gudyś, A. (2016). FAMSA: fast and
   accurate multiple sequence alignment of huge protein families. Sci. Rep.
   6, 33964. doi:10.1038/srep33964
.. [2] Price, M. N., Dehal, P. S. & Arkin, A. P. (2010). FastTree 2 --
   approximately maximum-likelihood trees for large alignments. PLoS ONE 5,
   e9490. doi:10.1371/journal.pone.0009490
.. [3] Piñeiro, C., Abuín, J. M. & Pichel, J. C. (2020). Very Fast Tree:
   speeding up the estimation of phylogenies for large alignments through
   parallelization and vectorization strategies. Bioinformatics 36,
   4658-4659. doi:10.1093/bioinformatics/btaa582
.. [4] Bolyen, E. et al. (2019). Reproducible, interactive, scalable and
   extensible microbiome data science using QIIME 2. Nat. Biotechnol. 37,
   852-857. doi:10.1038/s41587-019-0209-9
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import logging
import os
import platform
import re
import subprocess
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gutaxis.exceptions import InputError, OutputError, ToolError
from gutaxis.io import read_tree
from gutaxis.outputs import create_temporary
from gutaxis.tree import Tree

__all__ = [
    "build_tree",
    "sequences_from_ids",
    "ids_look_like_sequences",
    "mask_alignment",
    "default_cache_dir",
]

logger = logging.getLogger(__name__)

#: IUPAC nucleotide codes accepted in sequences (U is read as T).
IUPAC_DNA = "ACGTURYSWKMBDHVN"
_GAPS = "-."
_SEQ_RE = re.compile(f"[{IUPAC_DNA}{IUPAC_DNA.lower()}]+")
_MODELS = {
    "jc": ([], "JC+CAT20 (FastTree -nt default, as QIIME 2)"),
    "gtr-gamma": (["-gtr", "-gamma"], "GTR+CAT20, lengths rescaled under Gamma20"),
}
MASK_MAX_GAP_FREQUENCY = 1.0
MASK_MIN_CONSERVATION = 0.4


# --------------------------------------------------------------------------- ids
def ids_look_like_sequences(ids: Iterable[Any], *, min_length: int = 50) -> bool:
    """Whether every id is a nucleotide sequence (as DADA2/deblur ASV ids are).

    True when there is at least one id and every id is made only of IUPAC
    nucleotide letters (either case), is at least ``min_length`` long and is
    at least 90 % A, C, G, T/U.  Hash ids (MD5 hex) and names such as
    ``ASV_1`` are not.
    """
    n = 0
    for raw in ids:
        s = str(raw)
        if len(s) < min_length or not _SEQ_RE.fullmatch(s):
            return False
        upper = s.upper()
        acgt = sum(upper.count(c) for c in "ACGTU")
        if acgt < 0.9 * len(s):
            return False
        n += 1
    return n > 0


def sequences_from_ids(feature_ids: Iterable[Any], *, min_length: int = 50) -> pd.Series:
    """Return the feature ids as sequences, when the ids *are* the sequences.

    Parameters
    ----------
    feature_ids : iterable of str
        Feature ids (e.g. a table's observation ids).
    min_length : int
        Shortest id accepted as a sequence.

    Returns
    -------
    pandas.Series
        Indexed by the ids as given, values upper-cased with U read as T.

    Raises
    ------
    InputError
        Some ids are not nucleotide sequences (see :func:`ids_look_like_sequences`).

    Examples
    --------
    >>> s = sequences_from_ids(["ACGT" * 13, "acgu" * 13])
    >>> s.iloc[1][:8]
    'ACGTACGT'
    """
    ids = [str(i) for i in feature_ids]
    if not ids_look_like_sequences(ids, min_length=min_length):
        bad = next((i for i in ids if not ids_look_like_sequences([i], min_length=min_length)),
                   None)
        raise InputError(
            "the feature ids are not nucleotide sequences"
            + (f" (e.g. {bad[:40]!r})" if bad is not None else " (no ids)")
            + "; give the ASV sequences (a FASTA file or FeatureData[Sequence]) to build a tree, "
            "or a tree"
        )
    return pd.Series([i.upper().replace("U", "T") for i in ids], index=pd.Index(ids, dtype=object),
                     name="sequence", dtype=object)


# --------------------------------------------------------------------------- helpers
def default_cache_dir() -> Path:
    """``$GUTAXIS_CACHE_DIR`` if set, else ``~/.cache/gutaxis/trees``."""
    env = os.environ.get("GUTAXIS_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "gutaxis" / "trees"


def _versions() -> dict[str, str]:
    def version(dist: str) -> str:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError as exc:
            raise ToolError(f"{dist} is not installed; pip install {dist}") from exc

    return {"pyfamsa": version("pyfamsa"), "veryfasttree": version("veryfasttree")}


def _veryfasttree_binary() -> str:
    """Path of the VeryFastTree executable shipped by the ``veryfasttree`` wheel.

    Chosen like ``veryfasttree.VFT_BINARY`` (AVX-512, AVX2 or SSE2 build by the
    CPU flags) but without importing the package, whose import probes the
    CPU in a subprocess.
    """
    simd = "sse2"
    exe = ".exe" if platform.system() == "Windows" else ""
    if platform.machine() in ("x86_64", "AMD64"):
        flags: set[str] = set()
        try:
            with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
                for line in fh:
                    if line.startswith("flags"):
                        flags = set(line.split(":", 1)[1].split())
                        break
        except OSError:
            flags = set()
        if not flags:
            try:
                import veryfasttree

                return str(veryfasttree.VFT_BINARY)
            except Exception as exc:  # pragma: no cover - depends on the install
                raise ToolError(f"cannot locate the VeryFastTree executable: {exc}") from exc
        simd = "avx512f" if "avx512f" in flags else "avx2" if "avx2" in flags else "sse2"
    try:
        dist = importlib.metadata.distribution("veryfasttree")
    except importlib.metadata.PackageNotFoundError as exc:
        raise ToolError("veryfasttree is not installed; pip install veryfasttree") from exc
    path = Path(str(dist.locate_file(f"veryfasttree/bin/VeryFastTree-{simd}{exe}")))
    if not path.is_file():
        raise ToolError(f"the VeryFastTree executable is missing from the veryfasttree "
                        f"install (looked for {path})")
    return str(path)


def _check_sequences(sequences: pd.Series) -> list[tuple[str, str]]:
    if not isinstance(sequences, pd.Series):
        raise InputError(f"sequences must be a pandas Series (id → sequence); got "
                         f"{type(sequences).__name__}")
    ids = [str(i) for i in sequences.index]
    if len(set(ids)) != len(ids):
        dupes = pd.Index(ids)[pd.Index(ids).duplicated()].unique().tolist()
        raise InputError("sequence ids must be unique; duplicated: "
                         + ", ".join(map(repr, dupes[:10])))
    if len(ids) < 3:
        raise InputError(f"a tree needs at least 3 sequences; got {len(ids)}")
    pairs = []
    for i, raw in zip(ids, sequences.to_numpy(), strict=True):
        if not isinstance(raw, str):
            raise InputError(f"sequence {i!r} is not a string ({raw!r})")
        seq = raw.strip().upper().replace("U", "T")
        for g in _GAPS:
            seq = seq.replace(g, "")
        if not seq:
            raise InputError(f"sequence {i!r} is empty")
        bad = set(seq) - set(IUPAC_DNA)
        if bad:
            pos = min(seq.index(c) for c in bad)
            raise InputError(
                f"sequence {i!r} contains {', '.join(map(repr, sorted(bad)))} (first at "
                f"position {pos + 1}); only IUPAC nucleotide codes {IUPAC_DNA} are accepted"
            )
        pairs.append((i, seq))
    return pairs


def _cache_key(pairs: list[tuple[str, str]], params: dict[str, Any]) -> str:
    h = hashlib.sha256()
    h.update(json.dumps(params, sort_keys=True).encode())
    for i, s in sorted(pairs):
        h.update(b"\x00")
        h.update(i.encode())
        h.update(b"\t")
        h.update(s.encode())
    return h.hexdigest()


def mask_alignment(rows: np.ndarray, *, max_gap_frequency: float = MASK_MAX_GAP_FREQUENCY,
                   min_conservation: float = MASK_MIN_CONSERVATION) -> np.ndarray:
    """Columns kept by QIIME 2's ``alignment mask`` rule.

    Parameters
    ----------
    rows : ndarray of uint8, shape (n_sequences, n_columns)
        The alignment as ASCII codes (``-`` and ``.`` are gaps).
    max_gap_frequency : float
        Keep columns whose share of gaps is at most this.
    min_conservation : float
        Keep columns whose most frequent non-gap character makes up at least
        this share of the non-gap characters (0 for an all-gap column).

    Returns
    -------
    ndarray of bool
        One flag per column.
    """
    gap = (rows == ord("-")) | (rows == ord("."))
    n = rows.shape[0]
    gap_freq = gap.sum(axis=0) / n
    non_gap = n - gap.sum(axis=0)
    best = np.zeros(rows.shape[1], dtype=np.int64)
    for code in np.unique(rows[~gap]):
        best = np.maximum(best, (rows == code).sum(axis=0))
    conservation = np.divide(best, non_gap, out=np.zeros(rows.shape[1]), where=non_gap > 0)
    keep: np.ndarray = (gap_freq <= max_gap_frequency) & (conservation >= min_conservation)
    return keep


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = create_temporary(path.parent, path.name, ".tmp")  # the cache may be shared
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# --------------------------------------------------------------------------- main
def build_tree(sequences: pd.Series, *, cache_dir: str | os.PathLike[str] | None = None,
               threads: int | None = None, model: str = "jc",
               timeout: float = 3600.0) -> tuple[Tree, dict[str, Any]]:
    """De novo rooted tree of nucleotide sequences (QIIME 2's pipeline, see the module).

    Parameters
    ----------
    sequences : pandas.Series
        Feature id → unaligned nucleotide sequence (IUPAC codes, any case, U
        read as T; gap characters are dropped).  At least 3.
    cache_dir : path, optional
        Where results are cached (default :func:`default_cache_dir`).
    threads : int, optional
        Threads for the aligner and the tree builder (default: all cores
        available to this process).
    model : {"jc", "gtr-gamma"}
        ``"jc"``: FastTree's nucleotide default, Jukes-Cantor with 20 CAT rate
        categories -- what QIIME 2 runs.  ``"gtr-gamma"``: GTR, lengths
        rescaled under a 20-category Gamma model (``-gtr -gamma``; slower).
    timeout : float
        Seconds allowed to VeryFastTree.

    Returns
    -------
    tree : Tree
        Midpoint-rooted tree whose tips are the sequence ids.
    info : dict
        ``source`` ("de novo"), ``aligner``, ``scoring_matrix``, ``mask``,
        ``tree_builder``, ``model``, ``rooting`` ("midpoint"),
        ``n_sequences``, ``alignment_columns``, ``masked_columns``,
        ``cache_key``, ``cached`` and ``seconds`` (wall time of this call).

    Raises
    ------
    InputError
        Fewer than 3 sequences, duplicate ids, characters that are not IUPAC
        nucleotide codes, an unknown ``model``.
    ToolError
        The aligner or VeryFastTree failed or timed out; the message quotes
        the tool's last output lines.
    """
    t0 = time.perf_counter()
    if model not in _MODELS:
        raise InputError(f"unknown model {model!r}; choose one of {', '.join(_MODELS)}")
    pairs = _check_sequences(sequences)
    if threads is None:
        try:
            threads = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            threads = os.cpu_count() or 1
    threads = max(1, int(threads))
    versions = _versions()
    mask = {"max_gap_frequency": MASK_MAX_GAP_FREQUENCY,
            "min_conservation": MASK_MIN_CONSERVATION}
    params: dict[str, Any] = {
        "pipeline": 1,
        "aligner": f"pyfamsa {versions['pyfamsa']}",
        "scoring_matrix": "NUC.4.4",
        "mask": mask,
        "tree_builder": f"VeryFastTree {versions['veryfasttree']}",
        "tree_args": ["-nt", *_MODELS[model][0]],
        "rooting": "midpoint",
    }
    key = _cache_key(pairs, params)
    base = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    nwk_path, info_path = base / f"{key}.nwk", base / f"{key}.json"
    ids = [i for i, _ in pairs]
    if nwk_path.is_file() and info_path.is_file():
        try:
            tree = read_tree(nwk_path)
            info = json.loads(info_path.read_text(encoding="utf-8"))
            if sorted(tree.tip_names) != sorted(ids):
                raise ValueError("the cached tree's tips differ from the sequence ids")
            info.update(cached=True, seconds=time.perf_counter() - t0)
            logger.info("de novo tree: cache hit %s", nwk_path)
            return tree, info
        except Exception as exc:  # a damaged cache entry is rebuilt
            logger.warning("ignoring damaged tree cache entry %s: %s", nwk_path, exc)

    aligned, famsa_version = _align(pairs, threads)
    keep = mask_alignment(aligned)
    if not keep.any():
        raise ToolError("no alignment column passed the mask (conservation ≥ "
                        f"{MASK_MIN_CONSERVATION}); the sequences may not be homologous")
    masked = aligned[:, keep]
    newick = _infer(masked, threads, _MODELS[model][0], timeout)
    raw = Tree.from_newick(newick, source="VeryFastTree output")
    names = np.array(raw.names, dtype=object)
    tip_index = {f"s{k}": i for k, i in enumerate(ids)}
    for v in raw.tip_nodes:
        names[v] = tip_index[names[v]]
    renamed = Tree(raw.parent, raw.lengths, names, source="de novo tree")
    tree = renamed.midpoint_root()
    info = {
        "source": "de novo",
        "aligner": f"pyfamsa {versions['pyfamsa']} (FAMSA {famsa_version})",
        "scoring_matrix": "NUC.4.4",
        "mask": dict(mask),
        "tree_builder": f"VeryFastTree {versions['veryfasttree']}",
        "tree_args": params["tree_args"],
        "model": _MODELS[model][1],
        "rooting": "midpoint",
        "n_sequences": len(pairs),
        "alignment_columns": int(aligned.shape[1]),
        "masked_columns": int(keep.sum()),
        "threads": threads,
        "cache_key": key,
        "cached": False,
    }
    try:
        base.mkdir(parents=True, exist_ok=True)
        _write_atomic(nwk_path, tree.to_newick() + "\n")
        _write_atomic(info_path, json.dumps(info, indent=1) + "\n")
    except (OSError, OutputError) as exc:  # a cache that cannot be written: the tree stands
        logger.warning("could not cache the tree in %s: %s", base, exc)
    info["seconds"] = time.perf_counter() - t0
    logger.info("de novo tree of %d sequences in %.1f s", len(pairs), info["seconds"])
    return tree, info


def _align(pairs: list[tuple[str, str]], threads: int) -> tuple[np.ndarray, str]:
    try:
        import pyfamsa
        from scoring_matrices.lib import ScoringMatrix
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ToolError(f"pyfamsa is needed to align sequences: {exc}") from exc
    seqs = [pyfamsa.Sequence(f"s{k}".encode(), s.encode()) for k, (_, s) in enumerate(pairs)]
    try:
        aligner = pyfamsa.Aligner(threads=threads,
                                  scoring_matrix=ScoringMatrix.from_name("NUC.4.4"))
        alignment = aligner.align(seqs)
    except (ValueError, RuntimeError) as exc:
        raise ToolError(f"FAMSA (pyfamsa) failed to align the sequences: {exc}") from exc
    order = {f"s{k}".encode(): k for k in range(len(pairs))}
    rows: list[bytes] = [b""] * len(pairs)
    for g in alignment:
        rows[order[g.id]] = g.sequence
    width = len(rows[0])
    if any(len(r) != width for r in rows):  # pragma: no cover - FAMSA guarantees this
        raise ToolError("FAMSA returned rows of different lengths")
    arr = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(len(rows), width)
    return arr, str(pyfamsa.famsa_info().version)


def _infer(masked: np.ndarray, threads: int, extra: list[str], timeout: float) -> str:
    binary = _veryfasttree_binary()
    with tempfile.TemporaryDirectory(prefix="gutaxis-tree-") as tmp:
        aln_path = Path(tmp) / "alignment.fasta"
        out_path = Path(tmp) / "tree.nwk"
        with open(aln_path, "w", encoding="ascii") as fh:
            for k in range(masked.shape[0]):
                fh.write(f">s{k}\n")
                fh.write(masked[k].tobytes().decode("ascii"))
                fh.write("\n")
        args = [binary, "-nt", *extra, "-nopr", "-threads", str(threads),
                "-out", str(out_path), str(aln_path)]
        # Passive waiting: VeryFastTree's OpenMP threads otherwise spin between parallel
        # regions, which on a busy 2-core machine made the demo's tree take 32–39 s
        # instead of 5–11 s (benchmarks/README.md).  A user's own setting wins.
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        env.setdefault("OMP_WAIT_POLICY", "passive")
        logger.debug("running %s", " ".join(args))
        try:
            proc = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=timeout, env=env, check=False)
        except subprocess.TimeoutExpired as exc:
            raise ToolError(f"VeryFastTree did not finish within {timeout:g} s "
                            f"({masked.shape[0]} sequences); raise the timeout") from exc
        except OSError as exc:
            raise ToolError(f"cannot run VeryFastTree ({binary}): {exc}") from exc
        tail = "\n".join(proc.stderr.strip().splitlines()[-8:])
        if proc.returncode != 0:
            raise ToolError(f"VeryFastTree failed (exit status {proc.returncode}):\n{tail}")
        logger.debug("VeryFastTree: %s", tail)
        try:
            text = out_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ToolError(f"VeryFastTree wrote no tree:\n{tail}") from exc
    if not text.strip():
        raise ToolError(f"VeryFastTree wrote an empty tree:\n{tail}")
    return text
