"""examples/walkthrough.ipynb runs top to bottom, from its own folder, with no error (CI
executes it, so it never rots), and is committed without outputs."""

import json
from pathlib import Path

from optional import require

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "walkthrough.ipynb"


def test_notebook_is_committed_clean():
    data = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    code = [cell for cell in data["cells"] if cell["cell_type"] == "code"]
    assert code
    assert all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code)
    assert data["metadata"]["kernelspec"]["name"] == "python3"


def test_notebook_runs_from_its_own_folder():
    nbformat = require("nbformat")
    nbclient = require("nbclient")
    require("ipykernel")
    require("matplotlib")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on any error
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    data = [o.get("data", {}) for o in outputs]
    assert any("image/png" in d for d in data), "the plots render"
    latex = [d["text/latex"] for d in data if "text/latex" in d]
    assert any(r"h_{\mathrm{kv}}" in text for text in latex), "formulas render with the papers' symbols"
    text = "".join(o.get("text", "") for o in outputs)
    assert "421,651,971,833,856" in text  # Llama-3-8B training FLOPs of one 8k sequence
    assert "MFU " in text and "palm: " in text
