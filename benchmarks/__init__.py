"""tradebrain's benchmark suite: env speed, SB3 training throughput and execution quality.

Run `python -m benchmarks` (or `make bench`); see `python -m benchmarks --help`. Speed is measured
here, never asserted in a timed unit test.
"""
