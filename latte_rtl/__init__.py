"""LATTE-RTL: generate, verify and cost LATTE-style sparse-attention hardware."""

__version__ = "0.1.0"
