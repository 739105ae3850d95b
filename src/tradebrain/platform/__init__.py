"""The market-data platform: one upstream connection per broker fanned out over a bus (in-process
or NATS JetStream), a storage component that keeps every bar once, and an async client."""
