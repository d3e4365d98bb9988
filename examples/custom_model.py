"""A model of your own, traced: `mfu-sym trace examples/custom_model.py:build`.

A small decoder the formula library knows nothing about: multi-query attention whose
keys and values come from a token-shifted input (each position also sees its
predecessor, RWKV-style), a squared-ReLU MLP, and an LM head tied to the embedding.
`build()` returns the module and `make_inputs(batch, seq_len)`; mfu-sym calls both on
fake tensors with symbolic sizes, so nothing is allocated: build inputs from the sizes
with torch factories, never from data.
"""

import torch
from torch import nn
import torch.nn.functional as F

D_MODEL, N_HEADS, D_HEAD, D_FF, N_LAYERS, VOCAB = 256, 4, 64, 1024, 2, 1000


class ShiftedMQA(nn.Module):
    def __init__(self):
        super().__init__()
        self.q_proj = nn.Linear(D_MODEL, N_HEADS * D_HEAD, bias=False)
        self.kv_proj = nn.Linear(2 * D_MODEL, 2 * D_HEAD, bias=False)  # one K/V head, from x and its predecessor
        self.o_proj = nn.Linear(N_HEADS * D_HEAD, D_MODEL, bias=False)

    def forward(self, x):
        b, s, _ = x.shape
        shifted = torch.cat([torch.zeros_like(x[:, :1]), x[:, :-1]], dim=1)
        q = self.q_proj(x).view(b, s, N_HEADS, D_HEAD).transpose(1, 2)
        k, v = self.kv_proj(torch.cat([x, shifted], dim=-1)).view(b, s, 1, 2 * D_HEAD).transpose(1, 2).chunk(2, -1)
        scores = q @ k.transpose(-1, -2) / D_HEAD ** 0.5  # (b, heads, s, s): every head against the one key head
        causal = torch.ones(s, s, dtype=torch.bool).tril()
        weights = scores.masked_fill(~causal, float("-inf")).softmax(-1)
        return self.o_proj((weights @ v).transpose(1, 2).reshape(b, s, N_HEADS * D_HEAD))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1, self.norm2 = nn.RMSNorm(D_MODEL), nn.RMSNorm(D_MODEL)
        self.attn = ShiftedMQA()
        self.up, self.down = nn.Linear(D_MODEL, D_FF), nn.Linear(D_FF, D_MODEL)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.down(F.relu(self.up(self.norm2(x))) ** 2)


class TinyDecoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, D_MODEL)
        self.blocks = nn.ModuleList(Block() for _ in range(N_LAYERS))
        self.lm_head = nn.Linear(D_MODEL, VOCAB, bias=False)
        self.lm_head.weight = self.embed.weight

    def forward(self, ids):
        x = self.embed(ids)
        for block in self.blocks:
            x = block(x)
        return self.lm_head(x)


def build():
    """The module and how to build its input from the batch and sequence length."""
    return TinyDecoder(), lambda batch, seq_len: torch.zeros(batch, seq_len, dtype=torch.long)
