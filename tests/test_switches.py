"""Every switch a command accepts changes what it prints; one that would change nothing
(a part the model lacks, a quantity the command does not report) is refused."""

import pytest

from cli_helpers import run

LLAMA, DEEPSEEK = "examples/llama3_8b.yaml", "examples/deepseek_v3.yaml"
# each command with the arguments it needs to run
COMMANDS = {
    "derive": ["--format", "json"],
    "mfu": ["--hardware", "h100", "--gpus", "8", "--tokens-per-sec", "60000", "--format", "json"],
    "sweep": ["--seq-len", "1024,8192"],
    "latex": ["--format", "markdown"],
    "analyze": ["--format", "json"],
    "reconcile": ["--format", "json"],
    "budget": ["--tokens", "1e12", "--format", "json"],
    "memory": ["--seq-len", "4096", "--format", "json"],
    "infer": ["--context", "4096", "--format", "json"],
}
SWITCHES = {  # a value that differs from the exact preset's
    "--mask": ("full", LLAMA), "--attention-kernel": ("flash", LLAMA), "--recompute": ("selective", LLAMA),
    "--nonmatmul": (None, LLAMA), "--mla": ("absorbed", DEEPSEEK), "--mtp": (None, DEEPSEEK),
}
REFUSED = {
    ("memory", "--mask"), ("memory", "--nonmatmul"), ("memory", "--mla"),
    ("infer", "--attention-kernel"), ("infer", "--recompute"),
    # model FLOPs only, and the exact preset does not count recomputation in them
    ("latex", "--recompute"), ("analyze", "--recompute"), ("reconcile", "--recompute"), ("budget", "--recompute"),
}


def _args(switch):
    value, model = SWITCHES[switch]
    return model, [switch] if value is None else [switch, value]


@pytest.mark.parametrize("switch", list(SWITCHES))
@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_accepted_switch_changes_the_output(command, switch):
    model, extra = _args(switch)
    base = run(command, model, *COMMANDS[command])
    assert base.exit_code == 0, base.output
    changed = run(command, model, *COMMANDS[command], *extra)
    if (command, switch) in REFUSED:
        assert changed.exit_code == 2, changed.output
        assert "Traceback" not in changed.output and switch in changed.output
    else:
        assert changed.exit_code == 0, changed.output
        assert changed.stdout != base.stdout, f"{command} {' '.join(extra)} changed nothing"


@pytest.mark.parametrize("args, message", [
    (["derive", LLAMA, "--mla", "absorbed"], "no multi-head latent attention"),
    (["derive", LLAMA, "--mtp"], "no multi-token-prediction modules"),
    (["derive", LLAMA, "--no-mtp"], "no multi-token-prediction modules"),
    (["derive", LLAMA, "--preset", "6n", "--nonmatmul"], "counts 2 FLOPs per parameter"),
    (["derive", LLAMA, "--preset", "6n", "--mask", "half"], "has no attention term"),
    (["memory", LLAMA, "--mask", "full"], "does not apply to memory"),
    (["memory", LLAMA, "--seq-len", "8", "--sdpa", "--attention-kernel", "eager"], "cannot be combined"),
    (["infer", LLAMA, "--context", "8", "--recompute", "full"], "does not apply to infer"),
    (["budget", LLAMA, "--tokens", "1e9", "--recompute", "full"], "does not report"),
])
def test_idle_switches_are_refused(args, message):
    result = run(*args)
    assert result.exit_code == 2 and message in result.output, result.output


def test_recompute_counts_where_the_convention_counts_it():
    # Narayanan et al. 2021 count the recomputed forward in model FLOPs: the switch applies
    base = run("budget", LLAMA, "--tokens", "1e9", "--preset", "megatron-2021", "--format", "json")
    other = run("budget", LLAMA, "--tokens", "1e9", "--preset", "megatron-2021", "--recompute", "selective",
                "--format", "json")
    assert base.exit_code == other.exit_code == 0 and base.stdout != other.stdout


def test_sweep_and_derive_report_hardware_flops_with_recompute():
    sweep = run("sweep", LLAMA, "--seq-len", "8192", "--recompute", "full", "--no-components").stdout
    header, row = sweep.splitlines()
    assert "hardware_training_per_step" in header.split(",")
    derive = run("derive", LLAMA, "--recompute", "full").stdout
    assert "with full recomputation" in derive
