"""Text of `infer`: memory, prefill, decode step, generation and the roofline."""

from .escape import printable
from .units import flops as si_flops
from .units import grouped, nbytes, percent, seconds, significant


def infer(r, inference, source=None):
    """An Inference.report as text; `inference` gives the dtypes and the model."""
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
              f"  {'weights':<{w}}{grouped(r['weights_bytes']):>22} bytes  {nbytes(r['weights_bytes']):>11}   "
              f"{grouped(r['params'])} params, all resident",
              f"    = {f['weights_bytes']}",
              f"  {'KV cache per token':<{w}}{grouped(kv['per_token']):>22} bytes  {nbytes(kv['per_token']):>11}   "
              + (f"{grouped(kv['elements_per_token'])} elements, "
                 + (f"all {arch.n_layers} layers" if kv["kv_layers"] == arch.n_layers
                    else f"{kv['kv_layers']:,} of {arch.n_layers} layers")
                 + f" ({', '.join(kv['kv_layout'])})" if kv["kv_layers"] else "no layer keeps keys and values"),
              f"    = {f['kv_cache_bytes_per_token']}",
              f"  {'KV cache at context':<{w}}{grouped(kv['total']):>22} bytes  {nbytes(kv['total']):>11}   "
              + ", ".join([f"{grouped(n)} positions a {k} layer" for k, n in kv["positions_per_layer"].items()]
                          + (["the states"] if kv["state_layers"] else []))
              + f"; batch {b:,}",
              f"    = {f['kv_cache_bytes']}", ""]
    if kv["state_layers"]:  # linear-attention and state-space layers: a fixed state, no positions
        lines[-1:-1] = [f"  {'states per sequence':<{w}}{grouped(kv['state_bytes_per_sequence']):>22} bytes  "
                        f"{nbytes(kv['state_bytes_per_sequence']):>11}   "
                        f"{grouped(kv['state_elements_per_sequence'])} elements, {kv['state_layers']:,} of "
                        f"{arch.n_layers} layers ({', '.join(kv['state_layout'])}), the same at every context"]
    lines += [f"Prefill: {pre['tokens']:,} tokens (batch {b:,} x prompt {P:,}), mask {model.conventions.mask}",
              f"  {'FLOPs':<{w}}{grouped(pre['flops']):>22}  ({si_flops(pre['flops'])}; "
              f"{grouped(pre['flops_per_token'])} per token)",
              f"    = {f['prefill_flops']}",
              f"  {'bytes (at least)':<{w}}{grouped(pre['bytes']):>22}  (weights read + the KV cache written)", ""]
    lines += [f"Decode step at context {C:,} (batch {b:,}; attention over the cached keys + 1)",
              f"  {'FLOPs':<{w}}{grouped(dec['flops']):>22}  ({si_flops(dec['flops'])}; "
              f"{grouped(dec['flops_per_token'])} per token)",
              f"    = {f['decode_step_flops']}",
              f"  {'bytes':<{w}}{grouped(dec['bytes']):>22}  = weights read {grouped(dec['bytes_weights'])} "
              f"+ KV cache read {grouped(dec['bytes_kv'])}",
              f"  {'arithmetic intensity':<{w}}{significant(dec['arithmetic_intensity']):>22}  FLOP/byte"]
    if "experts_touched" in dec:
        e = dec["experts_touched"]
        how = ("expected distinct experts per MoE layer under uniform top-k routing, E(1 - (1 - k/E)^b)"
               if e["assumption"] == "expected" else "all experts (--experts-touched all)")
        if e["assumption"] == "expected" and model.arch.size("n_zero_experts"):  # blocks/moeb.py
            how = ("expected distinct real experts per MoE layer as zero_expert_routing routes the pool "
                   "(zero-computation experts read no weights)")
        lines.append(f"  {'experts read':<{w}}{significant(e['per_moe_layer']):>22}  of {e['n_experts']} "
                     f"a layer: {how}; between {e['min']} and {e['max']}")
    mixers = {group.mixer for group in model.arch.layers}
    if "mla" in mixers:
        prefill, decode = inference.prefill_model.conventions.mla, inference.decode_model.conventions.mla
        lines.append(f"  MLA prefill {prefill}, decode {decode}: decode " + (
            "re-applies kv_b_proj to the C - 1 cached latents every step (as transformers runs it)"
            if decode == "naive" else "attends in the latent space (up-projections absorbed, as serving engines run it)")
            + ("; prefill up-projects keys and values (naive, as serving engines run it)" if prefill == "naive"
               else "; prefill attends in the latent space too"))
    if "dsa" in mixers:
        lines.append(f"  DSA core {model.conventions.variant('dsa_core')}: the indexer scores every cached key; the "
                     "core attends to " + ("every cached key (the top-k as a mask)"
                                           if model.conventions.variant("dsa_core") == "dense"
                                           else "min(C, index_topk) of them"))
    lines.append("")
    if gen["decode_steps"]:
        lines += [f"Generation: prefill {P:,}, then {gen['decode_steps']:,} decode steps at contexts "
                  f"{P + 1:,} .. {C:,}",
                  f"  {'FLOPs':<{w}}{grouped(gen['flops']):>22}  (prefill {grouped(gen['prefill_flops'])} + "
                  f"decode {grouped(gen['decode_flops'])})",
                  f"  {'decode bytes':<{w}}{grouped(gen['decode_bytes']):>22}  ({nbytes(gen['decode_bytes'])})", ""]
    else:
        lines += ["Generation: the prompt fills the context, no decode steps (give --prompt-len below --context)", ""]
    if "speculative" in r:
        lines += _speculative(r, w)
    if "roofline" in r:
        lines += _roofline(r, w)
    lines.append(f"  counted under: matmul FLOPs (2 per multiply-add); prefill mask {model.conventions.mask}; "
                 f"decode keys = cached + 1 (window-aware)" + (f"; MLA prefill {inference.prefill_model.conventions.mla}, decode "
                    f"{inference.decode_model.conventions.mla}" if "mla" in mixers else "")
                 + "".join(f"; {name} {choice}" for name, choice in model.conventions.variants))
    lines.append("  bytes: weights read once a step (embedding tables only at the looked-up rows), KV cache read; "
                 "activations and logits not counted")
    return "\n".join(lines)


