"""How many distinct routed experts a batch of tokens touches: the expectation under
uniform, independent top-k routing, exact while it can be written down."""

import sympy

EXACT_BITS = 1 << 14  # (1 - k/E)^T stays an exact fraction up to E^T of this many bits
DIGITS = 60  # past that, it is computed to this many significant digits


class expected_experts(sympy.Function):
    """E (1 - (1 - k/E)^T): the expected number of distinct routed experts that T tokens
    touch when each picks k of E uniformly and independently. At given integers it is the
    exact fraction while E^T is small enough to write down (EXACT_BITS), else the same
    expectation to DIGITS significant digits (a huge batch makes (1 - k/E)^T astronomically
    small, and its exact fraction would have billions of digits)."""

    @classmethod
    def eval(cls, n, k, tokens):
        if not all(a.is_Integer for a in (n, k, tokens)):
            return None
        n, k, tokens = int(n), int(k), int(tokens)
        if tokens * n.bit_length() <= EXACT_BITS:
            return n * (1 - (1 - sympy.Rational(k, n)) ** tokens)
        import mpmath
        with mpmath.workdps(DIGITS + 10):
            value = n * (1 - mpmath.power(1 - mpmath.mpf(k) / n, tokens))
            return sympy.Rational(mpmath.nstr(value, DIGITS, min_fixed=-mpmath.inf, max_fixed=mpmath.inf))

    def _closed_form(self):
        n, k, tokens = self.args
        return n * (1 - (1 - k / n) ** tokens)

    def _sympystr(self, printer):
        return printer.doprint(self._closed_form())

    def _latex(self, printer):
        return printer.doprint(self._closed_form())
