"""Counting conventions: the switches, and the named presets built from them.

A preset (formulas/presets.yaml) is a named set of switches that reproduces one
published way of counting. `Conventions.from_preset(name, **overrides)` applies one;
switches given explicitly override the preset's and are reported as such.
"""

from dataclasses import dataclass, field, fields
from functools import lru_cache

from .errors import UsageError

MASKS = ("causal", "full", "half")
KERNELS = ("eager", "flash")
RECOMPUTE = ("none", "selective", "full")
MLA_FORMS = ("naive", "absorbed")
CHOICES = {"mask": MASKS, "attention_kernel": KERNELS, "recompute": RECOMPUTE, "mla": MLA_FORMS,
           "selective_cost": ("forward", "training"), "flops_from": ("formulas", "params")}
FLAGS = ("half_windows", "exact_windows", "count_recompute", "embedding_flops", "router", "mtp", "mtp_logits", "attention_core")
LISTS = ("nonmatmul", "params_exclude")
# params_exclude's name for the token embedding where the LM head has its own weight: a
# table tied to the head is the head's weight and stays in N (torchtitan's
# get_nparams_and_active_nparams: "Embedding tables are excluded unless their parameter
# is shared with the output head"); resolved per model by Conventions.resolved.
UNTIED_EMBEDDING = "untied_token_embedding"


