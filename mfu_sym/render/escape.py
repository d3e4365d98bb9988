"""Text from files (model names, paths, keys, titles) made safe for where it is written:
the terminal (no control characters), LaTeX (specials escaped, the few non-ASCII
characters of the data mapped to commands), Markdown (link, HTML, emphasis, table and
math characters escaped) and HTML (markup characters and quotes as references). No
sympy: the CLI's error path imports this."""

import html
import re
import unicodedata

# Bidirectional overrides and isolates reorder what a terminal shows (Trojan Source).
_BIDI = {"\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
         "\u200e", "\u200f", "\u061c"}


def printable(text):
    """`text` with every control character (C0, DEL, C1, line and paragraph separators)
    and bidirectional control shown as a visible escape: a newline is `\\n`, ESC is
    `\\x1b`, U+202E is `\\u202e`. Printable text, non-ASCII letters included, is kept."""
    text = str(text)
    if text.isprintable() and not _BIDI.intersection(text):
        return text
    out = []
    for ch in text:
        if ch in _BIDI or (not ch.isprintable() and ch != " "):
            escaped = repr(ch)[1:-1]
            if escaped == ch:  # repr kept it: a format character such as U+200B
                escaped = f"\\u{ord(ch):04x}"
            out.append(escaped)
        else:
            out.append(ch)
    return "".join(out)


# ------------------------------------------------------------------ LaTeX

# § as math: the text \S is a bitmap (Type 3) font under pdflatex's defaults, which
# publishers refuse
_UNICODE = {"§": r"$\S$", "×": r"$\times$", "≤": r"$\le$", "≥": r"$\ge$", "–": "--", "—": "---",
            "’": "'", "‘": "`", "“": "``", "”": "''", "…": r"\dots{}", "≈": r"$\approx$",
            "κ": r"$\kappa$", "−": "-", "\u00a0": "~"}
_ACCENTS = {"\u0301": "'", "\u0300": "`", "\u0302": "^", "\u0308": '"', "\u0303": "~", "\u0327": "c",
            "\u030c": "v", "\u030a": "r"}
_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
            "<": r"$<$", ">": r"$>$", "|": r"$|$"}


def tex_text(text):
    """Plain text safe for LaTeX (pdflatex, no font packages): specials escaped, the few
    non-ASCII characters of the data mapped to commands, accented letters composed."""
    out = []
    for ch in str(text):
        if ch in _SPECIAL:
            out.append(_SPECIAL[ch])
        elif ord(ch) < 32 or ord(ch) == 127:  # control characters: shown, never typeset as such
            out.append(r"\textit{[U+%04X]}" % ord(ch))
        elif ord(ch) < 128:
            out.append(ch)
        elif ch in _UNICODE:
            out.append(_UNICODE[ch])
        else:
            base, *marks = unicodedata.normalize("NFD", ch)
            if ord(base) < 128 and marks and all(m in _ACCENTS for m in marks):
                for mark in marks:
                    base = "{\\%s{%s}}" % (_ACCENTS[mark], base)
                out.append(base)
            else:
                out.append(r"\textit{[U+%04X]}" % ord(ch))
    return "".join(out)


# ---- text of the formula library and the engine (trusted: never a model file's)
#
# Such text writes small pieces of math inline, as plain text: `W^{DQ}`, `c^Q`, `Q K^T`,
# `d_v^2`, `kv_{t-1}`, and "2x" or "n x m" for a product. They are found by a strict
# pattern and set as math: a base of one or two letters followed by scripts (`^X`, `_X`,
# `^{...}`, `_{...}`, letters, digits, `,`, `+`, `-` inside), standing as a word of its
# own (`q_a_layernorm`, `FFN_SwiGLU`, `self_attn` stay text). Explicit `$...$` is math
# too when it holds only letters, digits, operators, braces and a few commands. Whatever
# the pattern sets as math holds no backslash, `$`, `%`, `#`, `&` or `~`, so no text can
# run TeX through it; everything else is escaped as `tex_text` escapes it. Strings from
# model files never go through this: they are escaped as they are (`tex_text`).

_SCRIPT = r"[\^_](?:\{[A-Za-z0-9,+\-]+\}|[A-Za-z0-9])"
_MATH_WORD = re.compile(r"(?<![\w\\$^_{}.])[A-Za-z]{1,2}(?:%s)+(?![\w^_{}])" % _SCRIPT)
_DOLLARS = re.compile(r"\$([^$\n]+)\$")
_MATH_COMMANDS = ("cdot", "times", "lambda", "sum", "theta", "sigma", "alpha", "beta", "gamma", "delta",
                  "kappa", "mu", "top", "mathrm", "ldots", "le", "ge", "approx", "min", "max", "log", "exp",
                  "sqrt", "frac")
_SAFE_MATH = re.compile(r"(?:[A-Za-z0-9\s^_{}()\[\],.;:+\-=/*'<>|!]|\\(?:%s)(?![A-Za-z]))*"
                        % "|".join(_MATH_COMMANDS))
