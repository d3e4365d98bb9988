"""mfu-sym's speed, measured honestly (nothing here is asserted by the test suite):

    python benchmarks/run.py [--only GROUP ...] [--repeat N] [--all-examples] [--json FILE]

Groups (see README "Speed" for what each figure means):

- cold_start: each command in a new process, interleaved round by round with the floor
  `python -c "import sympy, numpy, yaml, click"` (the imports every command pays), so both
  see the same machine state; reports median seconds and command/floor. Target: every
  command except plot (matplotlib's import dominates) <= 1.3x, on Llama-3-8B, DeepSeek-V3
  and Gemma 3 27B (--all-examples: derive on every bundled example too).
- new_points: one configuration at a point never asked before (distinct seq_len every
  call, so sympy's cache cannot answer): Model.evaluate, and the compiled function with
  one Python integer. Target: <= 50 us compiled.
- sweep: `mfu-sym sweep` to a CSV file end to end (a new process: start-up, evaluation,
  writing), with its peak memory, beside the library computing the same table in
  process; the same past int64 (seq_len 2M..3M); and 10^7 points streamed. Targets:
  10^6 points <= 3 s and <= 300 MB; no cliff past int64; 10^7 in bounded memory.
- log: `mfu-sym mfu --log` of 10^6 rows (CSV and JSON lines) end to end. Target <= 3 s.
- meter: MFUMeter.update, the per-step cost in a training loop.
- vs_flop_counter: PyTorch's FlopCounterMode (meta device) against mfu-sym for
  Llama-3-8B at 4k: both cold (a new process each: derive vs one count, interleaved), and
  warm (one count vs one new point), and for 100 sequence lengths.
- trace: one symbolic trace (every (seq_len, batch) at once) against one numeric count.

Medians of --repeat runs. Prints a table and JSON.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
sys.path.insert(0, str(ROOT))  # the source tree, when mfu-sym is not installed

FLOOR = [sys.executable, "-c", "import sympy, numpy, yaml, click"]
# Each process runs with byte-code as an installed package has it (some sandboxes set
# PYTHONDONTWRITEBYTECODE, which recompiles mfu-sym's modules on every start), kept out of
# the tree; mfu-sym's start-up cache is used as a user's second run finds it.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV.setdefault("PYTHONPYCACHEPREFIX", os.path.join(tempfile.gettempdir(), "mfu-sym-bench-pyc"))
CLI = [sys.executable, "-m", "mfu_sym.cli"]
MODELS = ("llama3_8b.yaml", "deepseek_v3.yaml", "gemma3_27b.yaml")


def commands(model):
    """Every command but plot (and trace, whose floor is importing torch) on `model`."""
    m = str(EXAMPLES / model)
    out = tempfile.gettempdir()
    return {
        "derive": ["derive", m], "analyze": ["analyze", m], "reconcile": ["reconcile", m],
        "latex": ["latex", m], "markdown": ["latex", m, "--format", "markdown"],
        "report": ["report", m, "-o", os.path.join(out, "mfu-sym-bench.html")],
        "infer": ["infer", m, "--context", "8192", "--hardware", "h100"],
        "memory": ["memory", m], "budget": ["budget", m, "--tokens", "15.6e12", "--hardware", "h100",
                                            "--gpus", "1024", "--mfu", "0.4"],
        "mfu": ["mfu", m, "--hardware", "h100", "--gpus", "8", "--tokens-per-sec", "100000"],
        "sweep": ["sweep", m, "--seq-len", "1024:8192:1024", "--batch", "1,8"],
    }


GLOBAL_COMMANDS = {"chinchilla": ["chinchilla", "--compute", "1e23"], "presets": ["presets"],
                   "hardware": ["hardware", "list"]}


def median_time(function, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_process(args):
    """Seconds and peak resident memory (MB) of one new process."""
    start = time.perf_counter()
    process = subprocess.Popen(args, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    error = process.stderr.read().decode()
    process.stderr.close()
    if process.returncode:
        raise SystemExit(f"{' '.join(map(str, args))} failed: {error}")
    return seconds, usage.ru_maxrss / 1024


def interleaved(args, repeat):
    """Median seconds of `args` and of the floor, run alternately."""
    run_process(args)  # the disk cache, byte-code and mfu-sym's library cache, as a user's second run
    ours, floor = [], []
    for _ in range(repeat):
        floor.append(run_process(FLOOR)[0])
        ours.append(run_process(args)[0])
    return statistics.median(ours), statistics.median(floor)


def cold_start(args):
    out, worst = {}, 0.0
    cases = [(f"{name}.{model.split('.')[0]}", cli) for model in MODELS for name, cli in commands(model).items()]
    cases += [(name, cli) for name, cli in GLOBAL_COMMANDS.items()]
    if args.all_examples:
        for path in sorted(EXAMPLES.glob("*.yaml")) + sorted(EXAMPLES.glob("hf/*/config.json")):
            name = path.parent.name if path.name == "config.json" else path.stem
            if path.name not in MODELS:
                cases.append((f"derive.{name}", ["derive", str(path)]))
    for name, cli in cases:
        ours, floor = interleaved(CLI + cli, args.repeat)
        out[f"{name}_s"], out[f"{name}_ratio"] = ours, ours / floor
        worst = max(worst, ours / floor)
        print(f"  {name:<36}{ours:8.3f} s {ours / floor:6.2f}x", file=sys.stderr)
    out["floor_s"] = floor
    out["worst_ratio"], out["target_ratio"] = worst, 1.3
    return out


def new_points(args):
    import mfu_sym
    out = {}
    for name in ("llama3_8b.yaml", "deepseek_v3.yaml"):
        model = mfu_sym.load(EXAMPLES / name)
        training = model.training()
        key = name.split(".")[0]
        points = iter(range(10**6, 10**7))
        out[f"{key}_evaluate_s"] = median_time(lambda: model.evaluate(training, seq_len=next(points)),
                                               args.repeat * 40)
        f = model.compile(training, "seq_len")
        out[f"{key}_compiled_s"] = median_time(lambda: f(next(points)), args.repeat * 400)
    out["target_compiled_s"] = 50e-6
    return out


def sweep(args):
    out = {}
    with tempfile.TemporaryDirectory() as directory:
        csv = os.path.join(directory, "sweep.csv")
        llama = str(EXAMPLES / "llama3_8b.yaml")
        cases = {"1e6": ["--seq-len", "1:1000", "--batch", "1:1000"],
                 "1e6_past_int64": ["--seq-len", "2000000:2999000:1000", "--batch", "1:1000"]}
        if not args.quick:
            cases["1e7"] = ["--seq-len", "1:10000", "--batch", "1:1000"]
        for name, grid in cases.items():
            runs = [run_process(CLI + ["sweep", llama, *grid, "-o", csv]) for _ in range(1 if name == "1e7" else 3)]
            out[f"cli_{name}_to_csv_s"] = statistics.median(r[0] for r in runs)
            out[f"cli_{name}_peak_mb"] = max(r[1] for r in runs)
            out[f"cli_{name}_file_mb"] = os.path.getsize(csv) / 1e6

    import mfu_sym
    from mfu_sym.sweep import Sweep
    model = mfu_sym.load(EXAMPLES / "llama3_8b.yaml")
    grid = {"seq_len": range(1, 1001), "batch": range(1, 1001)}
    out["library_1e6_table_s"] = median_time(lambda: Sweep(model, grid).table(), args.repeat)
    out["target_1e6_s"], out["target_1e6_mb"] = 3.0, 300
    return out


def log(args):
    out = {}
    rows = 10**6
    with tempfile.TemporaryDirectory() as directory:
        csv, jsonl = os.path.join(directory, "log.csv"), os.path.join(directory, "log.jsonl")
        with open(csv, "w") as handle:
            handle.write("step,tokens_per_sec\n")
            handle.writelines(f"{i},{150000 + (i * 7919) % 20000}.{i % 97}\n" for i in range(rows))
        with open(jsonl, "w") as handle:
            handle.writelines(f'{{"step": {i}, "tokens_per_sec": {150000 + (i * 7919) % 20000}.{i % 97}}}\n'
                              for i in range(rows))
        llama = str(EXAMPLES / "llama3_8b.yaml")
        for name, path in (("csv", csv), ("jsonl", jsonl)):
            cli = CLI + ["mfu", llama, "--hardware", "h100", "--gpus", "8", "--log", path,
                         "--log-column", "tokens_per_sec"]
            runs = [run_process(cli) for _ in range(3)]
            out[f"cli_1e6_rows_{name}_s"] = statistics.median(r[0] for r in runs)
            out[f"cli_1e6_rows_{name}_peak_mb"] = max(r[1] for r in runs)
    out["target_s"] = 3.0
    return out


def meter(args):
    """MFUMeter.update inside a training loop (benchmarks/bench_meter.py has more cases)."""
    import mfu_sym
    model = mfu_sym.load(EXAMPLES / "llama3_8b.yaml")
    meter = mfu_sym.MFUMeter(model, hardware="h100", dtype="bf16", gpus=8, seq_len=8192)
    calls = 20000

    def loop():
        for _ in range(calls):
            meter.update(tokens=8 * 8192, seconds=0.5)
    return {"update_s": median_time(loop, args.repeat) / calls, "target_s": 1e-3}


def versus_flop_counter(args):
    try:
        import transformers  # noqa: F401

        from tests.crosscheck.reference import measure
    except ImportError:
        return {"skipped": "torch or transformers not installed"}
    import mfu_sym
    from transformers.utils import logging
    logging.set_verbosity_error()
    path = EXAMPLES / "hf" / "llama3_8b" / "config.json"
    config = json.loads(path.read_text())
    count = [sys.executable, "-c", "import json, sys; sys.path.insert(0, sys.argv[1]); "
             "from transformers.utils import logging; logging.set_verbosity_error(); "
             "from tests.crosscheck.reference import measure; "
             "measure(json.load(open(sys.argv[2])), batch=1, seq_len=4096, device='meta')", str(ROOT), str(path)]
    derive = CLI + ["derive", str(path), "--preset", "torch", "--seq-len", "4096"]
    run_process(count)
    cold_count, cold_derive = [], []
    for _ in range(max(1, args.repeat // 2)):
        cold_count.append(run_process(count)[0])
        cold_derive.append(run_process(derive)[0])
    warm_count = median_time(lambda: measure(config, batch=1, seq_len=4096, device="meta"), max(1, args.repeat // 2))
    model = mfu_sym.load(path, preset="torch")
    training = model.training()
    points = iter(range(10**6, 10**7))
    warm_evaluate = median_time(lambda: model.evaluate(training, seq_len=next(points)), args.repeat * 40)
    f = model.compile(training, "seq_len")
    warm_compiled = median_time(lambda: f(next(points)), args.repeat * 400)
    t_count, t_derive = statistics.median(cold_count), statistics.median(cold_derive)
    return {"cold_flop_counter_process_s": t_count, "cold_derive_process_s": t_derive,
            "cold_speedup": t_count / t_derive,
            "warm_flop_counter_count_s": warm_count, "warm_evaluate_new_point_s": warm_evaluate,
            "warm_compiled_new_point_s": warm_compiled,
            "warm_speedup_evaluate": warm_count / warm_evaluate, "warm_speedup_compiled": warm_count / warm_compiled,
            "100_lengths_cold_speedup": (t_count + 99 * warm_count) / (t_derive + 99 * warm_evaluate)}


def trace(args):
    """One trace gives the polynomials for every (seq_len, batch); one numeric count gives
    one point. Interleaved, so both see the same machine state."""
    try:
        from transformers.utils import logging

        import mfu_sym
        from tests.crosscheck.reference import measure
    except ImportError:
        return {"skipped": "torch or transformers not installed"}
    logging.set_verbosity_error()
    out = {}
    for name, runs in (("llama3_8b", max(1, args.repeat // 2)), ("deepseek_v3", 1)):
        path = EXAMPLES / "hf" / name / "config.json"
        config = json.loads(path.read_text())
        traced, counted = [], []
        for _ in range(runs):
            traced.append(median_time(lambda: mfu_sym.trace(path), 1))
            counted.append(median_time(lambda: measure(config, batch=1, seq_len=4096, device="meta"), 1))
        t_trace, t_count = statistics.median(traced), statistics.median(counted)
        out[f"{name}_trace_s"] = t_trace
        out[f"{name}_flop_counter_one_point_s"] = t_count
        out[f"{name}_trace_per_point_ratio"] = t_trace / t_count
        out[f"{name}_100_lengths_speedup"] = 100 * t_count / t_trace
    return out


GROUPS = {"cold_start": cold_start, "new_points": new_points, "sweep": sweep, "log": log, "meter": meter,
          "vs_flop_counter": versus_flop_counter, "trace": trace}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--only", nargs="+", choices=list(GROUPS), help="run these groups")
    parser.add_argument("--all-examples", action="store_true", help="cold_start: derive on every example too")
    parser.add_argument("--quick", action="store_true", help="sweep: skip the 10^7-point run")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    results = {}
    for name, group in GROUPS.items():
        if args.only is None or name in args.only:
            print(f"{name} ...", file=sys.stderr)
            results[name] = group(args)
    print(f"{'benchmark':<56}{'value':>16}")
    for group, figures in results.items():
        for key, value in figures.items():
            shown = (f"{value:,.4f}" if isinstance(value, float) and abs(value) >= 1e-3
                     else f"{value:.3g}" if isinstance(value, float) else str(value))
            print(f"{group + '.' + key:<56}{shown:>16}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
