"""Chapter 8's comparison run in blocks of digits (``offset``) and the blocks joined
(``merge_comparison_files``, ``python -m geomlib.cli.defense --offset K`` / ``--merge``): what a
full-size run needs when one model's measurement outlasts a session."""

import numpy as np
import pytest

import geomlib
from geomlib._src.defense.mnist import mnist_comparison
from geomlib._src.defense.runs import merge_comparison_files

MODELS = ("linear",)    # one cheap model: the blocks, not the models, are under test
TINY = dict(eps=(0.1,), pgd_steps=2, k=1, lanczos_iterations=3, msd_steps=5, survey=(2, 1, 1), progress=False)


@pytest.fixture(scope="module")
def whole_and_blocks(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("blocks")
    whole = mnist_comparison(MODELS, 3, **TINY)
    paths = []
    for offset, n in ((2, 1), (0, 2)):                       # written out of order on purpose
        res, meta = mnist_comparison(MODELS, n, offset=offset, **TINY)
        paths.append(tmp / f"block-{offset}.npz")
        geomlib.save_comparison(paths[-1], res, {**meta, "seconds": 1.5})
    return whole, paths, tmp


def test_blocks_take_the_digits_and_targets_of_the_whole_list(whole_and_blocks):
    (_, whole_meta), paths, _ = whole_and_blocks
    metas = {p.name: geomlib.load_comparison(p)[1] for p in paths}
    assert metas["block-0.npz"]["images"] + metas["block-2.npz"]["images"] == whole_meta["images"]
    assert metas["block-0.npz"]["targets"] + metas["block-2.npz"]["targets"] == whole_meta["targets"]


def test_merged_blocks_are_the_comparison_on_all_digits(whole_and_blocks, tmp_path):
    (whole, whole_meta), paths, _ = whole_and_blocks
    results, meta = merge_comparison_files(paths, tmp_path / "joined.npz")
    assert meta["images"] == whole_meta["images"] and meta["targets"] == whole_meta["targets"]
    assert meta["seconds"] == pytest.approx(3.0)
    for name in MODELS:
        a, b = results[name], whole[name]
        for field in ("label", "target", "deepfool_class", "msd_reached", "pgd_correct"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=f"{name} {field}")
        for field in ("deepfool_distance", "boundary_distance", "boundary_curvature"):
            np.testing.assert_allclose(getattr(a, field), getattr(b, field), rtol=1e-4, atol=1e-6,
                                       err_msg=f"{name} {field}")
        assert a.logit_bend.shape == b.logit_bend.shape and a.pgd_correct.shape == (1, 3)
        np.testing.assert_array_equal(a.first_layer_bend, b.first_layer_bend)   # per model, not per digit
    s = geomlib.comparison_summary(results)                                       # a comparison like any other
    assert set(s["deepfool_distance"]) == set(MODELS)


def test_merge_refuses_what_is_not_blocks_of_one_comparison(whole_and_blocks, tmp_path):
    (whole, whole_meta), paths, tmp = whole_and_blocks
    with pytest.raises(ValueError, match="at least 2"):
        merge_comparison_files(paths[:1], tmp_path / "x.npz")
    with pytest.raises(ValueError, match="in common"):
        merge_comparison_files([paths[0], paths[0]], tmp_path / "x.npz")
    res, meta = geomlib.load_comparison(paths[0])
    other = tmp / "other-models.npz"
    geomlib.save_comparison(other, {"renamed": res["linear"]}, meta)
    with pytest.raises(ValueError, match="other models"):
        merge_comparison_files([paths[1], other], tmp_path / "x.npz")
    with pytest.raises(ValueError, match="offset"):
        mnist_comparison(MODELS, 2, offset=-1, **TINY)
    with pytest.raises(ValueError, match="held-out digits"):
        mnist_comparison(MODELS, 2, offset=999, **TINY)


def test_command_line_blocks_and_merge_arguments(whole_and_blocks, tmp_path, capsys):
    from geomlib.cli import defense

    _, paths, _ = whole_and_blocks
    out = tmp_path / "joined.npz"
    assert defense.main(["--merge", *map(str, paths), "--out", str(out)]) == 0
    assert "1 models x 3 digits from 2 blocks" in capsys.readouterr().out
    assert len(geomlib.load_comparison(out)[1]["images"]) == 3
    assert defense.main(["--merge", str(paths[0]), "--out", str(out)]) == 2
    with pytest.raises(SystemExit):
        defense.main(["--merge", *map(str, paths)])                 # no --out
    with pytest.raises(SystemExit):
        defense.main(["--offset", "-1"])
