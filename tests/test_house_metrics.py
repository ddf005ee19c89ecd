"""tools/house_metrics.py on a small tree with known answers."""

from __future__ import annotations

from tools.house_metrics import main, measure


def _write(root, rel, text):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_measures_a_known_tree(tmp_path, capsys):
    _write(tmp_path, "geomlib/__init__.py", "from geomlib._src.a import f\n")
    _write(tmp_path, "geomlib/_src/a.py", "def f():\n    return 1\n\n\ndef _h():\n    pass\n" + "x = 1\n" * 260)
    _write(tmp_path, "geomlib/_src/b.py",
           "from geomlib._src.a import _h\nfrom geomlib._src import a as mod\n\n\ndef _h():\n    return mod._k\n\n\n"
           "class C:\n    def m(self):\n        a = 1\n        return a\n")
    m = measure(tmp_path)
    assert m["sizes"]["geomlib._src.a"] == 266 and m["sizes"]["geomlib"] == 1
    assert m["private"] == {"geomlib._src.b": ["geomlib._src.a._h", "geomlib._src.a._k"]}
    assert m["repeated"] == {"_h": ["geomlib._src.a", "geomlib._src.b"]}
    assert m["longest"][0] == (3, "geomlib._src.b.C.m")
    assert main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "modules over 250 lines: 1" in out and "private names imported across modules: 2" in out


def test_refuses_a_folder_without_geomlib(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    assert "no geomlib package" in capsys.readouterr().err
