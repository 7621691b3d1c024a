"""Stages: components with stream seams (row control, score stages; softmax and P·V next)."""
