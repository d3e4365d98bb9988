"""What a block is: one kind of token mixer or feed-forward block (Block), and a
model-wide choice blocks read (Feature). The kinds themselves live in blocks/."""

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Block:
    """One kind of mixer or feed-forward block.

    terms(arch, library, conventions, count, component) yields the Terms of `count`
    layers of this kind (component: "" for the main stack, "mtp" for MTP modules);
    nonmatmul(arch, library, conventions, count) its elementwise Terms, for the
    conventions that count them. `count_symbol` names the count of such layers when
    kinds share the stack (the symbol of formulas/symbols.yaml); a kind without one is
    the remainder, n_layers minus the others. `norms`: normalisation layers one block
    adds under pre/post placement (sandwich doubles them); 0 for an empty block.
    `sizes`: symbols the block needs; `optional_sizes`: symbols it reads when given.
    `variants`: convention variants (formulas/variants.yaml) it reads;
    `variants_for(arch)`: those it reads only for some models of the kind (a variant
    that applies to one family's experts, say), beside `variants`.
    """

    name: str
    part: str
    description: str
    terms: Callable
    nonmatmul: Callable = None
    count_symbol: str = None
    norms: int = 1
    sizes: tuple = ()
    optional_sizes: tuple = ()
    variants: tuple = ()
    features: tuple = ()
    check: Callable = None  # check(arch, source): cross-field rules, raising ConfigError
    variants_for: Callable = None  # variants_for(arch) -> variant names read for this model only

    @property
    def empty(self):
        return self.norms == 0


@dataclass(frozen=True)
class Feature:
    """A model-wide choice that blocks read: its allowed values and default."""

    name: str
    choices: tuple
    default: object
    description: str
