"""The IHP SG13G2 open 130 nm PDK files the ASIC flow needs, vendored xz-compressed (Apache-2.0,
see ihp-sg13g2/LICENSE and README.md), and what the flow reads from them.

* `stdcell_liberty()`: the standard-cell library, typical corner (1.2 V, 25 °C).
* `macros()`: every single-port SRAM macro with its words × bits, area (µm²), energy per read
  and per write access (pJ, the A_CLK `internal_power` of that access), leakage (nW) and pins.
"""

from __future__ import annotations

import functools
import lzma
import re
from dataclasses import dataclass
from pathlib import Path

PDK_DIR = Path(__file__).resolve().parent / "ihp-sg13g2"
STDCELL = "sg13g2_stdcell_typ_1p20V_25C.lib"
TIE_HI, TIE_LO = ("sg13g2_tiehi", "L_HI"), ("sg13g2_tielo", "L_LO")
FLIP_FLOP = "sg13g2_dfrbpq_1"  # plain flip-flops map to it (reset tied inactive): the library has no other


def liberty_text(name: str) -> str:
    """The decompressed text of the vendored liberty file `name` (without .xz)."""
    return lzma.decompress((PDK_DIR / f"{name}.xz").read_bytes()).decode()


def stdcell_liberty() -> str:
    return liberty_text(STDCELL)


@dataclass(frozen=True)
class Macro:
    """One SRAM macro of the library. Energies in pJ per access, leakage in nW, area in µm²."""
    name: str
    liberty: str  # file name (without .xz)
    words: int
    bits: int
    area_um2: float
    read_pj: float
    write_pj: float
    leakage_nw: float
    bit_mask: bool  # has A_BM (bit-wise write enable); without it only whole words are written
    inputs: tuple  # ((pin, width), ...) every input, for tying off what the wrapper does not use


def _access_energy(text: str, when: str) -> float:
    """Rise energy of the A_CLK internal_power group whose `when` is `when` (spaces ignored)."""
    clk = text[text.index("pin(A_CLK)"):]
    for group in re.finditer(r'when\s*:\s*"([^"]+)"\s*;\s*rise_power\("scalar"\)\{\s*values\s*\(([\d.eE+-]+)\)', clk):
        if group.group(1).replace(" ", "") == when:
            return float(group.group(2))
    raise ValueError(f"no A_CLK internal power for {when!r}")


def _parse_macro(liberty: str) -> Macro:
    text = liberty_text(liberty)
    name = re.search(r"^cell\s*\((\w+)\)", text, re.M).group(1)
    words, bits = map(int, re.search(r"_1P_(\d+)x(\d+)_", name).groups())
    inputs = []
    pin_direction = r"^\s*(bus|pin)\((\w+)\)\s*\{\s*(?:bus_type\s*:\s*\w+\s*;\s*)?direction\s*:\s*(\w+)"
    for kind, pin, body in re.findall(pin_direction, text, re.M):
        if body == "input" and pin != "A_CLK":
            width = words.bit_length() - 1 if pin.endswith("ADDR") else bits
            inputs.append((pin, width if kind == "bus" else 1))
    return Macro(
        name=name, liberty=liberty, words=words, bits=bits,
        area_um2=float(re.search(r"^area\s*:\s*([\d.]+)", text, re.M).group(1)),
        read_pj=_access_energy(text, "A_MEN&!A_WEN&A_REN"),
        write_pj=_access_energy(text, "A_MEN&A_WEN&!A_REN"),
        leakage_nw=float(re.search(r"^\s*cell_leakage_power\s*:\s*([\d.]+)", text, re.M).group(1)),
        bit_mask="bus(A_BM)" in text, inputs=tuple(inputs),
    )


@functools.cache
def macros() -> tuple[Macro, ...]:
    """Every vendored SRAM macro, smallest first."""
    files = sorted(p.name[:-3] for p in PDK_DIR.glob("RM_IHPSG13_1P_*.lib.xz"))
    return tuple(sorted((_parse_macro(f) for f in files), key=lambda m: (m.words * m.bits, m.bits)))


@functools.cache
def cell_area(cell: str) -> float:
    """Area (µm²) of standard cell `cell`."""
    text = stdcell_liberty()
    match = re.search(r"cell\s*\(\s*\"?" + re.escape(cell) + r"\"?\s*\)\s*\{\s*area\s*:\s*([\d.]+)", text)
    if not match:
        raise ValueError(f"no cell {cell!r} in {STDCELL}")
    return float(match.group(1))
