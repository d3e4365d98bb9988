"""Every output format of mfu-sym, apart from the library that computes what they show.

| module | job |
|---|---|
| `escape` | text from files made safe for the terminal, LaTeX and Markdown |
| `units` | the one number formatter: exact integers and fractions, SI prefixes, seconds |
| `json` | every JSON object a command prints |
| `text` | the text of derive, analyze, reconcile, presets and chinchilla |
| `training`, `inference`, `hardware` | the text of mfu (one rate or a log) and budget and memory; infer; hardware list/show |
| `sweep` | the sweep as CSV, JSON, JSON lines (text built column-wise), Parquet or Arrow, chunk by chunk |
| `document` | what the LaTeX and Markdown documents of a model show, built once |
| `tex_lines` | breaking sympy's LaTeX at its own + and - signs to fit a width |
| `latex`, `markdown`, `bibtex` | a document written out; LaTeX of one expression |

Only `escape` and this package load at start-up (no sympy): the CLI's error path uses
`printable`.
"""

from .escape import printable  # noqa: F401  (the terminal-safe form, used everywhere)
