"""Replacing nanoGPT's estimate_mfu with mfu-sym.

nanoGPT (github.com/karpathy/nanoGPT) estimates MFU in model.py with PaLM's formula
(arXiv:2204.02311, App. B) and an A100's bf16 peak written into the code:

    N = self.get_num_params()                  # non-embedding: all but the position table
    L, H, Q, T = cfg.n_layer, cfg.n_head, cfg.n_embd//cfg.n_head, cfg.block_size
    flops_per_token = 6*N + 12*L*H*Q*T
    flops_per_iter = flops_per_token * T * fwdbwd_per_iter
    mfu = flops_per_iter * (1.0/dt) / 312e12   # A100 bfloat16 peak

and train.py calls it on the master process with the per-process sequences of an
iteration (gradient_accumulation_steps is already divided by the world size there):

    mfu = raw_model.estimate_mfu(batch_size * gradient_accumulation_steps, dt)
    running_mfu = mfu if running_mfu == -1.0 else 0.9*running_mfu + 0.1*mfu

With mfu-sym, train.py builds a meter once, before the loop, from a model file that
describes the GPT it trains (examples/gpt2_124m_nanogpt.yaml is GPT-2 124M with
bias=False, nanoGPT's layout), and updates it instead of calling estimate_mfu:

    import mfu_sym
    meter = mfu_sym.MFUMeter("gpt2_124m_nanogpt.yaml", hardware="a100", dtype="bf16",
                             gpus=ddp_world_size, seq_len=block_size, smoothing=0.9)
    ...
    if local_iter_num >= 5:
        tokens = batch_size * block_size * gradient_accumulation_steps * ddp_world_size
        mfu = meter.update(tokens=tokens, seconds=dt)   # global tokens, all GPUs
        running_mfu = meter.smoothed

What changes against 6N + 12LHQT:
- the peak: the named accelerator's dense figure for the dtype, from hardware.yaml
  (an H100 run is no longer divided by an A100's 312 TFLOP/s);
- the FLOPs per token: every matmul counted from the architecture (the tied LM head
  included, as 6N includes it through the token embedding), but not the LayerNorm
  weights, which 6N multiplies as if they were matmul weights;
- attention: PaLM's 12LHQT charges every query all T keys; mfu-sym's exact preset
  charges the causal mask's t keys for query t, about half (mask="full" gives PaLM's
  attention back; preset="palm" gives 6N + 12LHQT itself).
  GPT-2 124M at T = 1024: 6N + 12LHQT = 854,553,600 training FLOPs per token; exact
  with mask="full" 854,438,400 (6 x the 19,200 LayerNorm weights fewer); exact 797,870,592
  (6.6% fewer than nanoGPT's, so the same run shows a 6.6% lower MFU);
- the model file must match the trained model (sizes, bias, tying): the sizes are data,
  not the code's config object.

Run it with the numbers of an iteration from a nanoGPT log (dt in seconds per
iteration):

    python examples/nanogpt_mfu.py --dt 0.5 --batch-size 12 --grad-accum 5 --world-size 8

(the defaults: train.py's GPT-2 settings on 8 A100s; dt = 0.5 s is illustrative, not a
measurement). With --config, any model file of the same layout (a tiny one runs too).
"""

import argparse
import json
from pathlib import Path

import yaml

import mfu_sym

HERE = Path(__file__).resolve().parent
A100_BF16 = 312e12   # nanoGPT's flops_promised


def nanogpt_num_params(fields):
    """nanoGPT's get_num_params() (non_embedding=True) of a bias=False GPT: per block
    ln_1, c_attn (d x 3d), c_proj (d x d), ln_2, c_fc (d x 4d), mlp c_proj (4d x d); then
    wte (tied to lm_head) and ln_f; the position table wpe subtracted."""
    d, layers, vocab = fields["d_model"], fields["n_layers"], fields["vocab_size"]
    return layers * (d + 3 * d * d + d * d + d + 4 * d * d + 4 * d * d) + vocab * d + d


def nanogpt_estimate_mfu(fields, block_size, fwdbwd_per_iter, dt):
    """nanoGPT's GPT.estimate_mfu, as model.py writes it."""
    N = nanogpt_num_params(fields)
    L, H, Q, T = fields["n_layers"], fields["n_heads"], fields["d_model"] // fields["n_heads"], block_size
    flops_per_token = 6 * N + 12 * L * H * Q * T
    flops_per_iter = flops_per_token * T * fwdbwd_per_iter
    return flops_per_iter * (1.0 / dt) / A100_BF16


def main(argv=None):
    parser = argparse.ArgumentParser(description="nanoGPT's estimate_mfu against mfu-sym for one iteration")
    parser.add_argument("--config", default=str(HERE / "gpt2_124m_nanogpt.yaml"),
                        help="a model file of the GPT that nanoGPT trains (the project's YAML fields, bias=False)")
    parser.add_argument("--hardware", default="a100")
    parser.add_argument("--dtype", default="bf16")
    parser.add_argument("--dt", type=float, default=0.5, help="seconds per iteration, as train.py logs it (default: illustrative)")
    parser.add_argument("--batch-size", type=int, default=12, help="train.py's batch_size (per process)")
    parser.add_argument("--block-size", type=int, help="train.py's block_size (default: the file's seq_len)")
    parser.add_argument("--grad-accum", type=int, default=5, help="gradient_accumulation_steps per process")
    parser.add_argument("--world-size", type=int, default=8, help="ddp_world_size")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    fields = yaml.safe_load(Path(args.config).read_text(encoding="utf-8"))
    block_size = args.block_size or fields["seq_len"]
    # nanoGPT: the master process's MFU, from its own sequences (= the global MFU when every
    # process runs the same shapes)
    theirs = nanogpt_estimate_mfu(fields, block_size, args.batch_size * args.grad_accum, args.dt)

    # mfu-sym, as train.py would use it: global tokens over all GPUs' peak
    results = {}
    for label, preset, switches in (("exact", "exact", {}), ("palm", "palm", {})):
        model = mfu_sym.load(args.config, preset=preset, **switches)
        meter = mfu_sym.MFUMeter(model, hardware=args.hardware, dtype=args.dtype, gpus=args.world_size,
                                 seq_len=block_size)
        tokens = args.batch_size * block_size * args.grad_accum * args.world_size
        results[label] = {"mfu": meter.update(tokens=tokens, seconds=args.dt),
                          "flops_per_token": str(meter.flops_per_token), "peak_flops": meter.peak.flops}
    out = {"nanogpt": {"mfu": theirs, "num_params": nanogpt_num_params(fields), "peak_flops": A100_BF16,
                       "flops_per_token": 6 * nanogpt_num_params(fields) + 12 * fields["n_layers"] * fields["d_model"]
                       * block_size},
           "mfu_sym": results, "tokens_per_iter": args.batch_size * block_size * args.grad_accum * args.world_size,
           "dt": args.dt, "world_size": args.world_size}
    if args.json:
        print(json.dumps(out))
        return
    print(f"{fields.get('name', args.config)}: {out['tokens_per_iter']:,} tokens per iteration on "
          f"{args.world_size} x {args.hardware}, {args.dt} s")
    print(f"  nanoGPT estimate_mfu (6N + 12LHQT, 312 TFLOP/s): {theirs:.2%}   "
          f"({out['nanogpt']['flops_per_token']:,} FLOPs/token)")
    for label, result in results.items():
        print(f"  mfu-sym, preset {label:5}:                       {result['mfu']:.2%}   "
              f"({result['flops_per_token']} FLOPs/token)")


if __name__ == "__main__":
    main()
