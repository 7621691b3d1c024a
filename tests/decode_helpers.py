"""Decode designs for the tests: every decode top, stage and golden spec is built from a `LatteConfig`
(kv_memory axi: attention on and threshold_mode absolute unless given), never from its own defaults."""

from latte_rtl.config import LatteConfig


def decode_design(**params) -> LatteConfig:
    """The kv_memory axi design of `params` (flat parameter names: dim=16, axi_data_width=64, group=3, ...)."""
    return LatteConfig.from_params(kv_memory="axi", **params)
