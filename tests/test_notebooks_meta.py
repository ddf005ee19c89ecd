"""Every notebook is named, titled, set to the project kernel, error-free, small, and indexed."""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
NUMBERED = [p for p in PATHS if re.match(r"\d\d-", p.name) and p.name != "00-index.ipynb"]
MAX_BYTES = 3_000_000


def _load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell):
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def test_there_are_notebooks():
    assert (NOTEBOOKS / "00-index.ipynb").exists() and NUMBERED


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_name_is_numbered_title(path):
    assert re.fullmatch(r"\d\d-[a-z0-9]+(-[a-z0-9]+)*\.ipynb", path.name), path.name


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_starts_with_markdown_title(path):
    first = _load(path)["cells"][0]
    assert first["cell_type"] == "markdown"
    assert _source(first).startswith("# "), _source(first)[:60]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_kernelspec(path):
    spec = _load(path)["metadata"].get("kernelspec", {})
    assert spec.get("name") == "response-geometry"
    assert spec.get("display_name") == "Python (response-geometry)"


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_executed_without_errors(path):
    cells = [c for c in _load(path)["cells"] if c["cell_type"] == "code"]
    assert any(c.get("outputs") for c in cells), "saved without outputs: run `make notebooks`"
    for i, cell in enumerate(cells):
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"code cell {i}: {out.get('ename')}: {out.get('evalue')}"
            if out["output_type"] == "stream" and out["name"] == "stderr":
                assert "Traceback" not in "".join(out["text"]), f"code cell {i} printed a traceback"


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_size(path):
    assert path.stat().st_size < MAX_BYTES, f"{path.name}: {path.stat().st_size / 1e6:.2f} MB"


def test_index_links_every_numbered_notebook():
    nb = _load(NOTEBOOKS / "00-index.ipynb")
    text = []
    for cell in nb["cells"]:
        text.append(_source(cell))
        for out in cell.get("outputs", []):
            text.extend("".join(v) if isinstance(v, list) else str(v) for v in out.get("data", {}).values())
    text = "\n".join(text)
    for path in NUMBERED:
        assert f"]({path.name})" in text, f"00-index.ipynb does not link {path.name}: run `make notebooks`"
    for target in re.findall(r"\]\((\d\d-[^)]+\.ipynb)\)", text):
        assert (NOTEBOOKS / target).exists(), f"00-index.ipynb links a missing notebook: {target}"


def _index_rows():
    """The rows of the index's chapter table, as saved: {file name: cells}."""
    nb = _load(NOTEBOOKS / "00-index.ipynb")
    rows = {}
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            text = out.get("data", {}).get("text/markdown", "")
            for line in ("".join(text) if isinstance(text, list) else text).splitlines():
                link = re.search(r"\]\((\d\d-[^)]+\.ipynb)\)", line)
                if link and line.startswith("|"):
                    rows[link.group(1)] = [c.strip() for c in line.strip("|").split("|")]
    return rows


def test_index_says_what_each_chapter_shows_and_how_long_it_runs():
    rows = _index_rows()
    for path in NUMBERED:
        assert path.name in rows, f"00-index.ipynb has no table row for {path.name}: run `make notebooks`"
        number, _title, what, run_all = rows[path.name]
        assert what, f"00-index.ipynb: no line on what {path.name} shows (its ABOUT entry)"
        assert re.fullmatch(r"[\d.]+ min|not measured", run_all), f"{path.name}: run time {run_all!r}"


def test_glossary_links_resolve():
    glossary = NOTEBOOKS / "glossary.md"
    anchors = set(re.findall(r'<a name="([\w-]+)"></a>', glossary.read_text(encoding="utf-8")))
    texts = [(p.name, _source(c)) for p in PATHS for c in _load(p)["cells"]]
    texts.append(("README.md", (NOTEBOOKS.parent / "README.md").read_text(encoding="utf-8")))
    bad = [f"{where}: #{a}" for where, text in texts for a in re.findall(r"glossary\.md#([\w-]+)", text)
           if a not in anchors]
    assert not bad, "links to glossary entries that do not exist:\n" + "\n".join(bad)
