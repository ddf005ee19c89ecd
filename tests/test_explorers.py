"""The chapter explorers: every control of dictionary_explorer drives the figure, and
what it draws is the library's response of the chosen circuit, neuron and LCA setting."""

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import pytest
from jax.tree_util import Partial

matplotlib.use("Agg")

import geomlib  # noqa: E402
from geomlib import explorers  # noqa: E402

N = 12


@pytest.fixture(scope="module")
def small():
    params = geomlib.load_params("patches-test")
    cfg = geomlib.load_metadata("patches-test")["config"]
    return params, {k: cfg[k] for k in ("lam", "steps", "eta")}


@pytest.fixture
def ex(small):
    params, lca = small
    ex = explorers.dictionary_explorer(params, lca, neurons=[3, 40, 77], temperature=0.03, lambdas=(0.05, 0.3),
                                       steps=(10, 30), n=N, dpi=40, preview=6)
    yield ex
    ex.close()


def test_controls_and_defaults(ex, small):
    params, lca = small
    assert ex.parameter_values == {"index": 3, "lam": lca["lam"], "steps": lca["steps"]}
    assert list(ex.neurons) == ["LCA", "LCA, smooth (T = 0.03)", "linear", "ReLU", "divisive"]
    assert [o[1] for o in ex.parameter_sliders["lam"].options] == sorted({0.05, 0.3, lca["lam"]})
    assert list(ex.v1_options) == ["random 1", "random 2", "random 3"]
    assert list(ex.v2_options)[0] == "competitor 1 (closest)" and len(ex.v2_options) == 3
    assert ex._side == 8  # 8 x 8 patches: u and v(theta) drawn as images


@pytest.mark.parametrize("circuit", ["LCA", "LCA, smooth (T = 0.03)", "linear", "ReLU", "divisive"])
def test_field_is_the_library_response(ex, small, circuit):
    params, lca = small
    ex.update(neuron=circuit, index=40, lam=0.3, steps=10, v2="competitor 2", theta=30.0)
    model = {"LCA": "lca", "linear": "linear", "ReLU": "relu", "divisive": "divisive"}.get(circuit, "lca")
    kw = {"lca": dict(lam=0.3, steps=10, eta=lca["eta"]), "relu": dict(lam=0.3)}.get(model, {})
    if circuit.startswith("LCA, smooth"):
        kw["temperature"] = 0.03
    f = geomlib.dictionary_neuron(params, 40, model, **kw)
    want = geomlib.plane_values(f, ex.plane, ex.coords)
    np.testing.assert_allclose(ex.field, np.asarray(want), rtol=1e-5, atol=1e-6)
    phi = np.asarray(params["phi"], dtype=np.float64)
    np.testing.assert_allclose(ex.u, phi[:, 40] / np.linalg.norm(phi[:, 40]), atol=1e-6)


def test_competitor_axes_follow_the_neuron(ex, small):
    params, _ = small
    for index in (3, 77):
        ex.update(index=index, v2="competitor 1 (closest)")
        sp = geomlib.survey_planes(params, [index], n_comparison=1, n_random=0)
        partner = int(sp.partner[0, 0])
        phi = np.asarray(params["phi"], dtype=np.float64)
        w = phi[:, partner] / np.linalg.norm(phi[:, partner])
        resid = w - (w @ ex.u) * ex.u - (w @ ex.v1) * ex.v1 - (w @ ex.v2) * ex.v2
        assert np.linalg.norm(resid) < 1e-6  # v2 spans the competitor (within span(u, v1, v2))
        assert f"MEI of neuron {index}" in ex.status.value


def test_every_control_changes_the_figure(ex):
    ex.update(theta=45.0)
    for name, control in ex._controls.items():
        if name != "neuron":
            ex.update(neuron="LCA")  # the circuit that uses every parameter
        options = [o[1] if isinstance(o, tuple) else o for o in getattr(control, "options", ())]
        if name in ("theta", "origin_a", "origin_b"):
            options = [control.min, control.max, 45.0 if name == "theta" else 0.0]
        for value in options:
            if value == control.value:
                continue
            before = ex.png
            control.value = value  # the observer path of a browser drag
            assert ex.last_error is None, (name, value, ex.last_error)
            assert np.isfinite(ex.geometry.value).all()
            if name not in ("v1", "v2") or ex.theta % 90:  # at 0 and 180 degrees v2 is not seen, at 90 v1
                assert ex.png != before, f"{name} = {value!r}: figure did not change"


def test_bad_neurons_raise(small):
    params, lca = small
    with pytest.raises(ValueError, match="^neurons"):
        explorers.dictionary_explorer(params, lca, neurons=[1000])
    with pytest.raises(ValueError, match="^neurons"):
        explorers.dictionary_explorer(params, lca, neurons=[])


def test_parameters_a_circuit_does_not_use_leave_it_alone(ex):
    ex.update(neuron="divisive", theta=45.0)
    before = ex.png
    ex.parameter_sliders["lam"].value = 0.05
    ex.parameter_sliders["steps"].value = 30
    np.testing.assert_array_equal(ex.png, before)
