"""Benchmark scripts: they print figures; results are recorded in docs/benchmarks.md."""
