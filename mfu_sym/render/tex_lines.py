"""Breaking sympy's LaTeX of a long formula into lines that fit a width.

A formula is cut only at its own `+` and `-` signs: at the top level, or inside a
top-level \\left( ... \\right) group (closed with \\right. and reopened with \\left.{}).
Removing the markup (`unbreak`: BREAK, INNER_BREAK, the \\right./\\left.{} pairs, the
`aligned` wrapper) gives back exactly the text that was broken, which the tests check.
Widths are in "math characters" (an italic letter at the body size; an 11pt article
with 2.5 cm margins, 472pt, holds about 76 at 6.2pt each). No sympy here.
"""

import re

# Line-break markup. A row of an `align` continues on the next line at the `=` column,
# indented, unnumbered (the row's number goes on its last line).
BREAK = "\\nonumber\\\\\n  &\\qquad"
# Inside a `cases` cell, a long piece is set in an `aligned` block.
INNER_BREAK = "\\\\\n  &\\qquad"
ALIGNED_OPEN, ALIGNED_CLOSE = "\\begin{aligned}[t]&", "\\end{aligned}"
# A cut inside \left( ... \right) closes the group with \right. and opens the next line
# with \left.{} (the {} keeps the leading + a binary operator).
LEFT_AGAIN = "\\left.{}"
# The width of a standalone page, and what an equation number takes of it.
DEFAULT_WIDTH = 76
NUMBER_WIDTH = 6  # the equation number "(12)" and the space before it
_INDENT_WIDTH = 4  # \qquad

_COMMAND = re.compile(r"\\([A-Za-z]+|.)")


def _skip_argument(tex, i):
    """Index after a `{...}` group starting at i (or i when there is none)."""
    if i < len(tex) and tex[i] == "{":
        depth = 0
        for j in range(i, len(tex)):
            depth += {"{": 1, "}": -1}.get(tex[j], 0)
            if depth == 0:
                return j + 1
    return i


def _skip_delimiter(tex, i):
    if i < len(tex) and tex[i] == "\\":
        return _COMMAND.match(tex, i).end()
    return i + 1


def _scan(tex):
    """(index, stack) for every character outside commands: the stack says which groups
    enclose it ('{', 'left' for \\left...\\right, 'env' for \\begin...\\end)."""
    stack, i = [], 0
    while i < len(tex):
        c = tex[i]
        if c == "\\":
            m = _COMMAND.match(tex, i)
            name, i = m.group(1), m.end()
            if name == "left":
                stack.append("left")
                i = _skip_delimiter(tex, i)
            elif name == "right":
                if stack:
                    stack.pop()
                i = _skip_delimiter(tex, i)
            elif name == "begin":
                stack.append("env")
                i = _skip_argument(tex, i)
            elif name == "end":
                if stack:
                    stack.pop()
                i = _skip_argument(tex, i)
            continue
        yield i, tuple(stack)
        if c == "{":
            stack.append("{")
        elif c == "}" and stack:
            stack.pop()
        i += 1


def _break_points(tex):
    """Where `tex` may be cut: before a ` + ` or ` - ` at the top level, or inside a
    top-level \\left( ... \\right) group (then the flag is True)."""
    return [(i, bool(stack)) for i, stack in _scan(tex)
            if tex[i] == " " and tex[i + 1:i + 3] in ("+ ", "- ") and stack in ((), ("left",))]


def _split_top(tex, separator):
    """`tex` split at `separator` where it stands outside every group."""
    parts, start = [], 0
    for i, stack in _scan(tex):
        if not stack and tex.startswith(separator, i) and i >= start:
            parts.append(tex[start:i])
            start = i + len(separator)
    parts.append(tex[start:])
    return parts


_TEXT_COMMANDS = {"text", "mathrm", "mathit", "operatorname", "textrm"}
_SPACING = {":": 0.4, ",": 0.3, ";": 0.5, "quad": 2, "qquad": 4, " ": 0.4}
_ZERO = {"left", "right", "begin", "end", "frac", "dfrac", "tfrac", "nonumber", "displaystyle"}


