"""Both UniFracs on 10,000 samples × 10,000 features, gutaxis only.

Usage::

    .venv/bin/python -m benchmarks.unifrac_10k            # target: < 5 min each on 2 cores
    .venv/bin/python -m benchmarks.unifrac_10k --size 2000x10000   # a shorter rehearsal

Each metric runs in a fresh worker process (see :mod:`benchmarks._worker`):
JIT warm-up on 250 samples first, then one timed run with its peak memory.
Results go to ``.bench/unifrac_10k.json`` (same layout as ``results.json``).
"""

from __future__ import annotations

import argparse
import json

from benchmarks import run

TARGET_SECONDS = 300.0
METRICS = ("unweighted_unifrac", "weighted_unifrac")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.unifrac_10k", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", default="10000x10000", help="SAMPLESxFEATURES (default 10000x10000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", default=str(run.BENCH_DIR / "unifrac_10k.json"))
    args = p.parse_args(argv)
    code = run.main(["--sizes", args.size, "--only", ",".join(METRICS), "--skip-peer",
                     "--seed", str(args.seed), "--output", args.output])
    if code:
        return code
    with open(args.output) as fh:
        results = json.load(fh)["results"]
    ok = True
    for row in results:
        seconds = row.get("gutaxis_seconds")
        if seconds is None:
            print(f"{row['op']}: {row.get('status', 'no result')}")
            ok = False
            continue
        met = seconds < TARGET_SECONDS
        ok &= met
        print(f"{row['op']} at {row['size']}: {seconds:,.1f} s "
              f"(JIT warm-up {row['warmup_seconds']:.1f} s) — target < {TARGET_SECONDS:.0f} s: "
              f"{'met' if met else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
