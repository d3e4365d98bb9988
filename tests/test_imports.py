"""No import circle among mfu_sym's modules: cli.py imports the commands, the commands
import commands/options.py (never cli.py), renderers import the library (never the
commands). Read from the source with `ast`, function-level imports included (a circle
through a lazy import is still a circle, only a later one)."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mfu_sym"
# Circles in modules other people are rewriting; each entry is one strongly connected
# set of modules, to remove when it is gone. Nothing else may join or form one.
KNOWN = set()  # import circles that are accepted: none


def _name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package=PACKAGE):
    """module -> the mfu_sym modules it imports (a submodule's packages included)."""
    modules = {_name(p): p for p in package.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = ".".join((here[:len(here) - node.level + 1] if node.level else [])
                                + ([node.module] if node.module else []))
                targets |= {f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names}
        deps = set()
        for target in targets:
            parts = target.split(".")
            deps |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)} & set(modules)
        graph[name] = deps - {name}
    return graph


def circles(graph):
    """The strongly connected sets of more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while not group or w != v:
                w = stack.pop()
                on.discard(w)
                group.add(w)
            if len(group) > 1:
                found.append(frozenset(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_new_import_circle():
    new = [sorted(c) for c in circles(import_graph()) if c not in KNOWN]
    assert not new, f"import circles: {new}"


def test_commands_never_import_the_cli():
    graph = import_graph()
    assert "mfu_sym.commands.options" in graph["mfu_sym.commands.derive"]
    offenders = [m for m, deps in graph.items() if m.startswith("mfu_sym.commands") and "mfu_sym.cli" in deps]
    assert not offenders


@pytest.mark.parametrize("graph, expected", [
    ({"a": {"b"}, "b": {"a"}, "c": {"a"}}, [{"a", "b"}]),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, [{"a", "b", "c"}]),
    ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
])
def test_circles_are_found(graph, expected):
    assert [set(c) for c in circles(graph)] == expected


def test_the_graph_sees_lazy_and_relative_imports():
    graph = import_graph()
    assert "mfu_sym.render.json" in graph["mfu_sym.commands.derive"]   # inside the function
    assert "mfu_sym.render" in graph["mfu_sym.commands.derive"]        # the package of a submodule
    assert "mfu_sym.loader" in graph["mfu_sym.commands.options"]       # from ..loader import load


def test_start_up_and_hardware_list_load_no_sympy():
    """The CLI module loads only click and the command modules; renderers load on use,
    and `hardware list` (no exact number in it) never loads sympy."""
    code = ("import sys; from click.testing import CliRunner; from mfu_sym.cli import main; "
            "first = 'sympy' in sys.modules; result = CliRunner().invoke(main, ['hardware', 'list']); "
            "print(first, 'sympy' in sys.modules, result.exit_code)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=PACKAGE.parent, env={**os.environ, "PYTHONPATH": str(PACKAGE.parent)})
    assert out.stdout.split() == ["False", "False", "0"]
