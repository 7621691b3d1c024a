"""The memory-bus seam: what the rest of the product asks of a `kv_memory` value (where K and V live)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# Protocol text every top shares (the manifest's `protocol`).
COMMON_PROTOCOL = {
    "reset": "synchronous, active high (rst); assert it for at least one cycle after power-on",
    "streams": "valid/ready: a beat transfers on a rising clk edge with valid and ready high; the payload "
               "is held while valid and not ready",
}


class MemoryBus:
    """One value of the `kv_memory` parameter: the tops it generates, the parameters it implies, its checks,
    manifest sections and simulation models. A bus is a subclass in a module of its own under buses/ and
    one line in `buses.BUSES`; `LatteConfig.bus` is the registered instance of a design.

    name          the `kv_memory` value
    help          its phrase in the parameter's help
    external      K and V in external memory behind a read master (the decode tops), not on chip
    implies       {parameter: value} it implies unless given (`LatteConfig.from_params`)
    model_cycles  the regression compares measured cycles with the cycle model (else the scoreboard checks
                  each record's cycles against the testbench's own count)
    counts_keys   the tops count the keys sent to them (an `n_keys` port; AXI4-Lite status N_KEYS)
    """

    name: str = ""
    help: str = ""
    external: bool = False
    implies: Mapping = MappingProxyType({})
    model_cycles: bool = True
    counts_keys: bool = True

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kv_memory={self.name!r})"

    def check(self, cfg) -> None:
        """UserError for a design whose tops this bus cannot build (cross-parameter rules)."""

    def generates(self, top, cfg) -> bool:
        """Whether design `cfg` generates the registered `top`."""
        raise NotImplementedError

    def derived(self, cfg) -> dict:
        """Its entries of the manifest's `derived`."""
        return {}

    def protocol(self) -> dict:
        """The manifest's `protocol`: one phrase per port of its tops."""
        raise NotImplementedError

    def memory_layout(self, cfg) -> dict | None:
        """The manifest's `memory_layout` (None: no external memory)."""
        return None

    def regression_cases(self, cfg, seed: int, *, rows: int, keys: int | None) -> dict[str, dict]:
        """{case name: arrays} of the regression (sim/stimulus.py)."""
        raise NotImplementedError

    def register_widths(self, cfg) -> dict[str, int]:
        """{what: bits} of the values its tops' registers take (the AXI4-Lite wrapper's check)."""
        raise NotImplementedError

    def memory_model(self, tb, cfg):
        """The memory model bound to testbench `tb` (cocotb or native), or None."""
        return None

    def native_memory(self, cfg, memory: tuple) -> tuple | None:
        """The native harness's memory arguments (latency, bytes per cycle[, queued bursts]) from `run`'s, or
        None."""
        return None
