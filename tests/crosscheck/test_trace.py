"""`mfu-sym trace` against the formula library and against numeric counts.

* Proofs: every small config of every family group the library reads, traced at
  symbolic batch and length, equals the library's `torch`-preset polynomials per
  component and in total, forward and backward: an identity in seq_len and batch (the
  difference expands to 0), not a check at points.
* Families whose PyTorch path is no polynomial (a sequential scan loop, chunk loops,
  routing-sized experts) are refused or confined to the region their guards give, and
  what is printed there equals FlopCounterMode at that point.
* Families the library does not model trace too, and their polynomials equal numeric
  FlopCounterMode counts (reference.measure) at points, a batch of 1 included.
"""

import pytest

import mfu_sym
from mfu_sym.tracing.api import trace
from mfu_sym.tracing.proof import prove
from mfu_sym.tracing.symbolic import TraceError

from . import test_attna, test_attnb, test_bidirectional, test_dense, test_dsa, test_kda, test_mamba, test_moe
from . import test_moea, test_moeb, test_ssd, test_gdn
from .compare import engine
from .reference import measure

GROUPS = {"dense": test_dense.SMALL, "moe": test_moe.SMALL, "attna": test_attna.SMALL, "attnb": test_attnb.SMALL,
          "moea": test_moea.SMALL, "moeb": test_moeb.SMALL, "dsa": test_dsa.SMALL,
          "bidirectional": test_bidirectional.CONFIGS, "mamba": test_mamba.SMALL, "ssd": test_ssd.SMALL,
          "gdn": test_gdn.SMALL, "kda": test_kda.FAMILIES}
ALL = {f"{group}:{name}": config for group, configs in GROUPS.items() for name, config in configs.items()}

# transformers 5.23's PyTorch paths that the trace refuses (see README): Mamba's scan
# loops over positions in Python and MiniMax's block loop fixes the length at some block
# sizes (the length becomes a constant); Kimi Delta Attention writes its chunk products as
# broadcast-multiply-and-sum, which FlopCounterMode counts as 0; LongCat-Flash sizes its
# experts by the routing. The chunked scans of Mamba-2, Gated DeltaNet (its triangular
# solve through the trace's own op) and MiniMax trace to closed forms with floor and Mod
# terms, proved on the region their guards give.
SPECIALISED = {key for key in ALL if key.split(":")[1].split("-")[0] in ("mamba", "jamba")} | {
    "kda:minimax-default-pattern", "kda:minimax-legacy-names"}
BROADCAST = {key for key in ALL if ALL[key]["model_type"] == "kimi_linear"}
ROUTED = {key for key in ALL if ALL[key]["model_type"] == "longcat_flash"}
PROVED = sorted(set(ALL) - SPECIALISED - BROADCAST - ROUTED)


def _difference(proof):
    return {phase: {name: str(d) for name, (_, _, d) in rows.items() if d != 0}
            for phase, rows in proof.components.items()}


@pytest.mark.parametrize("key", PROVED)
def test_the_library_equals_the_implementation_as_polynomials(tmp_path, key):
    config = ALL[key]
    traced = trace(config)
    # only MiniMax's block loop confines the length (to one block count); LFM2's and the SSD
    # hybrids' depthwise-conv kernel choice bounds the batch
    assert key == "kda:minimax" or "seq_len" not in (traced.bounded or {})
    proof = prove(engine(config, tmp_path, preset="torch"), traced)
    assert proof.identical, _difference(proof)


def test_every_family_the_library_reads_is_proved_or_listed_with_its_reason():
    from mfu_sym import hf
    from . import test_vlm_decoders
    proved = {ALL[key]["model_type"] for key in PROVED}
    refused = {ALL[key]["model_type"] for key in SPECIALISED | BROADCAST | ROUTED}
    # the decoders of vision-language composites and their text parts: the trace builds an
    # AutoModelForCausalLM, which maps none of them but gemma3 (to the ForConditionalGeneration);
    # test_vlm_decoders.py proves them against FlopCounterMode's counts instead
    composites = {config["model_type"] for config in test_vlm_decoders.CONFIGS.values()}
    vlm = composites | {hf.families()[name]["text_config"] for name in composites}
    assert proved | refused | vlm == set(hf.families())
    assert not composites & (proved | refused)
    assert proved & refused == {"minimax"}  # MiniMax: proved at one block size, refused at others
    assert len(proved) == 60