@dataclass(frozen=True)
class Conventions:
    """The counting switches in force. Defaults: the `exact` preset."""

    mask: str = "causal"
    attention_kernel: str = "eager"
    recompute: str = "none"  # activation recomputation: hardware FLOPs (HFU), never MFU ...
    count_recompute: bool = False  # ... unless a convention counts it (Narayanan 2021)
    selective_cost: str = "forward"
    mla: str = "naive"  # MLA as trained (naive) or with the up-projections absorbed
    mtp: bool = False  # count multi-token-prediction modules in the totals
    mtp_logits: bool = True
    half_windows: bool = False
    exact_windows: bool = False
    embedding_flops: bool = False
    nonmatmul: tuple = ()
    router: bool = True
    flops_from: str = "formulas"
    params_exclude: tuple = ()
    attention_core: bool = True
    variants: tuple = ()  # ((name, choice), ...): disputed terms (formulas/variants.yaml)
    preset: str = "exact"
    overridden: tuple = field(default=(), compare=False)  # switches set over the preset
    root: object = field(default=None, compare=False, repr=False)  # data.DataRoot of the variants

    def __post_init__(self):
        for name, choices in CHOICES.items():
            if getattr(self, name) not in choices:
                raise UsageError(None, name, f"{getattr(self, name)!r} (expected one of {', '.join(choices)})")
        if self.half_windows and self.exact_windows:
            raise UsageError(None, "exact_windows", "and half_windows both set (a window is halved or exact)")
        if isinstance(self.variants, dict):
            object.__setattr__(self, "variants", tuple(sorted(self.variants.items())))
        table = load_variants(self.root)
        for name, choice in self.variants:
            check_variant(table, name, choice)

    def variant(self, name):
        """The choice in force for the disputed term `name`: set by the preset or
        --variant, else the variant's default."""
        chosen = dict(self.variants)
        return chosen[name] if name in chosen else load_variants(self.root)[name].default

    def resolved(self, names, tied=None):
        """These conventions with every variant in `names` (the ones a model reads) set
        explicitly, defaults included, so that describe() says which were in force; and,
        given whether the model ties its LM head to the token embedding (`tied`),
        params_exclude's `untied_token_embedding` made `token_embedding` or dropped."""
        from dataclasses import replace
        exclude = self.params_exclude
        if UNTIED_EMBEDDING in exclude and tied is not None:
            swap = () if tied else ("token_embedding",)
            exclude = tuple(dict.fromkeys(out for name in exclude
                                          for out in (swap if name == UNTIED_EMBEDDING else (name,))))
        return replace(self, variants=tuple(sorted({name: self.variant(name) for name in names}.items())),
                       params_exclude=exclude, overridden=self.overridden)

    @classmethod
    def from_preset(cls, preset="exact", root=None, **overrides):
        """The preset's switches, then every override that is not None (`root`: the data
        root whose presets to use; default the bundled ones)."""
        presets = load_presets(root)
        if preset not in presets:
            import difflib
            close = difflib.get_close_matches(str(preset), list(presets), n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise UsageError(None, "preset", f"unknown preset {preset!r} ({hint}expected one of {', '.join(presets)})")
        given = {k: v for k, v in overrides.items() if v is not None}
        known = {f.name for f in fields(cls)} - {"preset", "overridden", "root"}
        for key in given:
            if key not in known:
                raise UsageError(None, key, f"unknown switch (expected one of {', '.join(sorted(known))})")
        base = dict(presets[preset].switches)
        changed = [k for k, v in given.items() if k != "variants" and base.get(k, getattr(cls, k)) != v]
        if "variants" in given:
            base_variants = dict(base.get("variants", ()))
            wanted = dict(given.pop("variants"))
            changed += [f"variant {k}" for k, v in wanted.items() if base_variants.get(k) != v]
            given["variants"] = {**base_variants, **wanted}
        conventions = cls(**{**base, **given, "preset": preset, "overridden": tuple(changed), "root": root})
        for key in ("half_windows", "exact_windows"):  # they qualify the halved mask only
            if given.get(key) and conventions.mask != "half":
                raise UsageError(None, key, f"applies to the halved mask only (the mask is {conventions.mask})")
        return conventions

    def mask_for(self, kind):
        """The mask of a mixer kind's attention core (formulas/masks.yaml). A dense or
        halved count ignores windows and chunks (dense kernels compute the square;
        Megatron-LM's halving knows neither), except MaxText's (half_windows: windows and
        chunks halved) and Megatron-Bridge's (exact_windows: sliding windows exact, chunks
        ignored)."""
        local = {"sliding_attention": ("sliding_window", "half_window"), "chunked_attention": ("chunked", "half_chunk")}
        if self.mask == "causal":
            return local[kind][0] if kind in local else "causal"
        if self.mask == "half" and kind == "sliding_attention" and self.exact_windows:
            return "sliding_window"
        if self.mask == "half" and kind in local and self.half_windows:
            return local[kind][1]
        return self.mask

    def counts_nonmatmul(self, name):
        """Whether the elementwise formula `name` is counted (MLA's decoupled rotary
        answers to `rotary`, like every rotary embedding)."""
        kind = {"rotary_mla": "rotary"}.get(name, name)
        return "all" in self.nonmatmul or kind in self.nonmatmul

    def describe(self):
        """The switches in force (machine-readable), with each explained in words."""
        switches = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("overridden", "root")}
        for key in LISTS:
            switches[key] = list(switches[key])
        switches["variants"] = dict(self.variants)
        return {**switches, "overridden": list(self.overridden), "explained": self.explain()}

    def explain(self):
        """Every switch in words, for outputs: which convention produced the numbers."""
        preset = self.preset + (f" (overridden: {', '.join(self.overridden)})" if self.overridden else "")
        if self.flops_from == "params":
            counted = ("2 FLOPs per parameter per token forward, 4 backward"
                       + (f"; N leaves out {', '.join(self.params_exclude)}" if self.params_exclude else "")
                       + ("; plus the attention core's matmuls" if self.attention_core else "; no attention term"))
        else:
            counted = "matmul FLOPs (2 per multiply-add)"
            if self.nonmatmul:
                counted += f"; non-matmul ops: {', '.join(self.nonmatmul)}"
            if self.embedding_flops:
                counted += "; the embedding as a one-hot matmul"
            if not self.router:
                counted += "; router not counted"
        mask = {"causal": "causal: query t sees t keys (min(t, W) in a window)",
                "full": "full: every query sees all S keys (windows ignored)",
                "half": "half: S/2 keys per query" + (" (window layers min(S, W)/2)" if self.half_windows
                                                      else " (window layers exact, chunks ignored)"
                                                      if self.exact_windows else " (windows ignored)")}[self.mask]
        recompute = {"none": "none", "full": "every layer's forward recomputed",
                     "selective": "attention core recomputed"
                     + (" (forward and backward charged, Korthikanti Eq. 8)" if self.selective_cost == "training" else "")}
        explained = {
            "preset": preset,
            "counted": counted,
            "mask": mask,
            "attention_kernel": self.attention_kernel + (" (backward 2 x forward)" if self.attention_kernel == "eager"
                                                         else " (QK^T recomputed: 2*h*keys*(3*d_qk + 2*d_v))"),
            "backward": "2 x forward for every matmul",
            "recompute": recompute[self.recompute] + (" (counted in training FLOPs)" if self.count_recompute
                                                      and self.recompute != "none" else ""),
            "mla": self.mla,
            "mtp": ("counted" + ("" if self.mtp_logits else ", without its logits")) if self.mtp
                   else "left out of the totals (reported apart)",
        }
        table = load_variants(self.root)
        for name, choice in self.variants:
            explained[f"variant {name}"] = f"{choice}: {table[name].choices[choice].description}"
        return explained


@dataclass(frozen=True)
class Identity:
    """A paper's closed form a preset claims: per-step training (or hardware) FLOPs, for
    models that meet `assumes` (structural: attention standard/mla, windows none, mlp
    gated/plain; or sizes: symbol -> expression)."""

    statement: str
    kind: str             # "training" or "hardware"
    expression: object    # sympy, over the library's symbols (n_params: the preset's N)
    assumes: dict         # structural key -> value, or symbol name -> sympy expression


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    reference: object     # definitions.Citation, checked against the bibliography
    switches: dict
    identities: tuple     # of Identity


@dataclass(frozen=True)
class Choice:
    name: str
    description: str
    reference: object  # definitions.Citation


