"""The ground floor every layer of geomlib shares; it imports nothing else of geomlib.

- :mod:`.dtypes`: the default float dtype and tracer tests.
- :mod:`.checks`: argument checks (scalars, arrays, choices, images and labels, keys, callables).
- :mod:`.files`: result files written atomically and reproducibly, read with errors that
  name the file and the command that writes it.
- :mod:`.batching`: putting a batch axis on the local devices.
- :mod:`.defaults`: named defaults (the LCA's step count and rate, the PGD step rule).
"""