def test_the_issue_figure():
    """Two layers, d=128, 4 heads, 2 KV heads, d_ff=256, V=512 (issue 15)."""
    import sympy
    traced = trace({"model_type": "llama", "hidden_size": 128, "num_attention_heads": 4, "num_key_value_heads": 2,
                    "intermediate_size": 256, "vocab_size": 512, "num_hidden_layers": 2})
    b, s = sympy.symbols("batch seq_len", positive=True, integer=True)
    assert sympy.expand(traced.forward() - (1024 * b * s**2 + 720896 * b * s)) == 0
    assert sympy.expand(traced.backward() - 2 * traced.forward()) == 0


@pytest.mark.parametrize("key", sorted(SPECIALISED))
def test_a_length_loop_is_refused(key):
    with pytest.raises(TraceError, match="turns a symbolic size into a constant"):
        trace(ALL[key])


@pytest.mark.parametrize("key", sorted(BROADCAST))
def test_contractions_the_counter_cannot_see_are_refused(key):
    with pytest.raises(TraceError, match="broadcast product and a sum") as error:
        trace(ALL[key])
    assert error.value.field.endswith("self_attn")


@pytest.mark.parametrize("key", sorted(ROUTED))
def test_routing_sized_experts_are_refused(key):
    with pytest.raises(TraceError, match="depends on the data") as error:
        trace(ALL[key])
    assert error.value.field.endswith("experts")


@pytest.mark.parametrize("key", ["ssd:mamba2", "ssd:nemotron_h", "kda:minimax", "gdn:qwen3_next"])
def test_chunk_loops_give_exact_numbers_where_their_guards_hold_and_refuse_elsewhere(key):
    """A chunked scan's closed form (floor and Mod terms of the padded length) holds on the
    region its guards give: there its numbers are FlopCounterMode's, elsewhere refused."""
    config = ALL[key]
    traced = trace(config, seq_len=13, batch=2)
    held = 0
    for seq_len in (5, 13, 30, 77):
        measured = measure(config, batch=2, seq_len=seq_len)
        values = traced.run_values(seq_len=seq_len, batch=2)
        if traced.holds_at(values):
            held += 1
            assert traced.evaluate(traced.forward(), seq_len=seq_len, batch=2) == measured.forward
            assert traced.evaluate(traced.backward(), seq_len=seq_len, batch=2) == measured.backward
        else:
            with pytest.raises(mfu_sym.UsageError, match="not known to hold"):
                traced.evaluate(traced.forward(), seq_len=seq_len, batch=2)
    assert held >= 1 and traced.guards


# families the formula library does not model: traced, and checked against numeric counts
UNMODELLED = {
    "opt": {"model_type": "opt", "hidden_size": 32, "num_attention_heads": 4, "ffn_dim": 48, "num_hidden_layers": 2,
            "vocab_size": 64, "word_embed_proj_dim": 32, "max_position_embeddings": 64},
    "gpt_neox": {"model_type": "gpt_neox", "hidden_size": 32, "num_attention_heads": 4, "intermediate_size": 48,
                 "num_hidden_layers": 2, "vocab_size": 64, "rotary_pct": 0.5},
    "phi": {"model_type": "phi", "hidden_size": 32, "num_attention_heads": 4, "intermediate_size": 48,
            "num_hidden_layers": 2, "vocab_size": 64, "partial_rotary_factor": 0.5},
    "gptj": {"model_type": "gptj", "n_embd": 32, "n_head": 4, "n_layer": 2, "vocab_size": 64, "rotary_dim": 4,
             "n_positions": 64},
    "falcon": {"model_type": "falcon", "hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 2,
               "vocab_size": 64, "new_decoder_architecture": True, "num_kv_heads": 2},
    "codegen": {"model_type": "codegen", "n_embd": 32, "n_head": 4, "n_layer": 2, "vocab_size": 64, "rotary_dim": 4,
                "n_positions": 64, "n_ctx": 64},
    "nemotron": {"model_type": "nemotron", "hidden_size": 32, "num_attention_heads": 4, "num_key_value_heads": 2,
                 "intermediate_size": 48, "num_hidden_layers": 2, "vocab_size": 64},
    "olmo": {"model_type": "olmo", "hidden_size": 32, "num_attention_heads": 4, "intermediate_size": 48,
             "num_hidden_layers": 2, "vocab_size": 64},
}


