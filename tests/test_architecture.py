"""The package's shape, checked: imports flow one way, no private name crosses a module, functions stay short,
and importing doccat changes nothing in the process."""
import ast
from pathlib import Path

from conftest import python_probe

SRC = Path(__file__).resolve().parents[1] / "src" / "doccat"
LONG = 50  # lines; a function past this wants to be split
EXEMPT = {"cli.build_parser", "serve.PAGE"}  # argparse's table of verbs and flags; the web page's HTML


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(name: str, path: Path, mods: dict) -> list[tuple[str, str]]:
    """(module imported, name taken from it) for every import in the file, function-local ones too."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.append((sub, "") if sub in mods else (target, alias.name))
        elif isinstance(node, ast.Import):
            found += [(alias.name, "") for alias in node.names]
    return [(m, n) for m, n in found if m.startswith("doccat") and m != name]


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: {m for m, _ in imports(name, path, mods) if m in mods and m != "doccat"} for name, path in mods.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, found = {}, {}, [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                component.append(w)
            if component:
                found.append(sorted([v, *component]))
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_import_graph_has_no_cycle():
    assert cycles(graph()) == []


def test_no_private_name_is_imported_or_used_across_modules():
    mods, crossing = modules(), []
    for name, path in mods.items():
        tree = ast.parse(path.read_text())
        crossing += [f"{name}: {m}.{n}" for m, n in imports(name, path, mods) if n.startswith("_")]
        aliases = {a.asname or a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                   for a in node.names if f"{node.module or ''}" in ("", *[m.split(".")[-1] for m in mods])}
        crossing += [f"{name}: {node.value.id}.{node.attr}" for node in ast.walk(tree)
                     if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                     and node.value.id in aliases and node.attr.startswith("_") and not node.attr.startswith("__")]
        crossing += [f"{name}: keyword {k.arg}" for node in ast.walk(tree) if isinstance(node, ast.Call)
                     for k in node.keywords if k.arg and k.arg.startswith("_")]
    assert crossing == []


def function_lengths() -> list[tuple[int, str]]:
    """(lines, module.function) of every function and method in the package, longest first."""
    out = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out.append((node.end_lineno - node.lineno + 1, f"{name.removeprefix('doccat.')}.{node.name}"))
    return sorted(out, reverse=True)


def test_functions_stay_short():
    long = [(n, f) for n, f in function_lengths() if n > LONG and f not in EXEMPT]
    assert long == []


def test_importing_doccat_leaves_the_process_as_it_was():
    probe = ("import warnings, numpy, pyarrow, torch; before = list(warnings.filters); import doccat; "
             "assert warnings.filters == before, 'warnings filters changed'; "
             "import doccat.text as t; assert t.keep_freed_memory.cache_info().currsize == 0, 'mallopt at import'")
    python_probe(probe)


if __name__ == "__main__":  # the figures a closing note quotes
    print("cycles:", cycles(graph()) or "none")
    for n, f in function_lengths()[:10]:
        print(f"{n:4d}  {f}")
