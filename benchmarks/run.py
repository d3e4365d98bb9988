"""mfu-sym's speed, measured (not asserted): `python benchmarks/run.py [--json FILE]`.

1. cold start: `mfu-sym derive` in a new process vs the floor of importing its
   dependencies (sympy, yaml, click) in a new process; target <= 1.5x.
2. symbolic build of the largest example (DeepSeek-V3): load, compose, report.
3. sweep throughput: 10^6 configurations through the compiled expressions vs a plain
   `subs` loop (timed on a sample, extrapolated); target < 1 s for 10^6 points.
4. MFUMeter.update, the per-step cost in a training loop; target well under 1 ms.
5. one configuration vs PyTorch's FlopCounterMode on the meta device (when torch and
   transformers are installed); target >= 1000x faster.
6. one symbolic trace (`mfu_sym.trace`: every (seq_len, batch) at once) vs one numeric
   FlopCounterMode count on the meta device (one point), Llama-3-8B and DeepSeek-V3 as
   published, interleaved.
Each figure is the median of several runs. Prints a table and JSON.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
sys.path.append(str(ROOT))  # the source tree, when mfu-sym is not installed


def median_time(function, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_process(args):
    return lambda: subprocess.run(args, check=True, capture_output=True, cwd=ROOT)


def cold_start(repeat):
    derive = [sys.executable, "-m", "mfu_sym.cli", "derive", str(EXAMPLES / "llama3_8b.yaml")]
    floor = [sys.executable, "-c", "import sympy, yaml, click"]
    run_process(derive)()  # warm the disk cache and the byte-code
    t_derive = median_time(run_process(derive), repeat)
    t_floor = median_time(run_process(floor), repeat)
    return {"derive_s": t_derive, "import_floor_s": t_floor, "ratio": t_derive / t_floor, "target_ratio": 1.5}


def symbolic_build(repeat):
    import mfu_sym

    def build():
        model = mfu_sym.load(EXAMPLES / "deepseek_v3.yaml")
        model.report(seq_len=4096)
    return {"deepseek_v3_load_and_report_s": median_time(build, repeat)}


def sweep_throughput(repeat):
    import numpy as np

    import mfu_sym
    from mfu_sym.sweep import sweep

    model = mfu_sym.load(EXAMPLES / "llama3_8b.yaml")
    grid = {"seq_len": list(range(1, 1001)), "batch": list(range(1, 1001))}
    t_sweep = median_time(lambda: sweep(model, grid, components=False), repeat)
    training = model.batch * model.training()
    sample = 200
    start = time.perf_counter()
    for i in range(sample):
        model.evaluate(training, seq_len=1 + i, batch=1 + i)
    t_subs = (time.perf_counter() - start) / sample * 10**6
    f = model.compile(training, "seq_len", "batch")
    s, b = np.meshgrid(np.arange(1, 1001), np.arange(1, 1001), indexing="ij")
    t_compiled = median_time(lambda: f(s.ravel(), b.ravel()), repeat)
    return {"points": 10**6, "sweep_all_columns_s": t_sweep, "compiled_training_only_s": t_compiled,
            "subs_loop_extrapolated_s": t_subs, "speedup_vs_subs": t_subs / t_sweep, "target_s": 1.0}


def versus_flop_counter(repeat):
    try:
        from tests.crosscheck.reference import measure
    except ImportError:
        return {"skipped": "torch or transformers not installed"}
    import mfu_sym
    config = json.loads((EXAMPLES / "hf" / "llama3_8b" / "config.json").read_text())
    t_torch = median_time(lambda: measure(config, batch=1, seq_len=4096, attn_implementation="eager",
                                          device="meta"), max(1, repeat // 2))
    model = mfu_sym.load(EXAMPLES / "hf" / "llama3_8b" / "config.json", preset="torch")
    training = model.training()
    t_ours = median_time(lambda: model.evaluate(training, seq_len=4096), repeat * 20)
    f = model.compile(training, "seq_len")
    t_compiled = median_time(lambda: f(4096), repeat * 20)
    return {"flop_counter_meta_s": t_torch, "mfu_sym_evaluate_s": t_ours, "mfu_sym_compiled_s": t_compiled,
            "speedup_evaluate": t_torch / t_ours, "speedup_compiled": t_torch / t_compiled, "target_speedup": 1000}


def trace_versus_flop_counter(repeat):
    """One trace gives the polynomials for every (seq_len, batch); one numeric count gives
    one point. Interleaved, so both see the same machine state."""
    try:
        from tests.crosscheck.reference import measure
        import mfu_sym
        from transformers.utils import logging
    except ImportError:
        return {"skipped": "torch or transformers not installed"}
    logging.set_verbosity_error()
    out = {}
    for name, runs in (("llama3_8b", max(1, repeat // 2)), ("deepseek_v3", 1)):
        path = EXAMPLES / "hf" / name / "config.json"
        config = json.loads(path.read_text())
        traced, counted = [], []
        for _ in range(runs):
            # at no given point: the polynomials alone (a point with a size of 1 adds a pass there)
            traced.append(median_time(lambda: mfu_sym.trace(path), 1))
            counted.append(median_time(lambda: measure(config, batch=1, seq_len=4096, device="meta"), 1))
        t_trace, t_count = statistics.median(traced), statistics.median(counted)
        out[f"{name}_trace_s"] = t_trace
        out[f"{name}_flop_counter_one_point_s"] = t_count
        out[f"{name}_trace_per_point_ratio"] = t_trace / t_count
        out[f"{name}_100_lengths_speedup"] = 100 * t_count / t_trace
    return out


def meter_update(repeat):
    """MFUMeter.update inside a training loop (benchmarks/bench_meter.py has more cases)."""
    import mfu_sym
    model = mfu_sym.load(EXAMPLES / "llama3_8b.yaml")
    meter = mfu_sym.MFUMeter(model, hardware="h100", dtype="bf16", gpus=8, seq_len=8192)
    calls = 20000

    def loop():
        for _ in range(calls):
            meter.update(tokens=8 * 8192, seconds=0.5)
    return {"update_s": median_time(loop, repeat) / calls, "target_s": 1e-3}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--only", choices=["cold_start", "symbolic_build", "sweep", "meter", "vs_flop_counter",
                                           "trace"], help="run one group")
    args = parser.parse_args()
    groups = {"cold_start": cold_start, "symbolic_build": symbolic_build, "sweep": sweep_throughput,
              "meter": meter_update, "vs_flop_counter": versus_flop_counter, "trace": trace_versus_flop_counter}
    results = {name: run(args.repeat) for name, run in groups.items() if args.only in (None, name)}
    print(f"{'benchmark':<48}{'value':>16}")
    for group, figures in results.items():
        for key, value in figures.items():
            shown = (f"{value:,.4f}" if isinstance(value, float) and abs(value) >= 1e-3
                     else f"{value:.3g}" if isinstance(value, float) else str(value))
            print(f"{group + '.' + key:<48}{shown:>16}")
    print(json.dumps(results, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
