"""Packed documents (--documents, mfu --log with cu_seqlens or ΣL and ΣL²): every count
summed per document, against hand derivations and the closed forms of
../shared/reference/frontier-architectures.md §7."""

import json
import math

import mpmath
import pytest
import sympy

import mfu_sym
from mfu_sym.documents import parse
from mfu_sym.errors import ConfigError, UsageError

from cli_helpers import assert_one_error_line, run, run_json

LLAMA = "examples/llama3_8b.yaml"
MISTRAL = "examples/mistral_7b.yaml"
# Llama-3-8B: 32 layers, 32 heads of 128, 8 KV heads, d 4096, d_ff 14336, V 128256
L, H, DH, KV, D, FF, V = 32, 32, 128, 8, 4096, 14336, 128256
LINEAR = L * (2 * D * DH * (2 * H + 2 * KV) + 6 * D * FF) + 2 * D * V  # forward FLOPs per token, no attention


def causal_core(length):
    """Attention core forward of one causal sequence: 4·h·d_h per key, L(L+1)/2 keys."""
    return L * 4 * H * DH * length * (length + 1) // 2


@pytest.fixture(scope="module")
def llama():
    return mfu_sym.load(LLAMA)


# ------------------------------------------------------------------ a pack, by hand

def test_pack_is_the_sum_over_its_documents(llama):
    report = llama.report(seq_len=8192, batch=2, documents="1024,3072,4096")
    docs = [1024, 3072, 4096]
    core = 2 * sum(causal_core(n) for n in docs)
    assert report["flops"]["components"]["attention_core"]["forward"] == core
    assert report["flops"]["forward"] == 2 * LINEAR * 8192 + core
    assert report["flops"]["training"] == 3 * report["flops"]["forward"]
    assert report["run"]["tokens"] == 2 * 8192
    d = report["documents"]
    assert (d["documents_per_pack"], d["tokens_per_pack"], d["padding_per_pack"]) == (3, 8192, 0)
    assert d["token_weighted_length"] == sympy.Rational(sum(n * n for n in docs), 8192) == 3328


def test_megatron_per_token_attention(llama):
    """frontier-architectures §7: core per token 2·n·d·(ΣL²/ΣL + 1) per layer (causal)."""
    docs = [300, 700, 1000, 2000]
    report = llama.report(seq_len=4096, batch=1, documents=",".join(map(str, docs)))
    per_token = report["flops"]["components"]["attention_core"]["forward"] / sum(docs)
    assert per_token == L * 2 * H * DH * (sympy.Rational(sum(n * n for n in docs), sum(docs)) + 1)


def test_padding_is_apart(llama):
    report = llama.report(seq_len=8192, batch=1, documents="1000x3,2000")
    assert report["run"]["tokens"] == 5000
    assert report["flops"]["forward"] == LINEAR * 5000 + 3 * causal_core(1000) + causal_core(2000)
    assert report["documents"]["padding_per_pack"] == 3192
    assert report["documents"]["padding_flops"]["forward"] == LINEAR * 3192 + causal_core(3192)
    assert report["flops"]["per_token"]["forward"] == report["flops"]["forward"] / 5000


def test_one_document_is_the_unpacked_sequence(llama):
    assert llama.report(seq_len=4096, batch=3, documents="4096")["flops"] == \
        llama.report(seq_len=4096, batch=3)["flops"]


def test_window_inside_each_document():
    """Mistral-7B, W = 4096: W(W+1)/2 + (L - W)·W keys for a document longer than the window."""
    model = mfu_sym.load(MISTRAL)
    window, docs = 4096, [6000, 2000]
    keys = window * (window + 1) // 2 + (6000 - window) * window + 2000 * 2001 // 2
    report = model.report(seq_len=8192, batch=1, documents="6000,2000")
    assert report["flops"]["components"]["attention_core"]["forward"] == 32 * 4 * 32 * 128 * keys
    assert sum(docs) == report["run"]["tokens"]


def test_conventions_apply_per_document():
    """Megatron's half mask per document: ΣL²/2 (its cu_seqlens path)."""
    model = mfu_sym.load(LLAMA, mask="half")
    report = model.report(seq_len=8192, batch=1, documents="1024,3072,4096")
    assert report["flops"]["components"]["attention_core"]["forward"] == \
        L * 4 * H * DH * sum(n * n for n in (1024, 3072, 4096)) // 2


