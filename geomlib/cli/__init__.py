"""The command-line programs (argument parsing and printing; the work is done by the library):

- ``python -m geomlib.cli.train``: train the shipped LCA dictionaries and classifiers
  (``make models``), or a custom dictionary;
- ``python -m geomlib.cli.survey``: the full curvature survey of chapter 4, saved for the notebooks;
- ``python -m geomlib.cli.defense``: chapter 8's curvature and robustness measurements, saved
  for the notebooks.
"""
