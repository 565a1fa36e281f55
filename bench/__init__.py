"""Benchmarks of jupyter_fujita against its peers, each figure a ratio from one interleaved pass.

`python -m bench` runs them all (`--quick` for a smoke run, `--json PATH` for the results,
`--docs` to rewrite docs/performance.md and its plot). See docs/performance.md for the method.
"""
