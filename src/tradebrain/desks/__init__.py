"""Desk pipelines: config -> train -> evaluate against baselines -> report, one module per desk."""
