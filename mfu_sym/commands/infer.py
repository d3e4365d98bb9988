"""`mfu-sym infer`: prefill, decode, KV cache, bytes moved and the roofline; MBU."""

import click

from ..cli import build_model, main, model_options
from ..render import printable
from .types import POSITIVE, SIZE


@main.command()
@model_options(command="infer")
@click.option("--context", type=SIZE, required=True,
              help="keys a decode step attends to, the new token included (min(C, W) on window layers)")
@click.option("--prompt-len", type=SIZE,
              help="prompt tokens of the prefill (default: the context); the generation decodes P+1 .. C")
@click.option("--batch", type=SIZE,
              help="sequences decoded together (default: the model file's, or 1)")
@click.option("--dtype", default="bf16", show_default=True,
              help="dtype the weights are stored in (bf16, fp8, int4, ...)")
@click.option("--kv-dtype", help="dtype of the KV cache (default: --dtype)")
@click.option("--hardware", metavar="NAME",
              help="accelerator for the roofline (h100, b200, ...; `mfu-sym hardware list`)")
@click.option("--gpus", type=SIZE, default=1, show_default=True,
              help="devices serving the model together (peak and bandwidth add up)")
@click.option("--peak-dtype", help="dtype of the compute peak (default: --dtype)")
@click.option("--experts-touched", type=click.Choice(["expected", "all"]), default="expected", show_default=True,
              help="MoE weights a decode step reads: expected distinct experts (uniform routing) or all")
@click.option("--decode-tokens-per-sec", type=POSITIVE,
              help="measured decode throughput, all sequences: gives MBU and the decode MFU (needs --hardware)")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def infer(model_file, context, prompt_len, batch, dtype, kv_dtype, hardware, gpus, peak_dtype, experts_touched,
          decode_tokens_per_sec, fmt, **switches):
    """Prefill and decode FLOPs, KV cache, bytes moved and roofline of MODEL.

    A decode step at --context C attends to C keys (min(C, W) on sliding-window layers)
    and reads every weight once plus the KV cache; the roofline says whether it is
    compute- or memory-bound on --hardware and the tokens/s ceiling that follows.
    --mla picks naive MLA (kv_b_proj re-applied to every cached latent, as transformers
    runs it) or absorbed.

    \b
    Examples:
        mfu-sym infer examples/llama3_8b.yaml --context 8192 --hardware h100
        mfu-sym infer examples/deepseek_v3.yaml --context 4096 --prompt-len 1024 \\
            --batch 64 --dtype fp8 --mla absorbed --hardware h200 --gpus 8
        mfu-sym infer examples/llama3_8b.yaml --context 4096 --hardware h100 \\
            --decode-tokens-per-sec 180 --format json
    """
    if prompt_len is not None and prompt_len > context:
        raise click.BadParameter(f"the prompt ({prompt_len:,} tokens) is longer than the context ({context:,})",
                                 param_hint="--prompt-len")
    if decode_tokens_per_sec is not None and hardware is None:
        raise click.UsageError("--decode-tokens-per-sec needs --hardware (MBU divides by its bandwidth)")
    from ..inference import Inference
    model = build_model(model_file, **switches)
    inference = Inference(model, dtype=dtype, kv_dtype=kv_dtype, experts=experts_touched)
    report = inference.report(context, prompt_len=prompt_len, batch=batch, hardware=hardware, gpus=gpus,
                              peak_dtype=peak_dtype, decode_tokens_per_sec=decode_tokens_per_sec)
    if fmt == "json":
        import json
        click.echo(json.dumps(to_json(report), indent=2))
    else:
        click.echo(to_text(report, inference, model_file))


def to_json_value(value):
    """JSON-safe: exact integers stay integers, fractions become "p/q" text, floats,
    text and booleans pass through."""
    from ..export import exact
    if isinstance(value, dict):
        return {k: to_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(v) for v in value]
    if isinstance(value, (bool, str, float)) or value is None:
        return value
    return exact(value)


