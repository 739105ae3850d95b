"""Market data: bar schema and validation, sources, stores, the pipeline and point-in-time features."""