def test_the_unmodelled_families_are_not_in_the_library():
    from mfu_sym import hf
    assert set(UNMODELLED) <= set(hf.unsupported()) and not set(UNMODELLED) & set(hf.families())


@pytest.mark.parametrize("name", sorted(UNMODELLED))
def test_an_unmodelled_family_traces_to_what_the_counter_counts(name):
    config = UNMODELLED[name]
    traced = trace(config)
    for batch, seq_len in ((2, 5), (3, 11)):
        measured = measure(config, batch=batch, seq_len=seq_len)
        assert traced.evaluate(traced.forward(), seq_len=seq_len, batch=batch) == measured.forward
        assert traced.evaluate(traced.backward(), seq_len=seq_len, batch=batch) == measured.backward
    assert traced.params == measured.params


def test_a_batch_of_one_is_counted_at_that_point():
    """torch fixes sizes of 1, so the polynomial (traced at batch >= 2) is checked against
    a pass at exactly batch 1 before its value is given."""
    config = UNMODELLED["opt"]
    traced = trace(config, seq_len=7, batch=1)
    measured = measure(config, batch=1, seq_len=7)
    values, exact_pass = traced.values_at(seq_len=7, batch=1)
    assert values["training"] == measured.training and not exact_pass
    assert traced.evaluate(traced.training(), seq_len=7, batch=1) == measured.training


PUBLISHED = ["llama3_8b", "mixtral_8x7b", "deepseek_v3"]


@pytest.mark.parametrize("name", PUBLISHED)
def test_the_published_configs_are_proved(name):
    """The configs as their authors publish them (examples/hf), traced at full size on
    fake tensors: the library's torch-preset polynomials are the implementation's."""
    from pathlib import Path
    path = Path(__file__).resolve().parents[2] / "examples" / "hf" / name / "config.json"
    traced = trace(path)
    proof = prove(mfu_sym.load(path, preset="torch"), traced)
    assert proof.identical and not traced.guards, _difference(proof)


DECODE = {**test_dense.SMALL, **test_moe.SMALL}
# transformers' sliding-window cache below its window branches on the cached length in
# Python: the context becomes a constant there (up to the window), which the trace refuses (past it
# the step is a polynomial again and proved)
SLIDING_CACHE = {"gemma2-alternating", "mistral-window", "mixtral-window", "qwen2-window"}


@pytest.mark.parametrize("context", [5, 13])  # below and past every window of these configs
@pytest.mark.parametrize("name", sorted(DECODE))
def test_a_decode_step_is_the_library_s_as_a_polynomial_in_the_context(tmp_path, name, context):
    from mfu_sym.inference import Inference
    from mfu_sym.tracing.proof import prove_decode
    config = DECODE[name]
    if name in SLIDING_CACHE and context <= config["sliding_window"]:
        with pytest.raises(TraceError, match="turns a symbolic size into a constant"):
            trace(config, seq_len=context, batch=2, decode=True)
        return
    traced = trace(config, seq_len=context, batch=2, decode=True)
    proof = prove_decode(Inference(engine(config, tmp_path)), traced)
    assert proof.identical_totals, {k: str(v[2]) for k, v in proof.total.items()}
