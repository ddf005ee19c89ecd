"""Extra seeds of the shipped models (geomlib._src.recipes.seeds, ``python -m geomlib.cli.train
seeds``, the comparison's ``--seeds`` / ``--seed-dir``), on tiny training settings: a few
hundred digits, one epoch, a 32-atom dictionary trained for 5 batches."""

import numpy as np
import pytest

import geomlib
from geomlib._src.classifiers import load_classifier
from geomlib._src.defense import DEFENSE_MODELS
from geomlib._src.params_io import SHIPPED_CLASSIFIERS, SHIPPED_MODELS, load_metadata, load_params
from geomlib._src.recipes import (
    seed_file_problems,
    seed_file_status,
    seeded_config,
    seeded_names,
    seeds_plan,
    train_seeds,
)
from geomlib.cli import defense as defense_cli
from geomlib.cli.train import main

pytestmark = pytest.mark.usefixtures("read_mnist_once")

# A classifier head and a dictionary that train in about a second each (evaluated on 100 digits).
TINY = {"n_train": 200, "n_test": 100, "hidden": [16], "epochs": 1, "copies": 0, "batch_size": 50}
TINY_DICT = {"neurons": 32, "batches": 5, "batch_size": 32, "steps": 20, "n_test": 100}
FLAGS = [f"--set={k}={v}" for k, v in {**TINY, "hidden": "[16]"}.items()] + \
        [f"--set-dictionary={k}={v}" for k, v in TINY_DICT.items()]


def train(names, seeds, out):
    plan = seeds_plan(names, seeds, out, overrides=TINY, dictionary_overrides=TINY_DICT)
    return list(train_seeds(plan, out, progress=False))


def params_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


# ----------------------------------------------------------------------------- configurations


@pytest.mark.parametrize("name", DEFENSE_MODELS)
def test_seed_configs_differ_from_the_shipped_one_in_seeds_and_names_only(name):
    shipped = SHIPPED_CLASSIFIERS[name]
    zero = seeded_config(name, 0)
    assert zero.name == name and zero.config == shipped and zero.seed == 0
    one = seeded_config(name, 1)
    assert one.name == f"{name}-s1" and one.kind == "classifier"
    changed = {k for k in shipped if shipped[k] != one.config[k]}
    assert one.config.keys() == shipped.keys() and one.config["seed"] == 1
    if shipped["lca"] is None:
        assert changed == {"seed"} and one.dictionary is None
    else:
        assert changed == {"seed", "lca"} and one.config["lca"] == one.dictionary == f"{shipped['lca']}-s1"
        base = SHIPPED_MODELS[shipped["lca"]]
        assert one.dictionary_config == {**base, "seed": 1} and zero.dictionary_config == base
    assert one.config["split_seed"] == shipped["split_seed"]  # the same held-out digits for every seed


def test_a_dictionary_is_shared_by_the_configurations_of_a_seed():
    plan = seeds_plan(["lca-mlp-2", "lca-mlp-2-t25", "lca-mlp-3", "lca-mlp-2-lam0.1", "mlp-2"], [1, 2], "d")
    names = [j.name for j in plan]
    assert names == ["mnist-768-s1", "lca-mlp-2-s1", "lca-mlp-2-t25-s1", "lca-mlp-3-s1", "mnist-768-lam0.1-s1",
                     "lca-mlp-2-lam0.1-s1", "mlp-2-s1", "mnist-768-s2", "lca-mlp-2-s2", "lca-mlp-2-t25-s2",
                     "lca-mlp-3-s2", "mnist-768-lam0.1-s2", "lca-mlp-2-lam0.1-s2", "mlp-2-s2"]
    assert plan[0].rebuild == "python -m geomlib.cli.train seeds --names mnist-768 --seeds 1 --out d"
    assert len(seeds_plan(list(DEFENSE_MODELS), [1])) == 12 + 4  # 4 dictionaries per seed


@pytest.mark.parametrize("call, arg", [
    (lambda: seeded_config("nope", 1), "name"), (lambda: seeded_config("mlp-2", -1), "seed"),
    (lambda: seeded_config("mlp-2", 1.5), "seed"), (lambda: seeded_config("mlp-2", True), "seed"),
    (lambda: seeds_plan(["mlp-2"], [0]), "seeds"), (lambda: seeds_plan(["mlp-2"], [1, 1]), "seeds"),
    (lambda: seeds_plan("mlp-2", [1]), "names"), (lambda: seeds_plan(["mlp-2"], []), "seeds"),
    (lambda: seeds_plan(["mlp-2"], [1], overrides={"seed": 3}), "overrides"),
    (lambda: seeds_plan(["mlp-2"], [1], overrides={"epoch": 3}), "overrides"),
    (lambda: seeds_plan(["mlp-2"], [1], dictionary_overrides={"lca": "x"}), "dictionary_overrides"),
    (lambda: seeds_plan(["mlp-2"], [1], out=3), "out"), (lambda: seeded_names(["mnist-768"], [0]), "names"),
    (lambda: seeded_names(["mlp-2"], "0,1"), "seeds"), (lambda: list(train_seeds([], geomlib.__file__)), "out"),
])
def test_bad_arguments_name_the_argument(call, arg):
    with pytest.raises(ValueError, match=rf"^{arg}: "):
        call()