def width(tex):
    """Rough rendered width of math `tex`, in italic-letter widths: letters and digits 1,
    sub- and superscripts 0.7, binary operators and relations 2.5 (their spacing),
    spaces 0. Generous rather than exact: it only decides where lines break."""
    total, scales, pending, i = 0.0, [1.0], None, 0
    while i < len(tex):
        c = tex[i]
        scale = pending if pending is not None else scales[-1]
        if c == "\\":
            m = _COMMAND.match(tex, i)
            name, i = m.group(1), m.end()
            pending = None
            if name in ("begin", "end"):
                i = _skip_argument(tex, i)
            elif name in _TEXT_COMMANDS:
                end = _skip_argument(tex, i)
                total += scale * len(tex[i + 1:end - 1])
                i = end
            elif name in _SPACING:
                total += _SPACING[name]
            elif name in ("leq", "geq", "neq", "approx", "times", "cdot"):
                total += 2.5 * scale
            elif name not in _ZERO and name != "\\":
                total += scale
            continue
        if c in "_^":
            pending = scales[-1] * 0.7
            i += 1
            continue
        if c == "{":
            scales.append(pending if pending is not None else scales[-1])
            pending = None
        elif c == "}":
            if len(scales) > 1:
                scales.pop()
        elif c == " ":
            pass
        elif c in "+-=<>" and tex[i - 1:i] == " ":
            total += 2.5 * scale
            pending = None
        elif c not in "&":
            total += scale
            pending = None
        i += 1
    return total


def _lines(tex, limit):
    """`tex` cut into lines of at most `limit` (the first) and `limit - indent` (the
    rest), each cut flagged when it falls inside a \\left( ... \\right) group."""
    points = _break_points(tex)
    lines, start, start_flag = [], 0, None
    while True:
        room = limit - (_INDENT_WIDTH if lines else 0)
        rest = tex[start:]
        later = [(i, inside) for i, inside in points if i > start]
        if width(rest) <= room or not later:
            lines.append((rest, start_flag))
            return lines
        fitting = [(i, inside) for i, inside in later if width(tex[start:i]) <= room]
        if not fitting:
            cut = later[0]  # one term wider than the line: it stands alone
        else:
            cut = fitting[-1]
            top = [i for i, inside in fitting if not inside]
            if top and cut[1]:
                # Cut between terms rather than inside a parenthesis, when the term that
                # follows then fits on its own line.
                after = [i for i, inside in points if i > top[-1] and not inside] + [len(tex)]
                if width(tex[top[-1]:after[0]]) <= limit - _INDENT_WIDTH:
                    cut = (top[-1], False)
        lines.append((tex[start:cut[0]], start_flag))
        start, start_flag = cut


def _join(lines, separator):
    out = lines[0][0]
    for text, inside in lines[1:]:
        out += ("\\right." + separator + LEFT_AGAIN if inside else separator) + text
    return out


def broken(tex, limit, separator=BREAK):
    """sympy LaTeX `tex` with line breaks so that no line is wider than `limit` (where its
    own `+` and `-` allow). A top-level `cases` block keeps its rows; a long piece is
    broken inside an `aligned` block in its cell."""
    begin, end = "\\begin{cases} ", " \\end{cases}"
    if tex.startswith(begin) and tex.endswith(end) and _is_single_environment(tex):
        rows = [_split_top(row, " & ") for row in _split_top(tex[len(begin):-len(end)], " \\\\")]
        if any(len(cells) != 2 for cells in rows):
            return tex
        room = limit - max(width(condition) for _, condition in rows) - 3  # brace and \quad
        out = []
        for piece, condition in rows:
            lines = _lines(piece, room)
            if len(lines) > 1:
                piece = ALIGNED_OPEN + _join(lines, INNER_BREAK) + ALIGNED_CLOSE
            out.append(piece + " & " + condition)
        return begin + " \\\\".join(out) + end
    return _join(_lines(tex, limit), separator)


def _is_single_environment(tex):
    """True when `tex` is one \\begin{...} ... \\end{...} block and nothing else."""
    depth_zero = [i for i, stack in _scan(tex) if not stack]
    return not depth_zero


def unbreak(tex):
    """The inverse of `broken`: sympy's own text back (what the tests compare)."""
    for markup in ("\\right." + BREAK + LEFT_AGAIN, "\\right." + INNER_BREAK + LEFT_AGAIN, BREAK, INNER_BREAK,
                   ALIGNED_OPEN, ALIGNED_CLOSE):
        tex = tex.replace(markup, "")
    return tex