# ------------------------------------------------------------------ files of lengths

def test_lengths_file_fills_the_pack_and_cuts_long_documents(llama, tmp_path):
    path = tmp_path / "lengths.txt"
    path.write_text("# a sample\n1000\n3000\n10000\n")
    report = llama.report(seq_len=8192, batch=1, documents=str(path))
    pieces = [1000, 3000, 8192, 1808]  # 10000 = 8192 + 1808
    expected = 8192 * sympy.Rational(sum(causal_core(n) for n in pieces), sum(pieces))
    assert report["flops"]["components"]["attention_core"]["forward"] == expected
    assert report["flops"]["components"]["mlp"]["forward"] == L * 6 * D * FF * 8192
    assert report["documents"]["documents_per_pack"] == sympy.Rational(8192 * 4, 14000)


@pytest.mark.parametrize("text, name", [
    ("length,count\n1000,3\n2000,1\n", "hist.csv"),
    ("1000\t3\n2000\t1\n", "hist.tsv"),
    ('{"1000": 3, "2000": 1}', "hist.json"),
    ("[1000, 1000, 2000, 1000]", "list.json"),
])
def test_histogram_forms_agree(llama, tmp_path, text, name):
    path = tmp_path / name
    path.write_text(text)
    core = llama.report(seq_len=4096, batch=1, documents=str(path))["flops"]["components"]["attention_core"]
    assert core["forward"] == 4096 * sympy.Rational(3 * causal_core(1000) + causal_core(2000), 5000)


# ------------------------------------------------------------------ distributions

S = 8192


def _eta(documents, pack_len=S):
    """Token-weighted mean length E[L²]/E[L]."""
    return parse(documents).summary(pack_len)["token_weighted_length"]


def test_uniform_closed_form():
    assert _eta("uniform:min=0,max=8192") == sympy.Rational(2 * S, 3)  # §7: uniform on [0, S] -> 2S/3
    a, b = 512, 4096
    assert _eta(f"uniform:min={a},max={b}") == sympy.Rational(2 * (b**3 - a**3), 3 * (b**2 - a**2))


def test_exponential_closed_form():
    """Truncated at S: (2μ² - e^{-S/μ}(S² + 2Sμ + 2μ²)) / (μ - e^{-S/μ}(S + μ)); 2μ as S -> ∞."""
    mu = 1024
    q = sympy.exp(-sympy.Rational(S, mu))
    hand = (2 * mu**2 - q * (S**2 + 2 * S * mu + 2 * mu**2)) / (mu - q * (S + mu))
    assert sympy.simplify(_eta(f"exponential:mean={mu}") - hand) == 0
    assert abs(float(_eta("exponential:mean=1024", 10**7)) - 2048) < 1e-9


def test_lognormal_against_numeric_integration():
    m, sigma = mpmath.mpf("6.5"), mpmath.mpf("1.1")
    pdf = lambda x: mpmath.exp(-(mpmath.log(x) - m) ** 2 / (2 * sigma**2)) / (x * sigma * mpmath.sqrt(2 * mpmath.pi))
    numeric = mpmath.quad(lambda x: x * x * pdf(x), [0, 665, S]) / mpmath.quad(lambda x: x * pdf(x), [0, 665, S])
    assert abs(float(_eta("lognormal:mu=6.5,sigma=1.1")) - float(numeric)) < 1e-6
    # untruncated: exp(m + 1.5σ²) (§7)
    assert math.isclose(float(_eta("lognormal:mu=6.5,sigma=1.1", 10**12)), math.exp(6.5 + 1.5 * 1.21), rel_tol=1e-9)


def test_distribution_cost_is_the_expectation(llama):
    """Linear terms bill the pack's S tokens exactly; the core is S · (E[L²] + E[L]) / (2 E[L])."""
    report = llama.report(seq_len=S, batch=1, documents="uniform:min=0,max=8192")
    assert report["flops"]["components"]["mlp"]["forward"] == L * 6 * D * FF * S
    core = L * 4 * H * DH * S * (sympy.Rational(2 * S, 3) + 1) / 2
    assert report["flops"]["components"]["attention_core"]["forward"] == core


