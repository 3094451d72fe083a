"""The benchmark: `python -m bench` measures the gateway against nginx and Python anchors in interleaved
rounds on this machine and prints a table. It is never imported by the gateway or its tests' fixtures;
only tests/test_bench.py runs it, as a smoke run that proves it still works (no timing assertions)."""
