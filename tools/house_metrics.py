"""Measures of how geomlib's modules are cut: the figures issue 14 asks for, on any checkout.

    python -m tools.house_metrics [ROOT]       # ROOT: a checkout (default: this one)
    git worktree add /tmp/old REV && python -m tools.house_metrics /tmp/old   # another revision

Prints, for the ``geomlib`` package under ROOT:

- modules over 250 lines (and how many modules there are);
- private names imported across modules: ``from geomlib... import _name`` and
  ``module._name`` uses of an imported geomlib module;
- small helpers defined more than once under one name in different modules (a name
  defined at module level in two or more files, dunder and ``main`` excepted);
- the longest functions (lines from ``def`` to the end of the body).

It reads source text only (``ast``); nothing is imported or run.
"""

from __future__ import annotations

import argparse
import ast
import collections
import sys
from pathlib import Path

LIMIT = 250


def _modules(package: Path) -> list[Path]:
    return sorted(p for p in package.rglob("*.py") if "__pycache__" not in p.parts)


def _name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def private_imports(path: Path, tree: ast.Module) -> list[str]:
    """``from geomlib.X import _y`` and ``X._y`` where X is a geomlib module bound by an import."""
    found, aliases = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("geomlib"):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{node.module}.{alias.name}")
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("geomlib"):
                    aliases[alias.asname or alias.name.split(".")[0]] = alias.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                and isinstance(node.value, ast.Name) and node.value.id in aliases):
            found.append(f"{aliases[node.value.id]}.{node.attr}")
    return sorted(set(found))


def _functions(node: ast.AST, prefix: str = ""):
    """(qualified name, lines) of every function, methods and nested functions included."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = f"{prefix}{child.name}"
            if not isinstance(child, ast.ClassDef):
                yield name, child.end_lineno - child.lineno + 1
            yield from _functions(child, name + ".")


def measure(root: Path) -> dict:
    package = root / "geomlib"
    sizes, private, defs, longest = {}, {}, collections.defaultdict(set), []
    for path in _modules(package):
        text = path.read_text()
        name = _name(path, root)
        sizes[name] = len(text.splitlines())
        tree = ast.parse(text, filename=str(path))
        if crossing := private_imports(path, tree):
            private[name] = crossing
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("__"):
                defs[node.name].add(name)
        longest += [(n, f"{name}.{fn}") for fn, n in _functions(tree)]
    repeated = {fn: sorted(mods) for fn, mods in defs.items() if len(mods) > 1 and fn != "main"}
    return {"sizes": sizes, "private": private, "repeated": repeated, "longest": sorted(longest, reverse=True)}


def report(root: Path) -> str:
    m = measure(root)
    big = sorted(((n, mod) for mod, n in m["sizes"].items() if n > LIMIT), reverse=True)
    n_private = sum(len(v) for v in m["private"].values())
    lines = [f"geomlib under {root}: {len(m['sizes'])} modules, {sum(m['sizes'].values())} lines",
             f"modules over {LIMIT} lines: {len(big)}"]
    lines += [f"  {n:5d}  {mod}" for n, mod in big]
    lines.append(f"private names imported across modules: {n_private}")
    lines += [f"  {mod}: {', '.join(names)}" for mod, names in sorted(m["private"].items())]
    lines.append(f"module-level functions defined under one name in several modules: {len(m['repeated'])}")
    lines += [f"  {fn}: {', '.join(mods)}" for fn, mods in sorted(m["repeated"].items())]
    lines.append("longest functions:")
    lines += [f"  {n:5d}  {fn}" for n, fn in m["longest"][:5]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.house_metrics", description=__doc__.splitlines()[0])
    ap.add_argument("root", nargs="?", default=str(Path(__file__).resolve().parents[1]),
                    help="a checkout holding geomlib/ (default: this one)")
    root = Path(ap.parse_args(argv).root)
    if not (root / "geomlib").is_dir():
        print(f"{root}: no geomlib package here (expected {root / 'geomlib'})", file=sys.stderr)
        return 2
    print(report(root))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
