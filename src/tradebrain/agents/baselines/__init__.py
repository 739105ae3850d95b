"""Classical strategies as Policies, so they run wherever a trained agent runs."""
