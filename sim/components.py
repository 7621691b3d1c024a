"""Stand-alone Verilog of each engine component, for the component-level cocotb tests."""

from __future__ import annotations

from pathlib import Path

from amaranth import Signal, Value
from amaranth.back import rtlil

from latte_rtl import layouts
from latte_rtl.completion import CompletionUnit
from latte_rtl.config import LatteConfig
from latte_rtl.emit import rtlil_to_verilog
from latte_rtl.estimator import Estimator
from latte_rtl.keystore import KeyStore
from latte_rtl.multiplier import MultiplierArray
from latte_rtl.sram import SRAM_VERILOG
from latte_rtl.threshold import ThresholdFilter, ThresholdRegisterFile


def build_component(name: str, cfg: LatteConfig):
    """The component `name` as the LATTE engine instantiates it for `cfg`."""
    if name == "multiplier_array":
        return MultiplierArray(lanes=cfg.lanes, width=cfg.nibble_width)
    if name == "estimator":
        return Estimator(lanes=cfg.lanes, product_width=2 * cfg.nibble_width, sum_width=cfg.beat_sum_width,
                         acc_width=cfg.accumulator_width, lsb_bits=cfg.lsb_bits,
                         tag_layout=layouts.token(cfg, cfg.hh_width), index_width=cfg.index_width)
    if name == "threshold_register_file":
        return ThresholdRegisterFile(cfg)
    if name == "threshold_filter":
        return ThresholdFilter(cfg)
    if name == "completion_unit":
        return CompletionUnit(cfg)
    if name == "key_store":
        return KeyStore(cfg, parts=("msb", "lsb"), capacity=cfg.max_keys)
    raise ValueError(f"unknown component {name!r}")


COMPONENTS = ("multiplier_array", "estimator", "threshold_register_file", "threshold_filter",
              "completion_unit", "key_store")


def write_component(name: str, cfg: LatteConfig, out_dir: Path) -> list[Path]:
    """Write <name>.v (+ latte_sram.v) into out_dir; returns the sources."""
    out_dir.mkdir(parents=True, exist_ok=True)
    component = build_component(name, cfg)
    # always_ready/always_valid stream members are constants, not ports: leave them out.
    values = [Value.cast(v) for _, _, v in component.signature.flatten(component)]
    ports = [v for v in values if isinstance(v, Signal)]
    text = rtlil_to_verilog(rtlil.convert(component, name=name, ports=ports, emit_src=False))
    src = out_dir / f"{name}.v"
    src.write_text(text)
    sram = out_dir / "latte_sram.v"
    sram.write_text(SRAM_VERILOG)
    return [src, sram]
