"""Full-size published configs, built on the meta device (shapes only, nothing
allocated), counted by FlopCounterMode at their real sequence lengths and compared
exactly. SDPA on meta runs the math kernel, so these use eager attention."""

import json
from pathlib import Path

import pytest

from .compare import assert_same, engine
from .reference import measure

HF = Path(__file__).resolve().parents[2] / "examples" / "hf"
# (published config, sequence length it was trained or served at, batch)
FULL_SIZE = [
    ("llama3_8b", 8192, 1),
    ("llama3_70b", 8192, 1),
    ("mistral_7b", 8192, 2),
    ("qwen2_5_7b", 4096, 1),
    ("gemma3_1b", 32768, 1),
    ("gemma3_27b", 8192, 1),
    ("llama3_405b", 8192, 1),
    ("qwen3_8b", 4096, 1),
    ("gemma2_9b", 8192, 1),
    ("phi3_mini", 4096, 1),
    ("olmo2_7b", 4096, 1),
    ("gpt2", 1024, 8),
]


@pytest.mark.parametrize("name, seq_len, batch", FULL_SIZE)
def test_published_config_at_full_size(tmp_path, name, seq_len, batch):
    config = json.loads((HF / name / "config.json").read_text())
    measured = measure(config, batch=batch, seq_len=seq_len, attn_implementation="eager", device="meta")
    model = engine(config, tmp_path, mask="full", attention_kernel="eager")
    assert_same(model, measured, batch=batch, seq_len=seq_len)
