"""Published parameter counts of the attna families' flagships (examples/hf/*/config.json),
from outside the engine: printed parameter totals of the released checkpoints and Hub
safetensors totals. Sources beside each figure and in tests/sources.md ("attna").

Flagships not here (OLMo 3, SmolLM3, Command-R, Command-R7B, ERNIE 4.5, Hunyuan dense,
GLM-4-0414): no copy of their published config.json that says it is the file was found
in the search indexes; see examples/hf/SOURCES.md. Hunyuan dense is represented by
Tencent's Hy-MT2-7B, on the same architecture (not the flagship; see SOURCES.md).
"""

from pathlib import Path

import pytest

import mfu_sym

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

PUBLISHED_TOTAL = {
    # GLM-4-9B-Chat (THUDM/glm-4-9b-chat, transformers format, model_type glm): the GLM-4
    # repository's demo prints "You are served by GLM-4, with 9399951360 (9.4B) parameters."
    # and a load log of THUDM/glm-4-9b-chat prints "9399951360 (100.00%) are trainable"
    # (search-index file ids 42305816254 and 29151670186); the weights are the same in both
    # formats (the ChatGLM format's 32 extra are a non-trainable rotary buffer).
    "hf/glm4_9b_chat/config.json": 9_399_951_360,
    # Granite-3.0-2B-Instruct: 2,533,531,648, the Hub safetensors total of IBM's 2B Granite 3.x
    # checkpoints (granite-3.1-2b-instruct, granite-3.2-2b-instruct, granite-guardian-3.1-2b:
    # search-index file ids 61249037944, 69825381427, 68517529394), whose configs give the same
    # sizes as 3.0's (hidden 2048, 40 layers, 32/8 heads, intermediate 8192, vocab 49155, tied).
    "hf/granite3_2b_instruct/config.json": 2_533_531_648,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED_TOTAL))
def test_total_parameters_match_the_published_figure(name):
    model = mfu_sym.load(EXAMPLES / name)
    assert int(model.evaluate(model.param_counts()["total"])) == PUBLISHED_TOTAL[name]


# (count, half the last digit): a figure published rounded
PUBLISHED_ROUNDED = {
    # Hy-MT2-7B: the Hub lists tencent/Hy-MT2-7B at "8B" parameters (its safetensors total,
    # rounded to the billion) in Tencent's Hy-MT2 collection (huggingface.co/collections/
    # tencent/hy-mt2); an untied head would add 524,972,032 and still round to 8B, so this
    # bounds the total, it does not pin the tie.
    "hf/hy_mt2_7b/config.json": (8_000_000_000, 500_000_000),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED_ROUNDED))
def test_total_parameters_round_to_the_published_figure(name):
    model = mfu_sym.load(EXAMPLES / name)
    figure, half = PUBLISHED_ROUNDED[name]
    assert abs(int(model.evaluate(model.param_counts()["total"])) - figure) <= half