def test_distribution_within_a_window_matches_numeric_integration():
    model = mfu_sym.load(MISTRAL)
    report = model.report(seq_len=S, batch=1, documents="exponential:mean=3000")
    mu, w = 3000, 4096
    keys = lambda x: x * (x + 1) / 2 if x <= w else w * (w + 1) / 2 + (x - w) * w
    pdf = lambda x: mpmath.exp(-x / mu) / mu
    per_pack = S * mpmath.quad(lambda x: keys(x) * pdf(x), [0, w, S]) / mpmath.quad(lambda x: x * pdf(x), [0, S])
    core = float(report["flops"]["components"]["attention_core"]["forward"])
    assert math.isclose(core, float(32 * 4 * 32 * 128 * per_pack), rel_tol=1e-12)


# ------------------------------------------------------------------ the command line

def test_derive_json_reports_the_documents():
    out = run_json("derive", LLAMA, "--seq-len", 8192, "--documents", "1024,3072,4000")
    assert out["run"]["tokens"] == 8096
    assert out["documents"]["padding_per_pack"] == 96
    assert out["flops"]["components"]["attention_core"]["forward"] == sum(causal_core(n) for n in (1024, 3072, 4000))
    assert any("per document" in note for note in out["notes"])


def test_derive_text_names_the_packing():
    result = run("derive", LLAMA, "--seq-len", 8192, "--documents", "exponential:mean=1024")
    assert result.exit_code == 0, result.output
    assert "Packed documents: exponential:mean=1024" in result.output and "per pack" in result.output


def test_mfu_with_documents_counts_real_tokens(llama):
    out = run_json("mfu", LLAMA, "--hardware", "h100", "--gpus", 8, "--seq-len", 8192, "--step-time", 2,
                   "--batch", 4, "--documents", "1000x4,4000")
    docs = [1000] * 4 + [4000]
    flops = 4 * 3 * (LINEAR * 8000 + sum(causal_core(n) for n in docs))
    assert out["run"]["tokens_per_sec"] == 4 * 8000 / 2
    assert math.isclose(out["mfu"], flops / 2 / (8 * 989e12), rel_tol=1e-12)


