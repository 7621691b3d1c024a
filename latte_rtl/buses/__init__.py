"""Memory buses, the values of `kv_memory`: where a design's K and V live and how its tops reach them.

Each bus is a `MemoryBus` subclass in a module of its own (onchip.py, axi4.py; external.py holds what every
external bus shares) and one line in `BUSES`; the parameter's choices, where the decode parameters apply, the
tops generated, the manifest's sections and the simulation models all follow the registry.
"""

from __future__ import annotations

from ..params import Live
from .axi4 import Axi4ReadBus
from .base import MemoryBus
from .external import ExternalBus
from .onchip import OnChipBus

BUSES: dict[str, MemoryBus] = {bus.name: bus for bus in (
    OnChipBus(),
    Axi4ReadBus(),
)}

NAMES = Live(lambda: tuple(BUSES))                                         # kv_memory's choices
EXTERNAL = Live(lambda: tuple(n for n, bus in BUSES.items() if bus.external))  # where the decode parameters apply


def register(bus: MemoryBus) -> MemoryBus:
    """Add `bus` to the registry under its name (a module's own line; tests use it for a throwaway bus)."""
    if not isinstance(bus, MemoryBus) or not bus.name:
        raise TypeError(f"bus must be a named MemoryBus, not {bus!r}")
    BUSES[bus.name] = bus
    return bus


def help_text() -> str:
    """The `kv_memory` help: each bus's phrase and what it implies unless given."""
    def implied(bus):
        said = ", ".join(f"{k} on" if v is True else f"{k} {v}" for k, v in bus.implies.items())
        return f" ({said} unless given)" if said else ""
    return "; ".join(f"{bus.name}: {bus.help}{implied(bus)}" for bus in BUSES.values())


__all__ = ["BUSES", "EXTERNAL", "NAMES", "Axi4ReadBus", "ExternalBus", "MemoryBus", "OnChipBus", "help_text",
           "register"]