def _roofline(r, w):
    roof = r["roofline"]
    hw = roof["hardware"]
    b = r["run"]["batch"]
    rows = [("decode step", roof["decode_step"]), ("prefill", roof["prefill"])]
    lines = [f"Roofline on {hw['gpus']:,} x {hw['name']}: {hw['peak_dtype']} dense "
             f"{significant(hw['peak_flops_per_sec'] / 1e12)} TFLOP/s, {significant(hw['bandwidth_bytes_per_sec'] / 1e9)} GB/s "
             f"(ridge point {significant(roof['ridge_point'])} FLOP/byte)",
             f"  {'':<14}{'compute >=':>14}{'memory >=':>14}{'FLOP/byte':>12}   bound     ceiling"]
    for label, row in rows:
        ceiling = f"{significant(row['tokens_per_sec'])} tokens/s"
        if label == "decode step":
            ceiling += f" (batch {b:,}; {significant(row['tokens_per_sec_per_sequence'])} per sequence)"
        else:
            ceiling += f" (time to first token >= {seconds(row['time_s'])})"
        lines.append(f"  {label:<14}{seconds(row['compute_s']):>14}{seconds(row['memory_s']):>14}"
                     f"{significant(row['arithmetic_intensity']):>12}   {row['bound'] + '-bound':<14} {ceiling}")
    need = r["weights_bytes"] + r["kv_cache_bytes"]
    lines.append(f"  weights + KV cache {nbytes(need)} of {nbytes(hw['memory_bytes'])}: "
                 + ("fits" if roof["fits"] else "does NOT fit"))
    lines.append(f"  peak: {hw['peak_sources'][0]}")
    lines.append(f"  bandwidth: {hw['bandwidth_sources'][0]}")
    if "batch_sweep" in r:
        sweep = r["batch_sweep"]
        lines.append(f"Decode roofline by batch at context {sweep['context']:,}"
                     + (f": knee at batch {sweep['knee']:,} ({sweep['note']})" if sweep["knee"] else f": {sweep['note']}"))
        lines.append(f"  {'batch':>10}{'compute >=':>14}{'memory >=':>14}   bound          {'ceiling':<22}"
                     "weights + KV cache")
        for row in sweep["rows"]:
            lines.append(f"  {row['batch']:>10,}{seconds(row['compute_s']):>14}{seconds(row['memory_s']):>14}   "
                         f"{row['bound'] + '-bound':<15}{significant(row['tokens_per_sec']):>14} tokens/s  "
                         + ("fit" if row["fits"] else "do NOT fit"))
    if "measured" in r:
        m = r["measured"]
        lines.append(f"Measured decode: {significant(m['decode_tokens_per_sec'])} tokens/s "
                     f"({seconds(m['step_time_s'])} a step)")
        lines.append(f"  {'MBU':<{w}}{percent(m['mbu']):>10}  ({significant(m['achieved_bandwidth_bytes_per_sec'] / 1e9)} GB/s "
                     f"of {significant(hw['bandwidth_bytes_per_sec'] / 1e9)} GB/s; Agarwal et al. 2023)")
        lines.append(f"  {'decode MFU':<{w}}{percent(m['mfu']):>10}  ({significant(m['achieved_flops_per_sec'] / 1e12)} TFLOP/s "
                     f"of {significant(hw['peak_flops_per_sec'] / 1e12)})")
    lines.append("")
    return lines


def _speculative(r, w):
    spec = r["speculative"]
    how = (f"acceptance {spec['acceptance']}: (1 - a^(K+1)) / (1 - a)" if spec["acceptance"] is not None
           else "measured")
    lines = [f"Speculative decode step: {spec['draft_tokens']} drafted by "
             + ("the MTP modules" if spec["draft"] == "mtp" else "an external draft model (not counted)")
             + f", verified in one forward over {spec['draft_tokens'] + 1} positions",
             f"  {'tokens per step':<{w}}{grouped(spec['tokens_per_step']):>22}  a sequence ({how})",
             f"  {'FLOPs':<{w}}{grouped(spec['flops']):>22}  (verify {grouped(spec['verify_flops'])} + draft "
             f"{grouped(spec['draft_flops'])})",
             f"  {'per token yielded':<{w}}{grouped(spec['flops_per_generated_token']):>22}  FLOPs (model FLOPs "
             f"{grouped(spec['model_flops_per_token'])}: the rest is drafts and rejected tokens)",
             f"  {'bytes':<{w}}{grouped(spec['bytes']):>22}  ({nbytes(spec['bytes'])})",
             f"  not counted: {'; '.join(spec['not_counted'])}"]
    if "roofline" in r:
        row = r["roofline"]["speculative_step"]
        lines.append(f"  {'roofline':<{w}}{row['bound'] + '-bound':>22}  {significant(row['tokens_per_sec'])} tokens/s "
                     f"({significant(row['speedup_over_decode'])} x a plain decode step)")
    return lines + [""]
