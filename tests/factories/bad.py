"""Factories that `mfu-sym trace` must refuse, each with its own error (test_trace_cli.py)."""

import torch
from torch import nn


class Inverts(nn.Module):
    """A matrix inverse: matmul-like work the counter has no formula for."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(8, 8)

    def forward(self, x):
        h = self.proj(x)
        return torch.linalg.inv(h.transpose(-1, -2) @ h + torch.eye(8))


class Routes(nn.Module):
    """Works only on the rows a data-dependent mask selects."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(8, 8)

    def forward(self, x):
        return self.proj(x[x.sum(-1) > 0])


def inverse():
    return Inverts(), lambda batch, seq_len: torch.ones(batch, seq_len, 8)


def routed():
    return Routes(), lambda batch, seq_len: torch.ones(batch, seq_len, 8)


def wrong_shape():
    return Inverts()  # not (module, make_inputs)


def raises():
    raise RuntimeError("no weights here")


NOT_CALLABLE = 3


class Contracts(nn.Module):
    """A contraction written as a broadcast product and a sum (counted 0 by the counter)."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(8, 8)

    def forward(self, x):
        h = self.proj(x)
        return (h.unsqueeze(-1) * h.unsqueeze(-2)).sum(-1)


def contracted():
    return Contracts(), lambda batch, seq_len: torch.ones(batch, seq_len, 8)
