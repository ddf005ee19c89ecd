r"""MNIST digit classifiers with and without an LCA front-end (Paiton et al. 2020, "w/ LCA").

A classifier is the pytree ``params = {"layers": [{"w": (out, in), "b": (out,)}, ...]}``,
optionally with ``"lca": {"phi": (784, N), "lam": (), "eta": ()}``: then the input of the
first layer is the LCA code :math:`a = \mathrm{LCA}(\Phi, x)` (:func:`geomlib.lca_codes`,
a fixed number of Euler steps), so the LCA is *part of the model function* and attacks
differentiate through its recurrence. Between layers the nonlinearity is ReLU; with a
``smooth_temperature`` T the same weights are evaluated with the softplus surrogate
:math:`T \log(1 + e^{z/T})` (and the LCA with its smooth threshold at the same T), a
smooth twin whose Hessian is defined everywhere and which tends to the ReLU model as
T -> 0 (for exact, autodiff curvature of piecewise-linear models).

The shipped classifiers (:data:`geomlib.SHIPPED_CLASSIFIERS`, trained on the 4,000
training digits of :func:`geomlib.load_mnist_subset`) are loaded with
:func:`load_classifier` as ``logits_fn: (B, 784) -> (B, 10)`` for the attacks.
:func:`train_classifier` also trains robust MLPs: with the CURE curvature penalty
(:func:`cure_penalty`, Moosavi-Dezfooli et al. 2019) or on PGD examples (Madry et al.
2018, the attack of :mod:`geomlib._src.attacks`).

Parts: ``model`` (the logits, binding, accuracy), ``io`` (saving format, dictionary
fingerprint, loading), ``augment`` (translated copies), ``cure`` (the CURE penalty),
``training`` (options, train step, cached LCA codes, the epoch loop).
"""

from geomlib._src.classifiers.augment import shifted_copies
from geomlib._src.classifiers.cure import cure_penalty
from geomlib._src.classifiers.io import dictionary_fingerprint, flatten_classifier, load_classifier
from geomlib._src.classifiers.model import bind_classifier, classifier_accuracy, classifier_logits
from geomlib._src.classifiers.training import ADVERSARIAL_DEFAULTS, lca_code_batch, train_classifier

__all__ = [
    "ADVERSARIAL_DEFAULTS",
    "bind_classifier",
    "classifier_accuracy",
    "classifier_logits",
    "cure_penalty",
    "dictionary_fingerprint",
    "flatten_classifier",
    "lca_code_batch",
    "load_classifier",
    "shifted_copies",
    "train_classifier",
]
