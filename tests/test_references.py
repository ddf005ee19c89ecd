"""The README, the notebooks' text and geomlib's docstrings refer only to files that are in
the repository (a reader has nothing else)."""

from __future__ import annotations

import ast
import json
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# A file name as prose names it: in backticks, a link target or plain text, with one of
# the endings of the files a reader would open. Result files (.npz) are named by the
# commands that write them, so they are not references.
FILE = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w-]+\.(?:md|py|ipynb|txt|yml|yaml|toml|sh|cfg))\b")


def _tracked() -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return out.splitlines()


def _texts():
    yield "README.md", (ROOT / "README.md").read_text()
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for k, cell in enumerate(json.loads(nb.read_text())["cells"]):
            yield f"{nb.relative_to(ROOT)} cell {k}", "".join(cell["source"])
    for path in sorted(p for d in ("geomlib", "tests", "benchmarks", "tools") for p in (ROOT / d).rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc:
                    yield f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 1)}", doc


def test_every_file_named_in_the_docs_is_in_the_repository():
    tracked = _tracked()
    names = {Path(t).name for t in tracked}
    missing = []
    for where, text in _texts():
        for ref in FILE.findall(text):
            if re.search(r"\b(NAME|NN)\b", ref):  # a pattern (geomlib/_src/NAME.py), not a file
                continue
            if ref in tracked or Path(ref).name in names or any(t.endswith("/" + ref) for t in tracked):
                continue
            missing.append(f"{where}: {ref}")
    assert not missing, "named but not in the repository:\n" + "\n".join(missing)


def test_no_text_points_at_material_readers_lack():
    # the project's private notes: cite the paper or the public post instead
    private = re.compile(r"seed post|\.\./shared|science\.md", re.IGNORECASE)
    found = [f"{where}: {m.group(0)}" for where, text in _texts() for m in private.finditer(text)]
    assert not found, "\n".join(found)
