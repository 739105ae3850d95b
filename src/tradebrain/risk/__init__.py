"""Hard risk limits every order passes, in training, backtest and live alike."""
