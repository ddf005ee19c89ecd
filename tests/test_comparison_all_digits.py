"""Chapter 8's comparison on every held-out digit (``digits="all"``, ``python -m geomlib.cli.defense
--digits all``): each model measured on the digits it classifies right, the others counted as
broken, so that robust accuracy is over the held-out set as on a test set (Croce et al. 2021)."""

import jax.numpy as jnp
import numpy as np
import pytest

import geomlib
from geomlib._src.core.files import ResultFileError, ResumeError
from geomlib._src.data import load_mnist_subset
from geomlib._src.defense.measures import compare_classifiers, measure_classifier, on_every_image
from geomlib._src.defense.mnist import mnist_comparison
from geomlib._src.defense.results import MISCLASSIFIED
from geomlib._src.defense.runs import comparison_to_file, merge_comparison_files
from geomlib._src.robustness import class_means

MODEL = "linear"    # about 80% right on the first held-out digits: misclassified ones to count
N = 12
TINY = dict(eps=(0.05, 0.1), pgd_steps=2, k=1, lanczos_iterations=3, msd_steps=5, survey=(2, 1, 1), progress=False,
            worst_case={"steps": 3, "n_targets": 1, "queries": 10})


@pytest.fixture(scope="module")
def run():
    return mnist_comparison((MODEL,), N, digits="all", **TINY)


@pytest.fixture(scope="module")
def right():
    data = load_mnist_subset(seed=0)
    f = geomlib.load_classifier(MODEL)
    return np.asarray(jnp.argmax(f(jnp.asarray(data.x_test[:N])), axis=1)), data


def test_every_digit_is_a_row_and_misclassified_ones_count_as_broken(run, right):
    (results, meta), (predicted, data) = run, right
    m = results[MODEL]
    ok = predicted == data.y_test[:N]
    assert meta["images"] == list(range(N)) and meta["digits"] == "all"
    assert 0 < ok.sum() < N, "the test needs digits the model gets wrong and right"
    np.testing.assert_array_equal(m.clean_correct, ok)
    np.testing.assert_array_equal(m.label, data.y_test[:N])
    np.testing.assert_array_equal(m.deepfool_class[~ok], predicted[~ok])
    assert not m.pgd_correct[:, ~ok].any() and not m.worst_correct[:, ~ok].any() and not m.msd_reached[~ok].any()
    assert (m.worst_broken_by[:, ~ok] == MISCLASSIFIED).all() and (m.worst_broken_by[:, ok] != MISCLASSIFIED).all()
    for field in ("deepfool_distance", "boundary_distance", "boundary_curvature", "logit_bend", "msd",
                  "template_deepfool", "template_msd"):
        assert np.isnan(getattr(m, field)[~ok]).all(), field
    assert np.isfinite(m.deepfool_distance[ok]).all()
    # accuracy over all N digits: never above the clean accuracy, and the mean over every row
    summary = geomlib.comparison_summary(results)
    for i, e in enumerate(TINY["eps"]):
        assert summary[f"worst@{e:g}"][MODEL] == pytest.approx(m.worst_correct[i].sum() / N)
        assert summary[f"worst@{e:g}"][MODEL] <= ok.mean()
    assert summary["deepfool_distance"][MODEL] == pytest.approx(np.median(m.deepfool_distance[ok]))


def test_the_measured_rows_are_the_model_measured_on_its_right_digits(run, right):
    (results, meta), (predicted, data) = run, right
    ok = predicted == data.y_test[:N]
    t = np.asarray(meta["targets"])
    alone = measure_classifier(geomlib.load_classifier(MODEL), geomlib.load_classifier(MODEL, smooth_temperature=0.05),
                               data.x_test[:N][ok], data.y_test[:N][ok], t[ok], class_means(data.x_train, data.y_train),
                               key=0, **{k: v for k, v in TINY.items() if k != "progress"})
    m = results[MODEL]
    for field in ("deepfool_class", "msd_reached", "label", "target"):
        np.testing.assert_array_equal(getattr(m, field)[ok], getattr(alone, field), err_msg=field)
    for field in ("pgd_correct", "worst_correct", "worst_broken_by"):
        np.testing.assert_array_equal(getattr(m, field)[:, ok], getattr(alone, field), err_msg=field)
    for field in ("deepfool_distance", "boundary_curvature", "msd"):
        np.testing.assert_allclose(getattr(m, field)[ok], getattr(alone, field), rtol=1e-5, err_msg=field)


def test_the_common_digits_are_unchanged_and_have_no_clean_field(right):
    results, meta = mnist_comparison((MODEL,), 3, **{**TINY, "worst_case": None})
    assert results[MODEL].clean_correct is None and "digits" not in meta
    predicted, data = right
    assert (predicted[meta["images"]] == data.y_test[meta["images"]]).all()


