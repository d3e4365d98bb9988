"""Harness patch of the moeb group: a known routing for LongCat-Flash's zero-computation
experts.

LongCat-Flash's router picks each token's top_k slots from a pool of n real experts and
z identity (zero-computation) experts, and transformers 5.23 runs each real expert on
exactly the tokens routed to it (LongcatFlashExperts.forward: `if expert_idx >=
self.num_routed_experts: identity`, else gate_up/down on `hidden_states[token_idx]`). So
the FLOPs FlopCounterMode counts are 6 d_model d_expert per (token, slot) on a real
expert, and how many such slots there are depends on the random weights.

`forced_routing(mode)` makes that number known. For the duration of a measurement it
replaces LongcatFlashTopkRouter.get_topk_indices, the `@torch.no_grad()` choice of the
top-k indices, by a deterministic choice with a set number of real slots per token:

  uniform     T k n / (n + z) real slots over the T tokens of a call (it must be whole),
              spread as evenly as the tokens allow: the engine's uniform expectation,
              realised exactly;
  none_zero   min(k, n) real slots a token (every slot it can on a real expert);
  all_zero    max(0, k - z) real slots a token (every slot it can on an identity).

Token i takes the real experts (i + j) mod n and the identity experts n + (i + j) mod z:
distinct within the token, spread over the pool. Everything else is the model's own: the
router's logits and softmax run as before, the routing weights are gathered from its
scores at the chosen indices (so every matmul and every gradient path is the original
one's), and the original function runs first on the same scores so that its output's
shape and dtype are checked against the replacement's. The patch records, per call, the
number of tokens and of real slots (`Routing.calls`), so a test can check the realised
routing too.
"""

import contextlib
from dataclasses import dataclass, field
from fractions import Fraction

import torch
from transformers.models.longcat_flash import modeling_longcat_flash as longcat

MODES = ("uniform", "none_zero", "all_zero")


@dataclass
class Routing:
    mode: str
    calls: list = field(default_factory=list)  # (tokens, real slots) per router call


def real_slots(mode, tokens, top_k, n_real, n_zero):
    """Real slots of each of `tokens` tokens under `mode`."""
    if mode == "none_zero":
        return [min(top_k, n_real)] * tokens
    if mode == "all_zero":
        return [max(0, top_k - n_zero)] * tokens
    total = Fraction(tokens * top_k * n_real, n_real + n_zero)
    if total.denominator != 1:
        raise ValueError(f"{tokens} tokens x {top_k} x {n_real} / {n_real + n_zero} real slots is not whole: "
                         "choose a token count that makes the uniform expectation realisable")
    total = int(total)
    return [(i + 1) * total // tokens - i * total // tokens for i in range(tokens)]


def _indices(counts, top_k, n_real, n_zero):
    rows = []
    for i, real in enumerate(counts):
        rows.append([(i + j) % n_real for j in range(real)] + [n_real + (i + j) % n_zero for j in range(top_k - real)])
    return torch.tensor(rows, dtype=torch.long)


@contextlib.contextmanager
def forced_routing(mode):
    """LongCat-Flash routers choose a known routing (see the module docstring)."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} (expected one of {', '.join(MODES)})")
    router = longcat.LongcatFlashTopkRouter
    original = router.get_topk_indices
    routing = Routing(mode)

    @torch.no_grad()
    def patched(self, scores):
        theirs = original(self, scores)
        tokens = scores.view(-1, self.n_routed_experts).shape[0]
        n_real = self.num_experts  # config.n_routed_experts; self.n_routed_experts counts the identities too
        n_zero = self.n_routed_experts - n_real
        counts = real_slots(mode, tokens, self.top_k, n_real, n_zero)
        ours = _indices(counts, self.top_k, n_real, n_zero).to(theirs.device)
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype, (ours.shape, theirs.shape)
        routing.calls.append((tokens, sum(counts)))
        return ours

    router.get_topk_indices = patched
    try:
        yield routing
    finally:
        router.get_topk_indices = original
