"""Benchmarks (`make bench`): not tests; they measure and write BENCHMARKS.md."""