def test_file_round_trip_blocks_and_resume(run, tmp_path):
    results, meta = run
    path = geomlib.save_comparison(tmp_path / "all.npz", results, meta)
    back, back_meta = geomlib.load_comparison(path)
    np.testing.assert_array_equal(back[MODEL].clean_correct, results[MODEL].clean_correct)
    np.testing.assert_array_equal(back[MODEL].worst_broken_by, results[MODEL].worst_broken_by)
    assert back_meta["digits"] == "all"
    # blocks of every digit join into the digits 0..N-1, the clean field with them
    blocks = []
    for offset, n in ((0, 5), (5, N - 5)):
        res, m = mnist_comparison((MODEL,), n, offset=offset, digits="all", **TINY)
        blocks.append(geomlib.save_comparison(tmp_path / f"block-{offset}.npz", res, m))
    joined, joined_meta = merge_comparison_files(blocks[::-1], tmp_path / "joined.npz")
    assert joined_meta["images"] == list(range(N)) and joined_meta["targets"] == meta["targets"]
    np.testing.assert_array_equal(joined[MODEL].clean_correct, results[MODEL].clean_correct)
    # a run on the common digits does not resume a file of all digits, nor the reverse
    with pytest.raises(ResumeError, match="digits 'all'"):
        comparison_to_file(path, (MODEL,), N, eps=TINY["eps"], worst_case=TINY["worst_case"], progress=False)
    common = tmp_path / "common.npz"
    geomlib.save_comparison(common, *mnist_comparison((MODEL,), 2, **{**TINY, "worst_case": None}))
    with pytest.raises(ResumeError, match="digits 'common'"):
        comparison_to_file(common, (MODEL,), 2, eps=TINY["eps"], progress=False, digits="all")


def test_a_damaged_clean_field_is_refused(run, tmp_path):
    results, meta = run
    bad = {MODEL: results[MODEL]._replace(clean_correct=results[MODEL].clean_correct[:-1])}
    path = geomlib.save_comparison(tmp_path / "bad.npz", bad, meta)
    with pytest.raises(ResultFileError, match="clean_correct"):
        geomlib.load_comparison(path)
    as_numbers = {MODEL: results[MODEL]._replace(clean_correct=results[MODEL].clean_correct.astype(float))}
    path = geomlib.save_comparison(tmp_path / "floats.npz", as_numbers, meta)
    with pytest.raises(ResultFileError, match="bools"):
        geomlib.load_comparison(path)


def test_on_every_image_spreads_by_axis_and_checks_its_rows(run):
    m = run[0][MODEL]
    ok = m.clean_correct
    sub = m._replace(**{f: getattr(m, f)[ok] for f in ("label", "target", "deepfool_class", "deepfool_distance",
                                                        "boundary_distance", "boundary_curvature", "logit_bend",
                                                        "msd", "msd_reached", "template_deepfool", "template_msd")},
                     **{f: getattr(m, f)[:, ok] for f in ("pgd_correct", "worst_correct", "worst_broken_by")},
                     clean_correct=None)
    again = on_every_image(sub, ok, m.label, m.target, m.deepfool_class)
    for field in ("pgd_correct", "worst_correct", "worst_broken_by", "clean_correct", "deepfool_class"):
        np.testing.assert_array_equal(getattr(again, field), getattr(m, field), err_msg=field)
    np.testing.assert_array_equal(again.deepfool_distance, m.deepfool_distance)
    with pytest.raises(ValueError, match="right"):
        on_every_image(sub, ok[:-1], m.label, m.target, m.deepfool_class)
    with pytest.raises(ValueError, match="right"):
        on_every_image(sub, np.ones_like(ok), m.label, m.target, m.deepfool_class)


def test_a_model_right_on_no_image_is_named():
    def wrong(x):   # always class 0, and every label below is 1
        return jnp.zeros((x.shape[0], 10)).at[:, 0].set(1.0)

    x = jnp.full((2, 784), 0.5)
    with pytest.raises(ValueError, match="'always-0'.*none of the 2"):
        compare_classifiers({"always-0": (wrong, None)}, x, np.ones(2, int), np.full(2, 2), jnp.zeros((10, 784)),
                            progress=False, misclassified="broken", survey=None)


def test_command_line_digits(tmp_path, capsys):
    from geomlib.cli import defense

    with pytest.raises(SystemExit):
        defense.main(["--digits", "some"])
    assert "--digits: invalid choice: 'some'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        defense.main(["--digits", "all", "--cifar10", str(tmp_path)])
    assert "--digits: the choice of held-out digits is for the MNIST comparison" in capsys.readouterr().err


def test_command_line_prints_the_clean_accuracy(run, right, capsys, tmp_path):
    from geomlib._src.defense.runs import ComparisonRun
    from geomlib.cli.defense import _print_run

    (results, meta), (predicted, data) = run, right
    done = ComparisonRun(results, meta, (), (MODEL,), 1.0, geomlib.comparison_summary(results), {})
    _print_run(done, tmp_path / "x.npz", N)
    ok = np.mean(predicted == data.y_test[:N])
    assert f"clean accuracy (misclassified digits count as broken in the accuracies above): linear {ok:.1%}" \
        in capsys.readouterr().out
