"""Experiments: a YAML spec -> grid x seeds -> cells run locally or on Ray, tracked in MLflow,
tuned with Optuna, aggregated across seeds with bootstrap intervals."""
