"""Area per report block from per-module synthesis figures (generic and ihp130 flows)."""

from latte_rtl.tops import get_top
from latte_rtl.tops.axis import AXIS_CORE


def block_areas(top: str, modules: dict[str, str], reported: dict[str, int]) -> dict[str, int]:
    """Transistors per report block of `top` from Yosys's per-module figures. `modules` maps each
    Verilog module to its submodule path below the top ("" for the top; the manifest's `modules`).
    Yosys counts a module with its submodules: a module's own share is its figure less its direct
    children's. Blocks come from the registry's map of submodule paths; the top's own logic is
    "control + stores"."""
    paths = {m: modules[m] for m in reported if m in modules}
    blocks: dict[str, int] = {}
    for name, path in paths.items():
        children = [c for c, p in paths.items() if p and p.rpartition(".")[0] == path]
        own = reported[name] - sum(reported[c] for c in children)
        block = block_of_path(top, path)
        blocks[block] = blocks.get(block, 0) + own
    return dict(sorted(blocks.items()))


def block_of_path(top: str, path: str) -> str:
    """Report block of the instance at `path` below `top` ("" = the top itself)."""
    inner = path.removeprefix(f"{AXIS_CORE}.")  # an AXI top: the native top's paths below its core
    return "control + stores" if inner in ("", AXIS_CORE) else get_top(top).block_of(inner)