def _log(tmp_path, rows, name="log.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_log_cu_seqlens_and_sums_give_each_steps_mfu(tmp_path):
    steps = [[1024, 3072, 4096, 2048, 6144], [8192, 8192], [100] * 80 + [8192]]
    rows = []
    for i, docs in enumerate(steps):
        offsets = [0]
        for n in docs:
            offsets.append(offsets[-1] + n)
        rows.append({"step": i, "time": 1.5 + i, "cu": offsets, "sl": sum(docs), "sq": sum(n * n for n in docs)})
    path = _log(tmp_path, rows)
    base = ["mfu", LLAMA, "--hardware", "b200", "--gpus", 4, "--seq-len", 8192, "--log", path,
            "--log-column", "time", "--log-kind", "step-time", "--per-step"]
    by_cu = run_json(*base, "--log-cu-seqlens", "cu")["steps"]
    by_sums = run_json(*base, "--log-sum-len", "sl", "--log-sum-sq-len", "sq")["steps"]
    for step, docs, a, b in zip(rows, steps, by_cu, by_sums):
        flops = 3 * (LINEAR * sum(docs) + sum(causal_core(n) for n in docs))
        assert a["mfu"] == b["mfu"] == float(sympy.Rational(flops) / (sympy.Rational(step["time"]) * 4 * 2250 * 10**12))
        assert a["tokens_per_sec"] == sum(docs) / step["time"]


def test_log_tokens_per_sec_kind_uses_the_documents_tokens(tmp_path):
    path = _log(tmp_path, [{"tps": 5000.0, "cu": [0, 1000, 5000]}])
    out = run_json("mfu", LLAMA, "--hardware", "h100", "--seq-len", 8192, "--log", path, "--log-column", "tps",
                   "--log-cu-seqlens", "cu", "--per-step")
    flops = 3 * (LINEAR * 5000 + causal_core(1000) + causal_core(4000))
    assert math.isclose(out["steps"][0]["mfu"], flops / 1.0 / 989e12, rel_tol=1e-12)  # 5000 tokens in 1 s


def test_log_cu_seqlens_in_csv(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text('time,cu\n2.0,"[0, 1024, 4096]"\n2.0,0 2048 4096\n')
    out = run_json("mfu", LLAMA, "--hardware", "h100", "--seq-len", 4096, "--log", path, "--log-column", "time",
                   "--log-kind", "step-time", "--log-cu-seqlens", "cu", "--per-step")
    first = 3 * (LINEAR * 4096 + causal_core(1024) + causal_core(3072))
    assert math.isclose(out["steps"][0]["mfu"], first / 2 / 989e12, rel_tol=1e-12)


# ------------------------------------------------------------------ errors

@pytest.mark.parametrize("spec, message", [
    ("0", "is not a document length"),
    ("1024,0", "is not a document length"),
    ("1024x0", "is not a document length"),
    ("gamma:shape=2", "unknown distribution"),
    ("exponential:mean=0", "is not positive"),
    ("exponential:scale=5", "has no parameter 'scale'"),
    ("exponential:mean", "is not NAME=VALUE"),
    ("exponential:mean=1,mean=2", "given twice"),
    ("uniform:min=5,max=2", "min must be below max"),
    ("uniform:min=-1,max=2", "is negative"),
    ("lognormal:mu=1", "needs sigma"),
    ("lognormal:mu=1,sigma=nan", "not a finite number"),
    ("lognormal:mu=100,sigma=1", "out of range"),
    ("no/such/file.txt", "no such file"),
    ("1024,,2048", "is not a list of document lengths"),
    ("1024x", "is not a list of document lengths"),
    ("-5", "is not a list of document lengths"),
    ("1e3", "is not a list of document lengths"),
    ("exponential:mean=0.5", "below one token"),
    ("uniform:min=0,max=0.5", "below one token"),
    ("", "expected lengths"),
])
def test_bad_specs(spec, message):
    with pytest.raises(UsageError, match=message):
        parse(spec)


@pytest.mark.parametrize("text, message", [
    ("", "no document lengths"),
    ("1000\nabc\n", "line 2"),
    ("1000,2,3\n", "3 fields"),
    ("1000,0\n", "count"),
    ("[1, -2]", "not a document length"),
    ("[1, 2", "invalid JSON"),
    ('"text"', "expected a JSON list"),
])
def test_bad_files(tmp_path, text, message):
    path = tmp_path / ("lengths.json" if text[:1] in ("[", '"') else "lengths.txt")
    path.write_text(text)
    with pytest.raises((UsageError, ConfigError), match=message):
        parse(str(path))


def test_documents_must_fit_the_pack():
    assert_one_error_line(run("derive", LLAMA, "--seq-len", 4096, "--documents", "4000,100"), "documents",
                          "more than the sequence length 4,096")


def test_chunked_attention_is_refused(tmp_path):
    config = {"model_type": "llama4_text", "hidden_size": 64, "intermediate_size": 96, "intermediate_size_mlp": 128,
              "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
              "vocab_size": 128, "num_local_experts": 2, "attention_chunk_size": 8}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    assert_one_error_line(run("derive", path, "--seq-len", 32, "--documents", "16,16"), "documents",
                          "chunked-attention layers")


def test_chunked_scan_has_no_closed_form_under_a_distribution():
    result = run("derive", "examples/hf/qwen3_next_80b_a3b/config.json", "--seq-len", 4096, "--documents",
                 "exponential:mean=512")
    assert result.exit_code == 1 and result.output.strip().splitlines()[-1].startswith("Error: documents: ")
    assert "ceiling(L / chunk)" in result.output and "Traceback" not in result.output
    ok = run("derive", "examples/hf/qwen3_next_80b_a3b/config.json", "--seq-len", 4096, "--documents", "100,3000")
    assert ok.exit_code == 0, ok.output


def test_capacity_factor_with_documents_is_refused():
    result = run("derive", "examples/mixtral_8x7b.yaml", "--seq-len", 4096, "--documents", "2048x2",
                 "--capacity-factor", "1.25")
    assert_one_error_line(result, "capacity_factor", "not modelled for packed documents")


def test_documents_in_a_latex_fragment_are_refused():
    result = run("derive", LLAMA, "--seq-len", 4096, "--documents", "2048x2", "--format", "latex")
    assert result.exit_code == 2 and "--documents applies to the text and JSON output" in result.output


def test_sums_need_a_quadratic_cost(tmp_path):
    path = _log(tmp_path, [{"t": 1.0, "sl": 5000, "sq": 17000000}])
    result = run("mfu", MISTRAL, "--hardware", "h100", "--seq-len", 8192, "--log", path, "--log-column", "t",
                 "--log-kind", "step-time", "--log-sum-len", "sl", "--log-sum-sq-len", "sq")
    assert_one_error_line(result, "sl", "log the documents' cu_seqlens")


@pytest.mark.parametrize("row, columns, message", [
    ({"t": 1.0, "cu": [1, 5]}, ("--log-cu-seqlens", "cu"), "starts at 1"),
    ({"t": 1.0, "cu": [0, 5, 3]}, ("--log-cu-seqlens", "cu"), "decreases"),
    ({"t": 1.0, "cu": "x"}, ("--log-cu-seqlens", "cu"), "not a list of offsets"),
    ({"t": 1.0, "cu": [0, 1.5]}, ("--log-cu-seqlens", "cu"), "not an integer offset"),
    ({"t": 1.0, "cu": [0, 0]}, ("--log-cu-seqlens", "cu"), "holds no token"),
    ({"t": 1.0}, ("--log-cu-seqlens", "cu"), "no cu"),
    ({"t": 1.0, "sl": 10, "sq": 5}, ("--log-sum-len", "sl", "--log-sum-sq-len", "sq"), "impossible"),
    ({"t": 1.0, "sl": -1, "sq": 5}, ("--log-sum-len", "sl", "--log-sum-sq-len", "sq"), "not a positive integer"),
])
def test_bad_document_columns(tmp_path, row, columns, message):
    path = _log(tmp_path, [row])
    result = run("mfu", LLAMA, "--hardware", "h100", "--seq-len", 8192, "--log", path, "--log-column", "t",
                 "--log-kind", "step-time", *columns)
    assert_one_error_line(result, "line 1", message)


@pytest.mark.parametrize("extra, message", [
    (("--log-sum-len", "sl"), "come together"),
    (("--log-cu-seqlens", "cu", "--log-sum-len", "sl", "--log-sum-sq-len", "sq"), "either the cu_seqlens"),
    (("--log-cu-seqlens", "cu", "--documents", "100"), "not both"),
])
def test_document_columns_usage(tmp_path, extra, message):
    path = _log(tmp_path, [{"t": 1.0, "cu": [0, 5], "sl": 5, "sq": 25}])
    result = run("mfu", LLAMA, "--hardware", "h100", "--seq-len", 8192, "--log", path, "--log-column", "t",
                 "--log-kind", "step-time", *extra)
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output


def test_document_columns_need_a_log():
    result = run("mfu", LLAMA, "--hardware", "h100", "--tokens-per-sec", 1000, "--log-cu-seqlens", "cu")
    assert result.exit_code == 2 and "apply only with --log" in result.output


# ------------------------------------------------------------------ budget, and the commands that refuse

def test_budget_steps_count_real_tokens():
    out = run_json("budget", LLAMA, "--tokens", "1e12", "--seq-len", 8192, "--batch", 64, "--documents", "1000x8")
    assert out["steps"] == -(-10**12 // (64 * 8000))
    per_token = sympy.Rational(3 * (LINEAR * 8000 + 8 * causal_core(1000)), 8000)
    assert sympy.Rational(out["flops_per_token"]) == per_token
    assert out["run"]["documents"]["tokens_per_pack"] == 8000


def test_budget_under_a_distribution():
    out = run_json("budget", LLAMA, "--flops", "1e23", "--seq-len", 8192, "--batch", 512, "--documents",
                   "uniform:min=0,max=8192")
    per_token = 3 * (LINEAR + L * 2 * H * DH * (sympy.Rational(2 * 8192, 3) + 1))
    assert out["steps"] == math.ceil(sympy.Rational(10**23) / (per_token * 512 * 8192))


@pytest.mark.parametrize("command, args", [
    ("analyze", ()), ("latex", ()), ("reconcile", ()),
    ("memory", ("--seq-len", 1024)), ("infer", ("--context", 1024)), ("plot", ("-o", "x.png")),
])
def test_commands_that_refuse_documents(command, args):
    result = run(command, LLAMA, *args, "--documents", "512x2")
    assert result.exit_code == 2 and f"--documents does not apply to {command}:" in result.output


# ------------------------------------------------------------------ closed forms in the parameters

@pytest.mark.parametrize("spec, values", [
    ("exponential:mean=1024", {"mean_length": 1024}),
    ("uniform:min=128,max=4096", {"min_length": 128, "max_length": 4096}),
    ("lognormal:mu=6.5,sigma=1.1", {"log_mu": sympy.Rational(13, 2), "log_sigma": sympy.Rational(11, 10)}),
])
def test_closed_form_evaluates_to_the_figures(llama, spec, values):
    report = llama.report(seq_len=8192, batch=1, documents=spec)
    forms = report["documents"]["per_token_forward"]
    at = {sympy.Symbol(k, **({"real": True} if k == "log_mu" else {"positive": True} if k != "min_length"
                             else {"nonnegative": True})): v for k, v in values.items()}
    at[llama.seq_len] = sympy.Integer(8192)
    for name, key in (("attention_core", "attention_core"), ("total", None)):
        number = report["flops"]["components"][key]["forward"] if key else report["flops"]["forward"]
        assert abs(float(forms[name].xreplace(at)) - float(number / 8192)) <= 1e-9 * float(number / 8192)


def test_exponential_closed_form_is_mu_plus_one_half_untruncated(llama):
    """Causal core per token 2·n·d·L·(E[L²]/E[L] + 1)/2·... : as S -> ∞, (2μ + 1)/2 keys a token."""
    form = llama.report(seq_len=8192, documents="exponential:mean=1024")["documents"]["per_token_forward"]
    mu = sympy.Symbol("mean_length", positive=True)
    limit = sympy.limit(form["attention_core"], llama.seq_len, sympy.oo)
    assert sympy.simplify(limit - L * 4 * H * DH * (2 * mu + 1) / 2) == 0


def test_no_closed_form_with_windows():
    report = mfu_sym.load(MISTRAL).report(seq_len=8192, documents="exponential:mean=1024")
    assert "per_token_forward" not in report["documents"]


def test_sweep_sums_each_point_over_the_pack():
    import csv
    import io
    result = run("sweep", LLAMA, "--seq-len", "8192,9000", "--batch", "1,4", "--documents", "1024,3072,4096",
                 "--no-components")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    per_pack = 3 * (LINEAR * 8192 + sum(causal_core(n) for n in (1024, 3072, 4096)))
    assert [int(r["training_per_step"]) for r in rows] == [per_pack, 4 * per_pack] * 2
    assert float(rows[0]["training_per_token"]) == per_pack / 8192


@pytest.mark.parametrize("spec, message", [
    ("exponential:mean=1024", "a sweep takes the documents of a pack"),
    ("9000", "more than the sequence length 8,192"),
])
def test_sweep_refuses(spec, message):
    result = run("sweep", LLAMA, "--seq-len", "8192,16384", "--documents", spec)
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output


def test_meter_sums_a_steps_documents(tmp_path):
    """MFUMeter.update(documents=...) in a training loop equals mfu --log with cu_seqlens."""
    docs = [1024, 3072, 4096, 2048, 6144]
    offsets = [0]
    for n in docs:
        offsets.append(offsets[-1] + n)
    path = _log(tmp_path, [{"time": 1.5, "cu": offsets}])
    cli = run_json("mfu", LLAMA, "--hardware", "b200", "--gpus", 4, "--seq-len", 8192, "--log", path,
                   "--log-column", "time", "--log-kind", "step-time", "--log-cu-seqlens", "cu", "--per-step")
    meter = mfu_sym.MFUMeter(mfu_sym.load(LLAMA), hardware="b200", gpus=4, seq_len=8192)
    assert meter.update(tokens=sum(docs), seconds=1.5, documents=docs) == pytest.approx(cli["steps"][0]["mfu"],
                                                                                          rel=1e-12)
    with pytest.raises(UsageError, match="not the step's"):
        meter.update(tokens=100, seconds=1.0, documents=docs)
    with pytest.raises(UsageError, match="positive integers"):
        meter.update(tokens=5, seconds=1.0, documents=[2.5, 2.5])
    with pytest.raises(UsageError, match="not both"):
        meter.update(tokens=5, seconds=1.0, documents=[5], seq_len=5)
