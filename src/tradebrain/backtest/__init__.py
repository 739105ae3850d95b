"""Evaluation of Policies on held-out episodes, metrics with confidence intervals, reports."""
