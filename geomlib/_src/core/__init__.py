"""The ground floor every layer of geomlib shares; it imports nothing else of geomlib.

- :mod:`.dtypes`: the default float dtype and tracer tests.
- :mod:`.checks`: argument checks (scalars, arrays, images and labels, keys, callables).
- :mod:`.batching`: putting a batch axis on the local devices.
- :mod:`.defaults`: named defaults (the LCA's step count and rate, the PGD step rule).
"""
