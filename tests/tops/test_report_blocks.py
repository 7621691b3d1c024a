"""Every report block of the registry (`Top.blocks`) names a submodule or SRAM instance of its top as
elaborated: a renamed submodule would otherwise move its area to "control + stores" in silence. The
paths are those the reports see (design.emit.top_verilog's {module: path}, manifest `memories`), taken
from the RTLIL of small designs: on-chip with relative and absolute thresholds, each with and without a
completion array (the blocks that only some configurations build), two filter rounds, and a kv_memory axi
design."""

import re

import pytest
from amaranth.back import rtlil

from latte_rtl.config import LatteConfig
from latte_rtl.hw.sram import SRAM_MODULE
from latte_rtl.tops import TOPS, tops_for
from latte_rtl.tops.registry import block_pattern

SMALL = dict(bits=8, msb_bits=4, dim=8, lanes=4, heads=2, max_keys=16, attention=True)
VARIANTS = {
    "relative": {},
    "absolute": {"threshold_mode": "absolute"},
    "relative, completion array": {"completion_lanes": 2},
    "absolute, completion array": {"threshold_mode": "absolute", "completion_lanes": 2},
    "two rounds": {"rounds": 2},
    "decode": {"threshold_mode": "absolute", "kv_memory": "axi", "axi_data_width": 64, "group": 2,
               "kept_buffer": 16},
}


def instance_paths(cfg: LatteConfig, top) -> set[str]:
    """Every submodule path below `top` ("dot.multipliers") and every SRAM instance path ("buffer")."""
    il = rtlil.convert(top.build(cfg), name=top.name, emit_src=False)
    paths, module = set(), None
    for line in il.splitlines():
        if found := re.fullmatch(r"module \\(\S+)", line):
            module = ".".join(found.group(1).split(".")[1:])
            paths.add(module)
        elif found := re.fullmatch(rf"  cell \\{SRAM_MODULE} \\(\S+)", line):
            paths.add(f"{module}.{found.group(1)}" if module else found.group(1))
    return paths - {""}


@pytest.fixture(scope="module")
def built() -> dict[str, dict[str, set[str]]]:
    """{top: {variant: its instance paths}} for every top each variant generates."""
    out: dict[str, dict[str, set[str]]] = {}
    for variant, params in VARIANTS.items():
        cfg = LatteConfig.from_params(**SMALL, **params)
        for top in tops_for(cfg):
            out.setdefault(top.name, {})[variant] = instance_paths(cfg, top)
    return out


def names(key: str, path: str) -> bool:
    return key == path or ("*" in key and block_pattern(key).fullmatch(path) is not None)


def test_every_top_is_built(built):
    assert set(built) == set(TOPS)


@pytest.mark.parametrize("name", list(TOPS))
def test_every_block_path_exists(built, name):
    paths = set().union(*built[name].values())
    dead = [key for key in TOPS[name].blocks if not any(names(key, p) for p in paths)]
    assert not dead, f"{name}: report block paths that name no submodule or SRAM: {dead}; it has {sorted(paths)}"


def test_an_index_pattern_names_every_index_and_nothing_else(built):
    top = TOPS["latte_decode_engine"]
    assert {p for p in built[top.name]["decode"] if p.startswith("divider_")} == {"divider_0", "divider_1"}
    assert top.block_of("divider_1") == top.block_of("divider_15") == "softmax dividers"
    assert top.block_of("buffer") == "kept-score buffer"
    for other in ("divider_", "divider_x", "divider_1x", "xdivider_1"):
        assert top.block_of(other) == "control + stores", other


def test_a_renamed_submodule_is_found():
    """The check itself: a block key that names nothing is reported."""
    paths = {"dot", "dot.multipliers"}
    assert [k for k in ("dot", "dotp", "divider_*") if not any(names(k, p) for p in paths)] == ["dotp", "divider_*"]
