"""Rendering: what every output format shares. Strings that come from files (model
names, paths, keys) are made safe for the place they are written to: here the terminal
(no control characters); LaTeX, Markdown and HTML escape their own specials on top."""

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
