"""How long `MFUMeter.update` takes: the cost a training loop pays every step.

A plain script, not a timed test (timings depend on the machine). It builds meters for a
few example models, times `update` at the model's sequence length and at another one
(the compiled per-token formula, cached after the first call), and prints a table and
one JSON object. The budget is "well under a millisecond" per update (issue 6).

    python benchmarks/bench_meter.py [--updates 200000]
"""

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import mfu_sym  # noqa: E402

CASES = [  # (model file, hardware, gpus, another sequence length)
    ("llama3_8b.yaml", "h100", 8, 4096),
    ("llama3_405b.yaml", "b200", 1024, 131072),
    ("gemma3_1b.yaml", "h100", 1, 512),     # sliding-window layers: a Piecewise in seq_len
    ("gpt2_124m.yaml", "a100", 1, 512),
]
BUDGET_SECONDS = 1e-3


def time_updates(update, updates, repeats=5):
    """Seconds per call: the best and the median of `repeats` loops of `updates` calls."""
    per_call = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(updates):
            update()
        per_call.append((time.perf_counter() - start) / updates)
    return min(per_call), statistics.median(per_call)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=200_000)
    args = parser.parse_args()

    rows = []
    for name, hardware, gpus, other in CASES:
        start = time.perf_counter()
        meter = mfu_sym.MFUMeter(ROOT / "examples" / name, hardware=hardware, gpus=gpus)
        build = time.perf_counter() - start
        tokens = meter.seq_len * 64
        start = time.perf_counter()
        meter.update(tokens=tokens, seconds=1.0, seq_len=other)      # first use compiles nothing new
        first_other = time.perf_counter() - start
        best, median = time_updates(lambda: meter.update(tokens=tokens, seconds=1.0), args.updates)
        best_other, median_other = time_updates(lambda: meter.update(tokens=tokens, seconds=1.0, seq_len=other),
                                                args.updates)
        rows.append({"model": name, "hardware": hardware, "gpus": gpus, "seq_len": meter.seq_len,
                     "other_seq_len": other, "construct_s": build, "first_update_other_seq_len_s": first_other,
                     "update_s": {"best": best, "median": median},
                     "update_other_seq_len_s": {"best": best_other, "median": median_other}})

    worst = max(max(r["update_s"]["median"], r["update_other_seq_len_s"]["median"]) for r in rows)
    print(f"MFUMeter.update, {args.updates:,} calls x 5 repeats per case "
          f"(Python {platform.python_version()}, {platform.machine()})")
    print(f"{'model':<18}{'hardware':<10}{'build':>9}{'update (median)':>18}{'other seq_len':>16}{'first other':>14}")
    for r in rows:
        print(f"{r['model']:<18}{r['hardware']:<10}{r['construct_s']:>8.2f}s"
              f"{r['update_s']['median'] * 1e6:>16.2f}us{r['update_other_seq_len_s']['median'] * 1e6:>14.2f}us"
              f"{r['first_update_other_seq_len_s'] * 1e6:>12.1f}us")
    verdict = "yes" if worst < BUDGET_SECONDS / 100 else "no"
    print(f"slowest median update {worst * 1e6:.2f} us; under 1% of a millisecond: {verdict}")
    print(json.dumps({"benchmark": "mfu_meter_update", "updates": args.updates, "python": platform.python_version(),
                      "cases": rows, "slowest_median_update_s": worst, "budget_s": BUDGET_SECONDS}))


if __name__ == "__main__":
    main()
