"""Policies: trained stable-baselines3 models and classical baselines behind one interface."""
