"""Writing a distance matrix as lsmat TSV: the ``repr``-joining writer vs gutaxis's.

Usage::

    .venv/bin/python -m benchmarks.lsmat_writer            # 2,000 × 2,000, a few seconds
    .venv/bin/python -m benchmarks.lsmat_writer --n 5000

A random symmetric matrix (uniform in [0, 1), zero diagonal, like UniFrac or
Bray–Curtis) is written by both; the files must be byte-identical, and the
throughput (MB of file per second, best of ``--repeat``) of each is printed.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from gutaxis.distance import DistanceMatrix
from gutaxis.io import write_lsmat


def _repr_writer(dm: DistanceMatrix, path: Path) -> None:
    """The writer gutaxis had before: ``repr`` of each value, joined with tabs."""
    ids = [str(i) for i in dm.ids]
    with open(path, "w", encoding="utf-8") as out:
        out.write("\t" + "\t".join(ids) + "\n")
        for ident, row in zip(ids, dm.data, strict=True):
            out.write(ident + "\t" + "\t".join(map(repr, row.tolist())) + "\n")


def _best(write: Callable[[DistanceMatrix, Path], None], dm: DistanceMatrix, path: Path,
          repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        write(dm, path)
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.lsmat_writer", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=2000, help="samples (default 2000)")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    a = rng.random((args.n, args.n))
    data = (a + a.T) / 2
    np.fill_diagonal(data, 0.0)
    dm = DistanceMatrix(pd.Index([f"sample.{i}" for i in range(args.n)], dtype=object), data)
    with tempfile.TemporaryDirectory() as folder:
        old, new = Path(folder) / "old.tsv", Path(folder) / "new.tsv"
        t_old = _best(_repr_writer, dm, old, args.repeat)
        t_new = _best(write_lsmat, dm, new, args.repeat)
        size = new.stat().st_size
        same = old.read_bytes() == new.read_bytes()
    print(f"{args.n:,} × {args.n:,}: {size / 1e6:.1f} MB; byte-identical: {same}")  # noqa: T201
    print(f"repr joining: {t_old:.2f} s, {size / 1e6 / t_old:.0f} MB/s")  # noqa: T201
    print(f"gutaxis:      {t_new:.2f} s, {size / 1e6 / t_new:.0f} MB/s "  # noqa: T201
          f"({t_old / t_new:.1f}×)")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
