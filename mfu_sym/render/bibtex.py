"""BibTeX entries for the keys a model's document cites (what a fragment written with
--no-bibliography cites)."""

from .escape import tex_text


def to_bibtex(doc):
    """BibTeX entries for the keys the documents cite (authors are already BibTeX names)."""
    entries = []
    for ref in doc.references:
        fields = [f"  author = {{{tex_text(ref.authors)}}}", f"  title = {{{{{tex_text(ref.title)}}}}}"]
        if ref.year:
            fields.append(f"  year = {{{ref.year}}}")
        if ref.arxiv:
            fields += [f"  eprint = {{{ref.arxiv}}}", "  archivePrefix = {arXiv}"]
        if ref.link:
            fields.append(f"  url = {{{ref.link}}}")
        if ref.note:
            fields.append(f"  note = {{{tex_text(ref.note)}}}")
        entries.append(f"@misc{{{ref.key},\n" + ",\n".join(fields) + "\n}")
    return "\n\n".join(entries) + "\n"