@dataclass(frozen=True)
class Variant:
    """A disputed term: the ways to count it, each with its source, and the default."""

    name: str
    description: str
    default: str
    choices: dict  # name -> Choice


def load_variants(root=None):
    """name -> Variant, from the variants sections of the data root (default bundled)."""
    from . import data
    return _load_variants(root or data.root())


@lru_cache(maxsize=8)
def _load_variants(root):
    from .definitions import section_entries
    from .library import _load as library_of
    references = library_of(root).references
    out = {}
    for path, entries in root.sections("variants"):
        for entry in section_entries(path, "variants", entries):
            name = entry.name()
            if name in out:
                entry.fail("name", f"duplicate variant {name!r}")
            choices = {}
            for item in entry.entries("choices"):
                choice = Choice(item.name(), item.text("description").strip(),
                                item.citation("reference", references))
                if choice.name in choices:
                    item.fail("name", f"duplicate choice {choice.name!r}")
                choices[choice.name] = choice
                item.done()
            default = entry.text("default")
            if default not in choices:
                entry.fail("default", f"{default!r} is not one of its choices ({', '.join(choices)})")
            out[name] = Variant(name, entry.text("description").strip(), default, choices)
            entry.done()
    return out


def check_variant(table, name, choice):
    if name not in table:
        import difflib
        close = difflib.get_close_matches(str(name), list(table), n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise UsageError(None, "variant", f"unknown disputed term {name!r} ({hint}expected one of "
                                          f"{', '.join(sorted(table))})")
    if choice not in table[name].choices:
        raise UsageError(None, f"variant {name}", f"{choice!r} (expected one of {', '.join(table[name].choices)})")


STRUCTURAL_ASSUMPTIONS = {"attention": ("standard", "mla"), "windows": ("none",), "mlp": ("gated", "plain")}


def load_presets(root=None):
    """name -> Preset, from the data root's presets section (a presets.yaml in a
    --formulas directory replaces the bundled one)."""
    from . import data
    return dict(_load_presets(root or data.root()))


@lru_cache(maxsize=8)
def _load_presets(root):
    from . import expr
    from .library import _load as library_of, parse_memo
    library = library_of(root)
    with expr.memoized(parse_memo(root, "presets")):  # the identities' formulas, kept from the last run
        return _read_presets(root, library)


def _read_presets(root, library):
    from .definitions import section_entries
    names = {name: info.symbol for name, info in library.symbols.items()}
    path, entries = root.section("presets")
    presets = {}
    for entry in section_entries(path, "presets", entries):
        name = entry.text("name")
        if name in presets:
            entry.fail("name", f"duplicate preset {name!r}")
        presets[name] = Preset(name, entry.text("description").strip(),
                               entry.citation("reference", library.references), _switches(entry, root),
                               tuple(_identity(e, names) for e in entry.entries("identities", [])))
        entry.done()
    return tuple(presets.items())


def _switches(entry, root):
    switches = dict(entry.entry("switches").value) if entry.has("switches") else {}
    for key, value in switches.items():
        if key == "variants":
            if not isinstance(value, dict):
                entry.fail("switches.variants", "expected a mapping of disputed term -> choice")
            switches[key] = tuple(sorted(value.items()))
        elif key in LISTS:
            switches[key] = tuple(value) if isinstance(value, list) else value
        elif key not in CHOICES and key not in FLAGS:
            entry.fail(f"switches.{key}", "unknown switch")
    try:
        Conventions(**switches, root=root)
    except (UsageError, TypeError) as exc:
        entry.fail("switches", str(exc))
    return switches


def _identity(entry, names):
    kinds = [kind for kind in ("training", "hardware") if entry.has(kind)]
    if len(kinds) != 1:
        entry.fail(None, "an identity gives exactly one of training or hardware")
    assumes = {}
    if entry.has("assumes"):
        table = entry.entry("assumes")
        for key in table.value:
            if key in STRUCTURAL_ASSUMPTIONS:
                assumes[key] = table.choice(key, STRUCTURAL_ASSUMPTIONS[key])
            elif key in names:
                assumes[key] = table.expression(key, names)
            else:
                table.fail(key, "unknown assumption (expected attention, windows, mlp or a symbol of the library)")
    identity = Identity(entry.text("statement"), kinds[0], entry.expression(kinds[0], names), assumes)
    entry.done()
    return identity


# Switches whose conventions line applies only to some models (the text output leaves the
# others out; JSON keeps every switch).
STRUCTURAL_SWITCHES = ("mla", "mtp")


def applicable_switches(model):
    """The structural switches that apply to `model`: "mla" with multi-head latent attention
    layers, "mtp" with multi-token prediction modules."""
    from .stack import count_of
    out = set()
    if count_of(model.arch.layers, "mixer", "mla"):
        out.add("mla")
    if model.arch.n_mtp_layers:
        out.add("mtp")
    return frozenset(out)