def to_json(report):
    """The `infer --format json` object; the decode step's arithmetic intensity is also
    given as a float (it is read as a number, not checked exactly)."""
    out = to_json_value(report)
    out["decode_step"]["arithmetic_intensity"] = float(report["decode_step"]["arithmetic_intensity"])
    return out


# ------------------------------------------------------------------ text

def _bytes(value):
    value = float(value)
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if value >= scale:
            return f"{value / scale:,.3f} {unit}"
    return f"{value:g} B"


def _rate(value):
    return f"{value:,.0f}" if value >= 100 else f"{value:.4g}"


def _seconds(value):
    for unit, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if value >= scale:
            return f"{value / scale:.4g} {unit}"
    return f"{value:.3g} s"


def to_text(r, inference, source=None):
    from ..export import grouped, short
    run, kv, pre, dec, gen = r["run"], r["kv_cache"], r["prefill"], r["decode_step"], r["generation"]
    f = r["formulas"]
    model = inference.model
    arch = model.arch
    b, C, P = run["batch"], run["context"], run["prompt_len"]
    lines = [f"Inference: {r['model']}" + (f"  ({printable(source)})" if source else ""),
             f"  context {C:,}, prompt {P:,}, batch {b:,}; weights {run['dtype']} "
             f"({inference.weight_dtype.bits} bits an element), KV cache {run['kv_dtype']} "
             f"({inference.kv_dtype.bits} bits an element)", ""]
    w = 24
    lines += ["Memory",
              f"  {'weights':<{w}}{grouped(r['weights_bytes']):>22} bytes  {_bytes(r['weights_bytes']):>11}   "
              f"{grouped(r['params'])} params, all resident",
              f"    = {f['weights_bytes']}",
              f"  {'KV cache per token':<{w}}{grouped(kv['per_token']):>22} bytes  {_bytes(kv['per_token']):>11}   "
              f"{grouped(kv['elements_per_token'])} elements, all {arch.n_layers} layers ({', '.join(kv['layout'])})",
              f"    = {f['kv_cache_bytes_per_token']}",
              f"  {'KV cache at context':<{w}}{grouped(kv['total']):>22} bytes  {_bytes(kv['total']):>11}   "
              + ", ".join(f"{grouped(n)} positions a {k} layer" for k, n in kv["positions_per_layer"].items())
              + f"; batch {b:,}",
              f"    = {f['kv_cache_bytes']}", ""]
    lines += [f"Prefill: {pre['tokens']:,} tokens (batch {b:,} x prompt {P:,}), mask {model.conventions.mask}",
              f"  {'FLOPs':<{w}}{grouped(pre['flops']):>22}  ({short(pre['flops'])}FLOP; "
              f"{grouped(pre['flops_per_token'])} per token)",
              f"    = {f['prefill_flops']}",
              f"  {'bytes (at least)':<{w}}{grouped(pre['bytes']):>22}  (weights read + the KV cache written)", ""]
    lines += [f"Decode step at context {C:,} (batch {b:,}; attention over the cached keys + 1)",
              f"  {'FLOPs':<{w}}{grouped(dec['flops']):>22}  ({short(dec['flops'])}FLOP; "
              f"{grouped(dec['flops_per_token'])} per token)",
              f"    = {f['decode_step_flops']}",
              f"  {'bytes':<{w}}{grouped(dec['bytes']):>22}  = weights read {grouped(dec['bytes_weights'])} "
              f"+ KV cache read {grouped(dec['bytes_kv'])}",
              f"  {'arithmetic intensity':<{w}}{float(dec['arithmetic_intensity']):>22.4g}  FLOP/byte"]
    if "experts_touched" in dec:
        e = dec["experts_touched"]
        how = ("expected distinct experts per MoE layer under uniform top-k routing, E(1 - (1 - k/E)^b)"
               if e["assumption"] == "expected" else "all experts (--experts-touched all)")
        lines.append(f"  {'experts read':<{w}}{float(e['per_moe_layer']):>22.4g}  of {e['n_experts']} "
                     f"a layer: {how}; between {e['min']} and {e['max']}")
    if model.arch.mla:
        lines.append(f"  MLA {model.conventions.mla}: " + (
            "kv_b_proj re-applied to the C - 1 cached latents every step (as transformers runs it)"
            if model.conventions.mla == "naive" else "attention in the latent space (up-projections absorbed)"))
    lines.append("")
    if gen["decode_steps"]:
        lines += [f"Generation: prefill {P:,}, then {gen['decode_steps']:,} decode steps at contexts "
                  f"{P + 1:,} .. {C:,}",
                  f"  {'FLOPs':<{w}}{grouped(gen['flops']):>22}  (prefill {grouped(gen['prefill_flops'])} + "
                  f"decode {grouped(gen['decode_flops'])})",
                  f"  {'decode bytes':<{w}}{grouped(gen['decode_bytes']):>22}  ({_bytes(gen['decode_bytes'])})", ""]
    else:
        lines += ["Generation: the prompt fills the context, no decode steps (give --prompt-len below --context)", ""]
    if "roofline" in r:
        lines += _roofline_text(r, w)
    lines.append(f"  counted under: matmul FLOPs (2 per multiply-add); prefill mask {model.conventions.mask}; "
                 f"decode keys = cached + 1 (window-aware)" + (f"; MLA {model.conventions.mla}" if arch.mla else ""))
    lines.append("  bytes: weights read once a step (embedding tables only at the looked-up rows), KV cache read; "
                 "activations and logits not counted")
    return "\n".join(lines)


