"""Text from files (model names, paths, keys, titles) made safe for where it is written:
the terminal (no control characters), LaTeX (specials escaped, the few non-ASCII
characters of the data mapped to commands) and Markdown (link, HTML, emphasis, table and
math characters escaped). No sympy: the CLI's error path imports this."""

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

_UNICODE = {"§": r"\S{}", "×": r"$\times$", "≤": r"$\le$", "≥": r"$\ge$", "–": "--", "—": "---",
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
