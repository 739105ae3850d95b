"""Gymnasium envs (simulator + observer + action map + reward) and their batched VecEnv twins."""
