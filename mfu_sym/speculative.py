"""Speculative decoding: a step drafts K tokens, the model verifies them in one forward
over K + 1 positions, and keeps the accepted prefix plus one token of its own.

  tokens per step   E = (1 - α^(K+1)) / (1 - α) when each drafted token is accepted
                    independently with probability α (Leviathan et al. 2023,
                    arXiv:2211.17192, §3.5 Eq. 1); K + 1 at α = 1; or a measured mean E
  verify FLOPs      the decode forward of the tokens at contexts C, C+1, ..., C+K (each
                    attends to the keys before it and itself)
  draft FLOPs       with the model's own multi-token-prediction modules (DeepSeek-V3
                    §2.2, §5.4.3): K forwards of the MTP module, at contexts C .. C+K-1;
                    an external draft model is not counted (its size is not known here)
  bytes             the weights read once for the verify pass (MoE: the experts the
                    b (K+1) tokens touch), the KV cache at context C+K, and with MTP the
                    module's weights once per draft token (its own cache reads are not
                    counted)

Model FLOPs per generated token stay those of a plain decode step at context C; what
the step computes beyond them (rejected drafts, the draft itself) is hardware work.
"""

import sympy

from .cost import decode_cost
from .errors import UsageError

MAX_DRAFT_TOKENS = 64
DRAFTS = ("mtp", "external")


def tokens_per_step(draft_tokens, acceptance=None, accepted=None):
    """Expected tokens a step yields: from an acceptance rate α (exact), or a measured
    mean number of tokens per step (1 <= E <= K + 1)."""
    from .exact import exact_positive
    if isinstance(draft_tokens, bool) or not isinstance(draft_tokens, int) or not 1 <= draft_tokens <= MAX_DRAFT_TOKENS:
        raise UsageError(None, "draft_tokens", f"{draft_tokens!r} (expected an integer from 1 to {MAX_DRAFT_TOKENS})")
    if (acceptance is None) == (accepted is None):
        raise UsageError(None, "acceptance", "give exactly one of the acceptance rate and the accepted tokens per step")
    if acceptance is not None:
        alpha = exact_positive(acceptance, "acceptance")
        if alpha > 1:
            raise UsageError(None, "acceptance", f"{acceptance} is above 1 (expected a probability in (0, 1])")
        if alpha == 1:
            return sympy.Integer(draft_tokens + 1)
        return (1 - alpha ** (draft_tokens + 1)) / (1 - alpha)
    mean = exact_positive(accepted, "accepted_tokens")
    if not 1 <= mean <= draft_tokens + 1:
        raise UsageError(None, "accepted_tokens", f"{accepted} is outside [1, {draft_tokens + 1}] (a step yields "
                                                  "at least its own token and at most every draft plus one)")
    return mean


def speculative(inference, values, draft_tokens, acceptance=None, accepted=None, draft="mtp"):
    """Exact FLOPs and bytes of one speculative decode step of b sequences at context C
    (the run's `values`), and the tokens it yields."""
    if draft not in DRAFTS:
        raise UsageError(None, "draft", f"{draft!r} (expected one of {', '.join(DRAFTS)})")
    model = inference.decode_model
    if draft == "mtp" and not model.mtp_terms:
        raise UsageError(None, "draft", "the model has no multi-token-prediction modules (give draft external)")
    expected = tokens_per_step(draft_tokens, acceptance, accepted)
    C, b = inference.context, inference.batch

    def at(expression):
        return sympy.sympify(expression).xreplace(values)

    verify = sympy.Add(*[term.count * inference._at(cost, term.mask, C + j)
                         for j in range(draft_tokens + 1)
                         for term, cost in inference.decode_terms if term.kind != "mtp"])
    drafted = sympy.Integer(0)
    draft_weights = sympy.Integer(0)
    if draft == "mtp":
        conventions = model.conventions
        drafted = sympy.Add(*[term.count * inference._at(decode_cost(term, conventions), term.mask, C + j)
                              for j in range(draft_tokens) for term in model.mtp_terms])
        draft_weights = draft_tokens * model.params("mtp")
    bits = inference.weight_bits / 8
    weights = (inference.weights_read(b * (draft_tokens + 1)) + draft_weights) * bits
    kv = inference.kv_cache_bytes(C + draft_tokens, read=True)
    flops, moved = at(b * (verify + drafted)), sympy.ceiling(at(weights + kv))
    plain = at(b * inference.decode_flops_at())
    return {
        "draft_tokens": draft_tokens, "draft": draft,
        "acceptance": None if acceptance is None else str(acceptance),
        "tokens_per_step": expected, "tokens_per_step_all_sequences": at(b) * expected,
        "verify_flops": at(b * verify), "draft_flops": at(b * drafted), "flops": flops,
        "bytes": moved, "arithmetic_intensity": flops / moved,
        "flops_per_generated_token": flops / (at(b) * expected),
        "model_flops_per_token": plain / at(b),
        "not_counted": ["the draft model's FLOPs and bytes (an external draft)" if draft == "external"
                        else "the MTP module's own KV cache reads", "activations and logits"],
        "reference": "leviathan2023 (arXiv:2211.17192 §3.5 Eq. 1: E = (1 - a^(K+1)) / (1 - a)); DeepSeek-V3 "
                     "(arXiv:2412.19437 §5.4.3: the MTP draft's second token accepted 85-90% of the time)",
    }
