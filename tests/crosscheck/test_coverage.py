"""Every causal language model of the installed transformers is accounted for: a family
mfu-sym reads (formulas/hf_families*.yaml), a redirect to the text config it can read,
or a model_type it refuses with a reason (formulas/hf_unsupported.yaml). An upgrade of
transformers that adds one fails here until it is described or listed."""

import pytest
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

from mfu_sym import hf

from .compare import engine

FAMILIES, UNSUPPORTED = hf.families(), hf.unsupported()


def test_every_causal_lm_is_read_redirected_or_refused_with_a_reason():
    unaccounted = sorted(set(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES) - set(FAMILIES) - set(UNSUPPORTED) - set(hf.REDIRECTS))
    assert unaccounted == []


def test_a_model_type_is_either_read_or_refused():
    assert set(FAMILIES) & set(UNSUPPORTED) == set()
    assert set(hf.REDIRECTS) & set(UNSUPPORTED) == set()


@pytest.mark.parametrize("model_type", sorted(UNSUPPORTED))
def test_an_unsupported_model_type_is_refused_with_its_reason(tmp_path, model_type):
    from mfu_sym.errors import ConfigError
    with pytest.raises(ConfigError) as error:
        engine({"model_type": model_type, "hidden_size": 64}, tmp_path)
    assert error.value.field == "model_type"
    assert error.value.message == f"{model_type!r} is not supported by mfu-sym: {UNSUPPORTED[model_type]}"


# the decoder-only families of 2026 that must be read (issue 14), beside the first 14
REQUIRED = """gpt_oss llama4_text llama4 glm glm4 glm4_moe glm4_moe_lite deepseek_v2 deepseek_v32 kimi_linear
qwen3_next qwen3_5_text qwen3_5_moe_text qwen3_5 qwen3_5_moe olmo3 olmo_hybrid smollm3 cohere cohere2 granite
granitemoe granitemoeshared granitemoehybrid ernie4_5 ernie4_5_moe hunyuan_v1_dense hunyuan_v1_moe exaone4 seed_oss
minimax minimax_m2 mamba mamba2 bamba jamba falcon_h1 nemotron_h lfm2 starcoder2 stablelm gemma phimoe dots1 afmoe
apertus arcee helium ministral longcat_flash llama mistral qwen2 qwen3 gemma2 gemma3_text phi3 olmo2 gpt2 mixtral
qwen2_moe qwen3_moe olmoe deepseek_v3""".split()


def test_the_families_people_train_are_read():
    assert sorted(set(REQUIRED) - set(FAMILIES)) == []


def test_the_activations_with_parameters_are_those_transformers_has():
    """An activation with learned parameters in an attribute a family ignores is refused
    (hf_activations); a transformers upgrade that adds one fails here until it is listed."""
    from transformers.activations import ACT2FN
    found = set()
    for name in ACT2FN:
        module = ACT2FN[name]
        if sum(p.numel() for p in module.parameters()):
            found.add(name)
    assert found == set(hf.activations()[1])


@pytest.mark.parametrize("activation", ["prelu", "xielu"])
def test_a_parametric_activation_adds_parameters_the_families_would_miss(activation):
    """The reason for the refusal, shown on Llama: transformers builds the activation's
    parameters into every MLP."""
    from transformers import AutoModelForCausalLM, LlamaConfig
    sizes = dict(hidden_size=32, num_attention_heads=4, intermediate_size=48, num_hidden_layers=2, vocab_size=64)
    plain = AutoModelForCausalLM.from_config(LlamaConfig(**sizes))
    learned = AutoModelForCausalLM.from_config(LlamaConfig(**sizes, hidden_act=activation))
    extra = sum(p.numel() for p in learned.parameters()) - sum(p.numel() for p in plain.parameters())
    assert extra == 2 * {"prelu": 1, "xielu": 2}[activation]
