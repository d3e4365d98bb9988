"""A Term: one formula of a model, how many times the model has it, and where it adds up."""

from dataclasses import dataclass

import sympy


@dataclass(frozen=True)
class Term:
    formula: object  # library.Formula
    count: sympy.Expr  # how many of it the model has
    mask: object = None  # library.Mask for position-dependent formulas
    component: str = ""  # where it adds up; default the formula's own (MTP layers: "mtp")
    flops: bool = True  # False: its parameters count, its FLOPs do not (a convention's choice)
    # True: its FLOPs and active parameters are an expectation over routing (zero-computation
    # experts), an exact fraction that need not be whole
    expected: bool = False

    @property
    def kind(self):
        return self.component or self.formula.component
