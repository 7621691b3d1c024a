"""External memory energy of the decode tops: bytes read times a DRAM class's energy per bit read.

Each figure is one published number for a whole access (row activation, array, I/O) per bit delivered,
as its source states it (collected in github.com/Dongyunkam/DRAM_info); none is a measurement here.
They assume the access pattern of their source: a decode top's scattered one-row bursts (LATTE's LSB
and V rows) open more DRAM rows per byte than the dense twin's streamed planes, so a per-bit figure
flatters LATTE's DRAM energy somewhat.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DramClass:
    name: str
    pj_per_bit: float
    source: str


DRAM_CLASSES = {c.name: c for c in (
    DramClass("DDR4", 20.0, "M. Horowitz, \"Computing's energy problem (and what we can do about it)\", ISSCC 2014: "
                            "1.3-2.6 nJ per 64-bit DRAM access, 20-41 pJ/bit (the low end taken)"),
    DramClass("LPDDR4", 13.0, "Heonjae Ha, PhD thesis, Stanford University "
                              "(stacks.stanford.edu/file/yp843xn4828/Heonjae_Thesis-augmented.pdf): DramDSE, 4x8 Gb "
                              "LPDDR4 (QDP) at 3.2 Gb/s/pin, 13.0 pJ/bit (14.0 for a 32 Gb SDP)"),
    DramClass("HBM2", 7.0, "M. Yan et al., \"HyGCN: a GCN accelerator with hybrid architecture\", HPCA 2020: 7 pJ/bit "
                           "per HBM access"),
)}
# the class the goals and the main tables use
DEFAULT_DRAM = "LPDDR4"


def dram_pj(nbytes: float, dram: str = DEFAULT_DRAM) -> float:
    """pJ to read `nbytes` from DRAM class `dram` (a DRAM_CLASSES name)."""
    return 8.0 * nbytes * DRAM_CLASSES[dram].pj_per_bit


def dram_energy(bytes_per_step: float) -> dict:
    """pJ per decode step in every DRAM class, and each class's source."""
    return {"bytes_per_step": round(bytes_per_step, 1),
            "pj_per_step": {name: round(dram_pj(bytes_per_step, name), 1) for name in DRAM_CLASSES},
            "pj_per_bit": {name: c.pj_per_bit for name, c in DRAM_CLASSES.items()},
            "sources": {name: c.source for name, c in DRAM_CLASSES.items()}}


def onchip_pj_per_key(report: dict, top: str) -> float:
    """A decode top's on-chip pJ per key of a decode step (its G rows) from a `synth --target ihp130` report:
    its gate-level energy per row on the activity run × G / the run's keys per row. Work-proportional: the
    idle cycles of a memory-bound step are not charged (a lower bound on chip, lowest for the top that
    waits longest)."""
    energy = report["tops"][top]["ihp130"]["energy"]
    return energy["pj_per_row"] * report["config"]["group"] / energy["activity"]["keys"]


def read_onchip(path, tops: dict[str, str]) -> dict[str, float]:
    """{name: on-chip pJ per key of a decode step} of each top in `tops` ({name: top}) from the `synth --target
    ihp130` report at `path`. Raises ValueError, one line saying what is wrong, unless the report has every
    top's energy (read before a long run, so a wrong path fails at once)."""
    import json

    try:
        report = json.loads(open(path, encoding="utf-8").read())
        return {name: onchip_pj_per_key(report, top) for name, top in tops.items()}
    except (OSError, ValueError) as exc:
        raise ValueError(f"--onchip {path}: cannot read it ({exc})") from None
    except (KeyError, TypeError) as exc:
        raise ValueError(f"--onchip {path}: not a `synth --target ihp130` report with the energy of "
                         f"{', '.join(tops.values())} (no {exc})") from None
