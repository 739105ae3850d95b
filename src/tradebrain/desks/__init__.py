"""The desks: one folder per desk (simulator, env and batched twin, baselines, evaluation, study,
report, experiment cell), each exporting one `Desk` (desks/contract.py) found through the
`tradebrain.desks` entry-point group (desks/registry.py). Desks never import each other."""