def _roofline_text(r, w):
    roof = r["roofline"]
    hw = roof["hardware"]
    b = r["run"]["batch"]
    rows = [("decode step", roof["decode_step"]), ("prefill", roof["prefill"])]
    lines = [f"Roofline on {hw['gpus']:,} x {hw['name']}: {hw['peak_dtype']} dense "
             f"{_rate(hw['peak_flops_per_sec'] / 1e12)} TFLOP/s, {_rate(hw['bandwidth_bytes_per_sec'] / 1e9)} GB/s "
             f"(ridge point {roof['ridge_point']:,.1f} FLOP/byte)",
             f"  {'':<14}{'compute >=':>14}{'memory >=':>14}{'FLOP/byte':>12}   bound     ceiling"]
    for label, row in rows:
        ceiling = f"{row['tokens_per_sec']:,.1f} tokens/s"
        if label == "decode step":
            ceiling += f" (batch {b:,}; {row['tokens_per_sec_per_sequence']:,.1f} per sequence)"
        else:
            ceiling += f" (time to first token >= {_seconds(row['time_s'])})"
        lines.append(f"  {label:<14}{_seconds(row['compute_s']):>14}{_seconds(row['memory_s']):>14}"
                     f"{row['arithmetic_intensity']:>12.4g}   {row['bound'] + '-bound':<14} {ceiling}")
    need = r["weights_bytes"] + r["kv_cache_bytes"]
    lines.append(f"  weights + KV cache {_bytes(need)} of {_bytes(hw['memory_bytes'])}: "
                 + ("fits" if roof["fits"] else "does NOT fit"))
    lines.append(f"  peak: {hw['peak_sources'][0]}")
    lines.append(f"  bandwidth: {hw['bandwidth_sources'][0]}")
    if "measured" in r:
        m = r["measured"]
        lines.append(f"Measured decode: {m['decode_tokens_per_sec']:,.6g} tokens/s "
                     f"({_seconds(m['step_time_s'])} a step)")
        lines.append(f"  {'MBU':<{w}}{m['mbu']:>10.2%}  ({m['achieved_bandwidth_bytes_per_sec'] / 1e9:,.1f} GB/s "
                     f"of {hw['bandwidth_bytes_per_sec'] / 1e9:,.1f} GB/s; Agarwal et al. 2023)")
        lines.append(f"  {'decode MFU':<{w}}{m['mfu']:>10.2%}  ({m['achieved_flops_per_sec'] / 1e12:,.4g} TFLOP/s "
                     f"of {hw['peak_flops_per_sec'] / 1e12:,.4g})")
    lines.append("")
    return lines
