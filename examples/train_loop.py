"""MFU in a plain PyTorch training loop, with mfu_sym.MFUMeter.

A tiny GPT (nanoGPT's layout: learned positions, LayerNorm without bias, a GELU MLP, the
LM head tied to the token embedding) trains for a few steps on random tokens, and each
step's MFU is printed. The meter compiles the model's exact FLOPs per token once; each
update is a few float operations.

    python examples/train_loop.py                       # a few seconds on a CPU
    python examples/train_loop.py --hardware h100 --device cuda --d-model 768 --layers 12

On a CPU the MFU against an accelerator's peak is tiny (and the meter warns that it is
implausibly low): the point here is the loop, not the number.

What a loop must get right (the meter cannot see it):
- tokens: the global count of the step (all devices, all micro-batches), padding
  included when the model runs it;
- seconds: the step's wall time, with the device synchronized before the clock is read
  (CUDA runs asynchronously: without it the time is that of queueing the kernels);
- the model description: the same sizes and layout as the module that trains (here the
  dict below, checked against the module's parameter count).
"""

import argparse
import json
import time

import torch
from torch import nn
from torch.nn import functional as F

import mfu_sym


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.ln_1 = nn.LayerNorm(d, bias=False)
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.proj = nn.Linear(d, d, bias=False)
        self.ln_2 = nn.LayerNorm(d, bias=False)
        self.fc = nn.Linear(d, 4 * d, bias=False)
        self.fc_proj = nn.Linear(4 * d, d, bias=False)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln_1(x)).split(d, dim=2)
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, d))
        return x + self.fc_proj(F.gelu(self.fc(self.ln_2(x))))


class GPT(nn.Module):
    def __init__(self, vocab, positions, d, layers, heads):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(positions, d)
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d, bias=False)
        nn.init.normal_(self.wte.weight, std=0.02)
        nn.init.normal_(self.wpe.weight, std=0.02)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        for block in self.blocks:
            x = block(x)
        return self.ln_f(x) @ self.wte.weight.T   # the LM head, tied


def model_fields(args):
    """The same model in mfu-sym's model fields (as examples/gpt2_124m_nanogpt.yaml)."""
    return {"name": "tiny GPT (train_loop.py)", "d_model": args.d_model, "n_layers": args.layers,
            "n_heads": args.heads, "d_ff": 4 * args.d_model, "vocab_size": args.vocab, "mlp": "plain",
            "norm": "layernorm_no_bias", "tied_embeddings": True, "position_embedding": "learned",
            "n_positions": args.seq_len, "seq_len": args.seq_len}


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hardware", default="h100")
    parser.add_argument("--dtype", default="bf16", help="the peak's dtype (this loop trains in float32 on a CPU)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--vocab", type=int, default=256)
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--json", action="store_true", help="JSON lines: the parameter counts, then one object per step (for scripts)")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    device = torch.device(args.device)
    model = GPT(args.vocab, args.seq_len, args.d_model, args.layers, args.heads).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    symbolic = mfu_sym.load(model_fields(args))
    counted = int(symbolic.report(seq_len=args.seq_len, batch=1)["params"]["total"])
    actual = sum(p.numel() for p in model.parameters())
    if counted != actual:
        raise SystemExit(f"the model fields describe {counted:,} parameters, the module has {actual:,}")
    meter = mfu_sym.MFUMeter(symbolic, hardware=args.hardware, dtype=args.dtype, gpus=1, seq_len=args.seq_len)
    if args.json:
        print(json.dumps({"params": actual, "params_mfu_sym": counted,
                          "flops_per_token": str(meter.flops_per_token)}))
    else:
        print(f"{actual:,} parameters (mfu-sym counts {counted:,}); {meter.flops_per_token} training FLOPs "
              f"per token; peak {meter.peak.flops / 1e12:g} TFLOP/s ({meter.peak.device.key} {meter.peak.dtype})")

    for step in range(args.steps):
        batch = torch.randint(0, args.vocab, (args.batch, args.seq_len + 1), device=device)
        inputs, targets = batch[:, :-1], batch[:, 1:]
        synchronize(device)
        start = time.perf_counter()
        logits = model(inputs)
        loss = F.cross_entropy(logits.reshape(-1, args.vocab), targets.reshape(-1))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        synchronize(device)
        seconds = time.perf_counter() - start
        tokens = inputs.numel()     # all devices' tokens: one device here
        mfu = meter.update(tokens=tokens, seconds=seconds)
        if args.json:
            print(json.dumps({"step": step, "tokens": tokens, "seconds": seconds, "seq_len": args.seq_len,
                              "mfu": mfu, "hfu": meter.last_hfu, "loss": loss.item()}))
        else:
            print(f"step {step}: loss {loss.item():.3f}, {seconds * 1e3:.1f} ms, MFU {mfu:.3e} "
                  f"(smoothed {meter.smoothed:.3e})")


if __name__ == "__main__":
    main()
