"""A toy desk that proves tradebrain's Desk contract from outside the package: coin betting.

An agent stakes a fraction of its wealth on a biased coin, round after round, and is compared with
the Kelly stake (the closed-form optimum of the expected log growth), half-Kelly and all-in. It is
registered through `toy_desk-0.1.0.dist-info/entry_points.txt` beside this package, so it appears
in `tradebrain desks` whenever this folder's parent is on the Python path; docs/adding-a-desk.md
walks through it.
"""
