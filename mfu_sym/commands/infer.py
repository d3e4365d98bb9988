"""`mfu-sym infer`: prefill, decode, KV cache, bytes moved and the roofline; MBU."""

import click

from .options import build_model, model_options
from .types import POSITIVE, SIZE


@click.command()
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
@click.option("--mla-prefill", type=click.Choice(["naive", "absorbed"]),
              help="MLA in the prefill [naive: keys and values up-projected, as serving engines run it]")
@click.option("--mla-decode", type=click.Choice(["naive", "absorbed"]),
              help="MLA in a decode step [absorbed: attention in the latent, as serving engines run it]")
@click.option("--batch-sweep", is_flag=True,
              help="the decode roofline at batch 1, 2, 4, ... up to the knee, the smallest compute-bound batch "
                   "(needs --hardware)")
@click.option("--draft-tokens", type=click.IntRange(1, 64),
              help="speculative decoding: tokens drafted and verified per step (with --acceptance or "
                   "--accepted-tokens)")
@click.option("--acceptance", metavar="RATE",
              help="probability that each drafted token is accepted, e.g. 0.85 (read exactly)")
@click.option("--accepted-tokens", metavar="MEAN", help="measured mean tokens a speculative step yields")
@click.option("--draft", type=click.Choice(["mtp", "external"]),
              help="who drafts: the model's MTP modules (counted) or an external draft model (not counted) "
                   "[mtp when the model has them]")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def infer(model_file, context, prompt_len, batch, dtype, kv_dtype, hardware, gpus, peak_dtype, experts_touched,
          decode_tokens_per_sec, mla_prefill, mla_decode, batch_sweep, draft_tokens, acceptance, accepted_tokens,
          draft, fmt, **switches):
    """Prefill and decode FLOPs, KV cache, bytes moved and roofline of MODEL.

    A decode step at --context C attends to C keys (min(C, W) on sliding-window layers)
    and reads every weight once plus the KV cache; the roofline says whether it is
    compute- or memory-bound on --hardware and the tokens/s ceiling that follows.
    MLA layers run naive in the prefill (keys and values up-projected) and absorbed in a
    decode step (attention in the latent space), as serving engines (vLLM, SGLang) run
    them; --mla-prefill and --mla-decode choose each phase, --mla both (naive decode
    re-applies kv_b_proj to every cached latent, as transformers runs it).

    Speculative decoding: --draft-tokens K drafts per step, verified in one forward over
    K + 1 positions, yielding (1 - a^(K+1)) / (1 - a) tokens at --acceptance a (Leviathan
    et al. 2023) or --accepted-tokens measured; drafts by the model's MTP modules are
    counted.

    \b
    Examples:
        mfu-sym infer examples/llama3_8b.yaml --context 8192 --hardware h100
        mfu-sym infer examples/deepseek_v3.yaml --context 4096 --prompt-len 1024 \\
            --batch 64 --dtype fp8 --mla absorbed --hardware h200 --gpus 8
        mfu-sym infer examples/llama3_8b.yaml --context 4096 --hardware h100 \\
            --decode-tokens-per-sec 180 --format json
        mfu-sym infer examples/deepseek_v3.yaml --context 4096 --batch 32 --hardware h200 \\
            --gpus 8 --dtype fp8 --draft-tokens 1 --acceptance 0.85
    """
    if prompt_len is not None and prompt_len > context:
        raise click.BadParameter(f"the prompt ({prompt_len:,} tokens) is longer than the context ({context:,})",
                                 param_hint="--prompt-len")
    if decode_tokens_per_sec is not None and hardware is None:
        raise click.UsageError("--decode-tokens-per-sec needs --hardware (MBU divides by its bandwidth)")
    if batch_sweep and hardware is None:
        raise click.UsageError("--batch-sweep needs --hardware (the knee is where compute meets bandwidth)")
    if draft_tokens is None and (acceptance or accepted_tokens or draft):
        raise click.UsageError("--acceptance, --accepted-tokens and --draft need --draft-tokens")
    if draft_tokens is not None and (acceptance is None) == (accepted_tokens is None):
        raise click.UsageError("--draft-tokens needs exactly one of --acceptance and --accepted-tokens")
    if switches.get("mla") is not None and (mla_prefill or mla_decode):
        raise click.UsageError("--mla sets both phases: give it, or --mla-prefill and --mla-decode, not both")
    from ..inference import Inference
    from .. import stack
    model = build_model(model_file, **switches)
    if (mla_prefill or mla_decode) and not stack.count_of(model.arch.layers, "mixer", "mla"):
        raise click.UsageError(f"--mla-{'prefill' if mla_prefill else 'decode'}: the model has no multi-head "
                               "latent attention layers")
    if switches.get("mla") is None:  # serving engines' forms unless --mla fixes both
        mla_prefill, mla_decode = mla_prefill or "naive", mla_decode or "absorbed"
    inference = Inference(model, dtype=dtype, kv_dtype=kv_dtype, experts=experts_touched,
                          mla_prefill=mla_prefill, mla_decode=mla_decode)
    speculative = None
    if draft_tokens is not None:
        speculative = {"draft_tokens": draft_tokens, "acceptance": acceptance, "accepted": accepted_tokens,
                       "draft": draft or ("mtp" if model.mtp_terms else "external")}
    report = inference.report(context, prompt_len=prompt_len, batch=batch, hardware=hardware, gpus=gpus,
                              peak_dtype=peak_dtype, decode_tokens_per_sec=decode_tokens_per_sec,
                              sweep_batch=batch_sweep, speculative=speculative)
    from ..render import inference as text, json
    click.echo(json.infer(report) if fmt == "json" else text.infer(report, inference, model_file))
