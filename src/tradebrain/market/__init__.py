"""Shared market machinery below every desk: mid-price processes (ABM, GBM, OU, GARCH) drawn in
batches from per-episode random streams, and their config. A desk's own simulator lives in its folder."""
