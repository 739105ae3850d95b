"""The paper and live trading node: a desk's decision path on a live clock, behind the risk gate,
with execution clients, an order journal and a decision log (issue #15)."""