# ----------------------------------------------------------------------------- training


def test_training_is_deterministic_per_seed_and_differs_between_seeds(tmp_path):
    """lca-mlp-2 at seeds 1 and 2 (its dictionary reseeded too), twice for seed 1."""
    a, b = tmp_path / "a", tmp_path / "b"
    steps = train(["lca-mlp-2"], [1, 2], a)
    assert [s.job.name for s in steps] == ["mnist-768-s1", "lca-mlp-2-s1", "mnist-768-s2", "lca-mlp-2-s2"]
    assert all(s.status == "missing" and s.seconds > 0 for s in steps)
    train(["lca-mlp-2"], [1], b)
    for name in ("mnist-768-s1", "lca-mlp-2-s1"):
        assert params_equal(load_params(name, a), load_params(name, b)), name
    for name in ("mnist-768", "lca-mlp-2"):
        assert not params_equal(load_params(f"{name}-s1", a), load_params(f"{name}-s2", a)), name
    meta = load_metadata("lca-mlp-2-s1", a)
    assert meta["config"] == {**SHIPPED_CLASSIFIERS["lca-mlp-2"], **TINY, "seed": 1, "lca": "mnist-768-s1"}
    assert meta["lca"]["dictionary"] == "mnist-768-s1"
    assert meta["rebuild"].startswith(f"python -m geomlib.cli.train seeds --names lca-mlp-2 --seeds 1 --out {a}")
    assert load_metadata("mnist-768-s2", a)["config"] == {**SHIPPED_MODELS["mnist-768"], **TINY_DICT, "seed": 2}
    # A seeded classifier loads with its seeded dictionary from the folder.
    f = load_classifier("lca-mlp-2-s1", directory=a)
    np.testing.assert_array_equal(f.args[0]["lca"]["phi"], load_params("mnist-768-s1", a)["phi"])
    assert f(np.zeros((2, 784), np.float32)).shape == (2, 10)


def test_command_line_resumes_and_retrains_what_changed(tmp_path, capsys):
    out = str(tmp_path)
    args = ["seeds", "--names", "mlp-2,lca-mlp-2", "--seeds", "0,1", "--out", out, "--quiet", *FLAGS]
    main(args)
    first = capsys.readouterr().out
    assert "seed 0 is the shipped file" in first and "3 trained, 0 kept" in first
    assert "[2/3] mnist-768-s1: training (missing)" in first and "s wall time" in first
    main(args)
    assert "0 trained, 3 kept" in capsys.readouterr().out
    main([a.replace("epochs=1", "epochs=2") for a in args])  # another config: the classifiers are retrained
    assert "2 trained, 1 kept" in capsys.readouterr().out
    assert load_metadata("mlp-2-s1", out)["config"]["epochs"] == 2
    main(["seeds", "--names", "lca-mlp-2", "--seeds", "1", "--out", out, "--dry-run", *FLAGS])
    assert "[2/2] lca-mlp-2-s1: other config" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["seeds", "--names", "mlp-9", "--out", out])
    assert "--names: expected shipped models" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["seeds", "--names", "mlp-2", "--out", str(tmp_path / "mlp-2-s1.npz")])
    assert "--out: expected a folder, got the file" in capsys.readouterr().err