# a product written with an x: "2x", "x2", "n x m" (not "8x7B", a name)
_TIMES = re.compile(r"(?<=\d)x(?=[\s,;:.)]|$)|(?<![\w.])x(?=\d+\b)|(?<=\s)x(?=\s)")
_MULTI_LETTER_SUBSCRIPT = re.compile(r"_\{([A-Za-z]{2,}(?: [A-Za-z]+)*)\}")


def upright_subscripts(tex):
    r"""Math with its multi-letter subscripts upright, as labels are set: `d_{ff}` is
    `d_{\mathrm{ff}}`, `h_{kv}` is `h_{\mathrm{kv}}`; a one-letter subscript (`d_h`,
    `L_{c}`) is a variable and stays italic."""
    return _MULTI_LETTER_SUBSCRIPT.sub(lambda m: r"_{\mathrm{%s}}" % m.group(1).replace(" ", r"\,"), tex)


def _balanced(tex):
    depth = 0
    for ch in tex.replace(r"\{", "").replace(r"\}", ""):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def library_pieces(text):
    """Text of the library or the engine cut into ("text", str), ("math", tex) and
    ("times", "x") pieces (see above)."""
    pieces = []

    def plain(chunk):
        last = 0
        for m in _MATH_WORD.finditer(chunk):
            times(chunk[last:m.start()])
            pieces.append(("math", m.group()))
            last = m.end()
        times(chunk[last:])

    def times(chunk):
        last = 0
        for m in _TIMES.finditer(chunk):
            pieces.append(("text", chunk[last:m.start()]))
            pieces.append(("times", "x"))
            last = m.end()
        pieces.append(("text", chunk[last:]))

    text, last = str(text), 0
    for m in _DOLLARS.finditer(text):
        if _SAFE_MATH.fullmatch(m.group(1)) and _balanced(m.group(1)):
            plain(text[last:m.start()])
            pieces.append(("math", m.group(1).strip()))
            last = m.end()
    plain(text[last:])
    return [(kind, value) for kind, value in pieces if value]


def tex_library_text(text):
    r"""Text of the formula library or the engine for LaTeX: its math set as math (upright
    multi-letter subscripts), "2x" as 2$\times$, the rest escaped (`tex_text`)."""
    out = []
    for kind, value in library_pieces(text):
        out.append("$%s$" % upright_subscripts(value) if kind == "math"
                   else r"$\times$" if kind == "times" else _breakable(value))
    return "".join(out)


_LONG_WORD = re.compile(r"\S{16,}")
_BREAK_AFTER = re.compile(r"(?<=[._(=/,])(?=.)")


def _breakable(text):
    """tex_text, with a line break allowed after . _ ( = / , inside long words (code
    names: `Qwen3NextGatedDeltaNet.in_proj_qkvz`), which a narrow column cannot hold."""
    out, last = [], 0
    for m in _LONG_WORD.finditer(text):
        out.append(tex_text(text[last:m.start()]))
        out.append(r"\allowbreak{}".join(tex_text(part) for part in _BREAK_AFTER.split(m.group())))
        last = m.end()
    out.append(tex_text(text[last:]))
    return "".join(out)


def tex_text_links(text):
    """Like tex_text, with web addresses (words with a '/') set in \\url so they break."""
    out, last = [], 0
    for m in re.finditer(r"[^\s;,()]+/[^\s;,()]*", str(text)):
        out += [tex_text(text[last:m.start()]), r"\url{%s}" % tex_url(m.group().rstrip("."))]
        last = m.start() + len(m.group().rstrip("."))
    return "".join(out) + tex_text(text[last:])


def tex_url(url):
    return str(url).replace("\\", "/").replace("%", r"\%").replace("#", r"\#").replace("{", "").replace("}", "")


def tex_comment(text):
    """A LaTeX comment line: one line, whatever the text holds (a newline would end the
    comment and let the rest be typeset or executed)."""
    return "% " + printable(text).replace("\n", " ")


# ------------------------------------------------------------------ Markdown

def md_text(text):
    """Text safe in Markdown: no control characters (a newline would end a table row),
    and the characters that make links, HTML, emphasis, tables or math escaped."""
    return re.sub(r"([|*_`\\<>\[\]$#!~])", r"\\\1", printable(text))


def md_library_text(text):
    """Text of the formula library or the engine for Markdown: its math as `$...$`
    (upright multi-letter subscripts), "2x" as 2×, the rest escaped (`md_text`)."""
    out = []
    for kind, value in library_pieces(text):
        out.append("$%s$" % upright_subscripts(value).replace("|", "\\vert ") if kind == "math"
                   else "×" if kind == "times" else md_text(value))
    return "".join(out)


# ------------------------------------------------------------------ HTML

def html_text(text):
    """Text safe in HTML and XML, as element content or a quoted attribute value: control
    characters shown as escapes (as `printable` does: XML forbids most of them), then
    & < > " ' as character references. A model named `<script>` stays text."""
    return html.escape(printable(text), quote=True)
