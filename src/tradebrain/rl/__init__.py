"""The generic RL parts every desk uses: one Policy interface for trained models and baselines, the
VecEnv plumbing of batched envs, the algorithm registry over stable-baselines3, training, numpy
export and the compiled policy kernels of the backtest loop."""
