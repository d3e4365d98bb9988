"""The bibliography: every `references` section of the data root (the formula library's
papers, the hardware table's vendor pages), one entry per key. Every citation anywhere is
checked against it. Reading it needs no sympy, so `hardware list` stays light.
"""

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .definitions import section_entries

_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_:-]*$")
_URL = re.compile(r"^https?://[^\s<>\"'`]+$")
_ARXIV = re.compile(r"^[0-9]{4}\.[0-9]{4,5}(v[0-9]+)?$")


@dataclass(frozen=True)
class Reference:
    """A bibliography entry: a paper (arxiv), a page (url), or a document described by a
    note (a product brief with no public address)."""

    key: str
    authors: str
    title: str
    year: int | None = None
    arxiv: str = ""
    url: str = ""
    note: str = ""

    @property
    def link(self):
        return f"https://arxiv.org/abs/{self.arxiv}" if self.arxiv else self.url

    @property
    def year_text(self):
        return str(self.year) if self.year else "n.d."

    def cite(self):
        """One line: the title and where to find it."""
        return f"{self.title} <{self.link}>" if self.link else self.title

    def to_dict(self):
        return {"key": self.key, "authors": self.authors, "title": self.title, "year": self.year,
                "url": self.link or None, "note": self.note or None}


def references(root):
    """key -> Reference for the data root."""
    return _references(root)


@lru_cache(maxsize=8)
def _references(root):
    return collect([(Path(path), data) for path, data in root.documents() if "references" in data])


def collect(documents):
    """key -> Reference from the `references` sections of (path, mapping) documents; a
    key given twice is an error naming both files."""
    out, where = {}, {}
    for file, data in documents:
        if "references" not in data:
            continue
        for entry in section_entries(file, "references", data["references"]):
            ref = _reference(entry)
            if ref.key in out:
                entry.fail("key", f"duplicate reference {ref.key!r} (also in {where[ref.key]})")
            out[ref.key], where[ref.key] = ref, file
    return out


def reference(entry):
    key = entry.text("key")
    if not _KEY.match(key):
        entry.fail("key", f"{key[:60]!r} is not a citation key (expected letters, digits, _ : -)")
    arxiv, url, note = entry.get("arxiv", ""), entry.get("url", ""), entry.text("note", "")
    if not arxiv and not url and not note:
        entry.fail("arxiv", "missing (a reference needs an arxiv id, a url, or a note saying what it is)")
    if url and not (isinstance(url, str) and _URL.match(url)):
        entry.fail("url", f"{str(url)[:60]!r} is not a web address (expected https://...)")
    if arxiv and not _ARXIV.match(str(arxiv)):
        entry.fail("arxiv", f"{str(arxiv)[:60]!r} is not an arXiv id (expected e.g. 2204.02311)")
    ref = Reference(key=key, authors=entry.text("authors"), title=entry.text("title"),
                    year=entry.integer("year", minimum=1900, maximum=2100, default=None), arxiv=str(arxiv),
                    url=str(url), note=note)
    entry.done()
    return ref


_reference = reference