def test_missing_seed_files_name_the_command_that_trains_them(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_classifier("lca-mlp-2-s3", directory=tmp_path)
    assert f"python -m geomlib.cli.train seeds --names lca-mlp-2 --seeds 3 --out {tmp_path}" in str(err.value)
    train(["lca-mlp-2"], [1], tmp_path)
    (tmp_path / "mnist-768-s1.npz").unlink()  # its dictionary gone: never taken from elsewhere
    with pytest.raises(FileNotFoundError) as err:
        load_classifier("lca-mlp-2-s1", directory=tmp_path)
    assert str(tmp_path / "mnist-768-s1.npz") in str(err.value)
    assert f"python -m geomlib.cli.train seeds --names mnist-768 --seeds 1 --out {tmp_path}" in str(err.value)


# ----------------------------------------------------------------------------- the comparison


def test_comparison_seeds_expand_to_every_configuration_at_every_seed():
    assert seeded_names(["mlp-2", "lca-mlp-2"], [0, 1, 2]) == (
        "mlp-2", "mlp-2-s1", "mlp-2-s2", "lca-mlp-2", "lca-mlp-2-s1", "lca-mlp-2-s2")
    names = seeded_names(DEFENSE_MODELS, [0, 1, 2])
    assert len(names) == 36 and names[:3] == ("linear", "linear-s1", "linear-s2") and set(DEFENSE_MODELS) < set(names)


def test_seed_groups_gather_each_configuration_s_seeds():
    from geomlib._src.defense.mnist import seed_groups

    names = seeded_names(["mlp-2", "lca-mlp-2"], [0, 1, 2])
    assert seed_groups({n: i for i, n in enumerate(names)}) == {"mlp-2": {0: 0, 1: 1, 2: 2},
                                                                "lca-mlp-2": {0: 3, 1: 4, 2: 5}}
    assert seed_groups({"custom-s1": 7}) == {"custom-s1": {0: 7}}  # not a shipped configuration's seed
    with pytest.raises(ValueError, match=r"^results: "):
        seed_groups(["mlp-2"])


def test_comparison_command_passes_the_seeds_and_their_folder(tmp_path, monkeypatch, capsys):
    import geomlib._src.defense.runs as runs
    import geomlib._src.recipes as recipes

    seen = {}

    def fake(out, models, n_images, **kwargs):
        seen.update(models=models, seed_dir=kwargs.get("seed_dir"), out=out)
        raise KeyboardInterrupt

    monkeypatch.setattr(runs, "comparison_to_file", fake)
    with pytest.raises(SystemExit):  # the seed files are missing: refused before anything runs
        defense_cli.main(["--models", "mlp-2,lca-mlp-2", "--seeds", "0,1", "--seed-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert "mnist-768-s1.npz: missing" in err and "--names lca-mlp-2 --seeds 1" in err and not seen
    monkeypatch.setattr(recipes, "seed_file_problems", lambda names, directory: [])
    with pytest.raises(KeyboardInterrupt):
        defense_cli.main(["--models", "mlp-2,lca-mlp-2", "--seeds", "0,1", "--seed-dir", str(tmp_path)])
    assert seen == {"models": ("mlp-2", "mlp-2-s1", "lca-mlp-2", "lca-mlp-2-s1"), "seed_dir": str(tmp_path),
                    "out": defense_cli.Path("defense-mnist-24-seeds.npz")}
    seen.clear()
    with pytest.raises(KeyboardInterrupt):  # without the options: as before
        defense_cli.main(["--models", "mlp-2,linear"])
    assert seen == {"models": ("mlp-2", "linear"), "seed_dir": None, "out": defense_cli.Path("defense-mnist-24.npz")}
    with pytest.raises(SystemExit):
        defense_cli.main(["--models", "mlp-2", "--seeds", "0,x"])
    assert "--seeds: expected comma-separated integers" in capsys.readouterr().err


def test_seed_files_are_checked_against_their_seeded_configuration(tmp_path, monkeypatch):
    train(["mlp-2"], [1], tmp_path)  # tiny settings: not the seeded configuration
    assert seed_file_problems(["mlp-2", "mlp-2-s1"], tmp_path) == [
        f"{tmp_path / 'mlp-2-s1.npz'}: other config; train it with "
        f"`python -m geomlib.cli.train seeds --names mlp-2 --seeds 1 --out {tmp_path}`"]
    monkeypatch.setitem(SHIPPED_CLASSIFIERS, "mlp-2", {**SHIPPED_CLASSIFIERS["mlp-2"], **TINY})
    assert seed_file_problems(["mlp-2-s1"], tmp_path) == []
    assert seed_file_status(seeds_plan(["mlp-2"], [1], tmp_path)[0], tmp_path) == "done"


def test_mnist_comparison_reads_the_seeds_from_seed_dir(tmp_path, monkeypatch):
    """The measuring itself is stubbed: which classifier files are compared is the point."""
    import geomlib._src.defense.mnist as mnist

    train(["mlp-2"], [1], tmp_path)
    seen = {}

    def fake(nets, x, y, target, means, **kwargs):
        seen.update(nets)
        return {m: None for m in nets}

    monkeypatch.setattr(mnist, "compare_classifiers", fake)
    results, meta = mnist.mnist_comparison(("linear", "mlp-2-s1"), 2, seed_dir=tmp_path, progress=False)
    assert list(results) == ["linear", "mlp-2-s1"] and len(meta["images"]) == 2
    x = np.asarray(load_params("mlp-2-s1", tmp_path)["w0"])
    np.testing.assert_array_equal(seen["mlp-2-s1"][0].args[0]["layers"][0]["w"], x)
    with pytest.raises(ValueError, match=r"^models: expected shipped classifiers"):
        mnist.mnist_comparison(("linear", "mlp-2-s1"), 2, progress=False)  # no seed_dir: not a known name
    with pytest.raises(ValueError, match=r"^seed_dir: "):
        mnist.mnist_comparison(("linear",), 2, seed_dir=3, progress=False)
