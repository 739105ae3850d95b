"""Double DQN (van Hasselt et al., 2016): stable-baselines3's DQN with the double-Q target.

SB3's DQN bootstraps from max_a Q_target(s', a), which overestimates; Double DQN picks the action
with the online network and values it with the target network. No maintained library ships it for
SB3, so this subclass changes only the target.
"""

from __future__ import annotations

import numpy as np
import torch as th
from stable_baselines3 import DQN
from torch.nn import functional


class DoubleDQN(DQN):
    """DQN whose TD target is r + gamma * Q_target(s', argmax_a Q_online(s', a))."""

    def train(self, gradient_steps: int, batch_size: int = 100) -> None:
        """One round of gradient steps on replay samples (as DQN.train, with the double-Q target)."""
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        losses = []
        for _ in range(gradient_steps):
            replay = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)  # type: ignore[union-attr]
            discounts = replay.discounts if replay.discounts is not None else self.gamma
            with th.no_grad():
                best_next = self.q_net(replay.next_observations).argmax(dim=1, keepdim=True)
                next_q = th.gather(self.q_net_target(replay.next_observations), dim=1, index=best_next)
                target_q = replay.rewards + (1 - replay.dones) * discounts * next_q
            current_q = th.gather(self.q_net(replay.observations), dim=1, index=replay.actions.long())
            loss = functional.smooth_l1_loss(current_q, target_q)
            losses.append(loss.item())
            self.policy.optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
            self.policy.optimizer.step()
        self._n_updates += gradient_steps
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/loss", np.mean(losses))
