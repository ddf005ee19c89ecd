"""Benchmark suite for geomlib: ``make bench`` (``python -m benchmarks``).

Every figure is a ratio of variants timed side by side in the same run, so the
suite is meaningful on a small, shared machine. See ``benchmarks.bench_geometry``.
"""
