"""Benchmarks run by ``make bench``: each ``bench_*.py`` module here exposes ``main()``.

Benchmarks measure; tests assert behaviour. Every comparison is made side by side in one
process run, because the machines here are noisy.
"""
