"""The checks every group of softmax-attention families runs against transformers
(test_attna.py, test_attnb.py): the same assertions over each group's small models."""

import json
from pathlib import Path

import pytest
import torch

import mfu_sym
from mfu_sym.inference import Inference

from .compare import assert_same, engine
from .reference import build_model, count_params, measure, measure_decode
from .test_config_fidelity import _forms, _keys_per_layer, _our_keys_per_layer

ROOT = Path(__file__).resolve().parents[2]


def families_covered(small, family_file):
    """The model_types of `small` are exactly the families of formulas/FAMILY_FILE."""
    import yaml
    table = yaml.safe_load((ROOT / "formulas" / family_file).read_text())
    assert {config["model_type"] for config in small.values()} == set(table["hf_families"])


def small_model_exact(tmp_path, config, implementation, kernel, *, batch, seq_len):
    """Parameters, forward, backward, training and each component: 0 difference."""
    measured = measure(config, batch=batch, seq_len=seq_len, attn_implementation=implementation)
    model = engine(config, tmp_path, mask="full", attention_kernel=kernel)
    assert_same(model, measured, batch=batch, seq_len=seq_len)


def keys_per_layer_match(tmp_path, config, seq_len):
    """The causal count sums, per layer, the keys transformers' own masks let each query see."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    assert _our_keys_per_layer(mfu_sym.load_architecture(path), seq_len) == _keys_per_layer(config, seq_len)


def decode_step_exact(tmp_path, config, implementation, *, batch, context):
    measured = measure_decode(config, batch=batch, context=context, attn_implementation=implementation)
    inference = Inference(engine(config, tmp_path), dtype="fp32")
    assert inference.report(context, batch=batch)["decode_step"]["flops"] == measured.forward
    assert inference.model.evaluate(inference.decode_step_flops().subs(
        {inference.context: context, inference.batch: batch})) == measured.forward


def kv_cache_is_what_transformers_allocates(tmp_path, config, *, batch, context):
    """Full layers hold every position; window layers hold min(C, W) in the engine, and
    transformers' sliding cache keeps W - 1 once the step is done (the relation
    test_decode.py pins): the totals differ by exactly those positions."""
    measured = measure_decode(config, batch=batch, context=context, attn_implementation="eager")
    inference = Inference(engine(config, tmp_path), dtype="fp32")
    arch = inference.model.arch
    report = inference.report(context, batch=batch)
    kinds = arch.layer_types
    held = [keys[2] for keys, _ in measured.cache_shapes]
    assert held == [min(context, arch.window - 1) if kind == "sliding_attention" else context for kind in kinds]
    (per_position,) = {4 * (k[1] * k[3] + v[1] * v[3]) for k, v in measured.cache_shapes}
    assert report["kv_cache_bytes_per_token"] == arch.n_layers * per_position
    dropped = sum(1 for kind in kinds if kind == "sliding_attention" and context >= arch.window)
    assert report["kv_cache_bytes"] == measured.cache_bytes + batch * per_position * dropped


def _counts(data, tmp_path, seq_len, **conventions):
    report = engine(data, tmp_path, **conventions).report(seq_len=seq_len, batch=1)
    return report["params"]["total"], report["flops"]["forward"], report["flops"]["training"]


def every_form_reads_the_same(tmp_path, config, seq_len):
    """As written, aliased, to_dict() and save_pretrained: the same exact counts, equal to
    the parameters of the model built from each form and to FlopCounterMode."""
    measured = measure(config, batch=1, seq_len=seq_len, attn_implementation="eager")
    exact = set()
    for form, data in _forms(config, tmp_path).items():
        assert count_params(build_model(data, attn_implementation="eager", device="meta")) == measured.params, form
        assert _counts(data, tmp_path, seq_len, mask="full", attention_kernel="eager") == (
            measured.params, measured.forward, measured.training), form
        exact.add(_counts(data, tmp_path, seq_len))
    assert len(exact) == 1


def transformers_fails(config, seq_len=6):
    with pytest.raises(Exception):
        model = build_model(config, attn_implementation="eager")
        with torch.no_grad():
            model(torch.zeros(1, seq_len, dtype=torch.long))
