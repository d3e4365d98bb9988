"""Layer patterns of Hugging Face configs: which mixer and feed-forward block each layer
has, read as the family's modeling code decides it.

A family of formulas/hf_families*.yaml with `stack: {pattern: NAME, ...}` is read by the
pattern NAME (a reader of hf_layers/); the rest of the entry parameterises it. A reader
is f(reader, rule, fields, layer_types, dense) -> (mixers, ffns), two lists of kinds
(kinds.py), one entry per layer: `reader` is hf._Reader (attrs, source, written keys,
flag()), `rule` the family's stack entry, `fields` the Architecture fields read so far
(n_layers, n_experts, ...), `layer_types` and `dense` what the family's windows and moe
rules decided. Families without `stack` keep the simpler `windows` and `moe` rules of
hf.py.
"""

from .errors import ConfigError
from .hf_layers import attna, attnb, common, deepseek, gdn, kda, mamba, moea, moeb, ssd

MODULES = (common, attna, attnb, mamba, gdn, deepseek, moeb, moea, kda, ssd)

PATTERNS = {}
for _module in MODULES:
    for _name, _reader in _module.PATTERNS.items():
        assert _name not in PATTERNS, f"layer pattern {_name} defined twice"
        PATTERNS[_name] = _reader


def read(reader, rule, fields, layer_types, dense):
    mixers, ffns = PATTERNS[rule["pattern"]](reader, rule, fields, layer_types, dense)
    n_layers = fields["n_layers"]
    if len(mixers) != n_layers or len(ffns) != n_layers:
        raise ConfigError(reader.source, rule.get("key", "layer_types"),
                          f"gives {len(mixers)} layers (expected one per layer: {n_layers})")
    return list(mixers), list(ffns)
