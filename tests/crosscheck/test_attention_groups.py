"""The checks of attention_checks.py over the small models of both groups of softmax-attention
families (test_attna.py: GLM, GLM-4, OLMo 3, SmolLM3, Cohere, Cohere 2, Granite, ERNIE 4.5,
Hunyuan dense; test_attnb.py: EXAONE 4, Seed-OSS, StarCoder2, StableLM, Gemma, Apertus, Arcee,
Helium, Ministral): parameters, forward, backward and training FLOPs with eager attention and
SDPA, keys per layer against transformers' masks, a decode step and its KV cache, and the four
forms of a config, each exact against transformers 5.23 and FlopCounterMode."""

import pytest

from . import test_attna, test_attnb
from .attention_checks import (decode_step_exact, every_form_reads_the_same, keys_per_layer_match,
                               kv_cache_is_what_transformers_allocates, small_model_exact)

SMALL = {**test_attna.SMALL, **test_attnb.SMALL}
WINDOWED = test_attna.WINDOWED + test_attnb.WINDOWED
SEQ_LENS = [3, 11]  # below every window of both groups (4..6); past every one and no multiple of one
BATCH = 2


def test_the_sequence_lengths_fall_on_both_sides_of_every_window():
    windows = {SMALL[name]["sliding_window"] for name in WINDOWED}
    assert all(min(SEQ_LENS) < w < max(SEQ_LENS) and max(SEQ_LENS) % w for w in windows)


# ------------------------------------------------------------------ forward, backward, training


@pytest.mark.parametrize("seq_len", SEQ_LENS)
@pytest.mark.parametrize("implementation, kernel", [("eager", "eager"), ("sdpa", "flash")])
@pytest.mark.parametrize("name", list(SMALL))
def test_small_models_exact(tmp_path, name, implementation, kernel, seq_len):
    small_model_exact(tmp_path, SMALL[name], implementation, kernel, batch=BATCH, seq_len=seq_len)


@pytest.mark.parametrize("name", WINDOWED)
def test_keys_per_layer_match_transformers_masks(tmp_path, name):
    keys_per_layer_match(tmp_path, SMALL[name], max(SEQ_LENS))


# ------------------------------------------------------------------ decode and the KV cache

CONTEXTS = [1, 3, 9]  # an empty cache; below every window; past every window


@pytest.mark.parametrize("context", CONTEXTS)
@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
@pytest.mark.parametrize("name", list(SMALL))
def test_decode_step_exact(tmp_path, name, implementation, context):
    decode_step_exact(tmp_path, SMALL[name], implementation, batch=BATCH, context=context)


@pytest.mark.parametrize("context", CONTEXTS)
@pytest.mark.parametrize("name", list(SMALL))
def test_kv_cache_is_what_transformers_allocates(tmp_path, name, context):
    kv_cache_is_what_transformers_allocates(tmp_path, SMALL[name], batch=BATCH, context=context)


# ------------------------------------------------------------------ the forms of a config


@pytest.mark.parametrize("name", list(SMALL))
def test_every_form_reads_the_same(tmp_path, name):
    every_form_reads_the_same(tmp_path, SMALL[name], max(SEQ_LENS))
