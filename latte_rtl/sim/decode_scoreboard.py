"""Scoreboard of the decode tops (docs/spec.md §9): per decode step (npzio.decode_steps: the G query rows
of one KV head) the KV head's planes go into the AXI memory (golden.decode.memory_image at a base that is
a multiple of the bus width but not of 4 KiB), the layout and per-row registers through `config`, the G q
rows through `query`, then `start`; the G `out` beats and the step's `rows` record are checked against
golden bit for bit (out, kept_count, overflow, bytes read per plane) and the record's cycles against the
testbench's own count (start accepted to record valid).

The memory is the design's bus's model (`LatteConfig.bus.memory_model`, buses/; kv_memory axi: cocotbext-axi's
`AxiRamRead` on the `axi` port under cocotb, AR paused as a sink with --ready-prob, R as a source with
--valid-prob, seeded by --seed; the harness's reactive model under the native engine, `tb.axi_memory()`).
"""

from __future__ import annotations

import os
import random

import numpy as np

from latte_rtl.golden.decode import PLANES, packed_layout

from .scoreboards import first_mismatch, scoreboard_for

BASE = 0x3000  # planes start at BASE + (3 + step % 5) bus words: never 4 KiB aligned
LAYOUT_REGS = (("BASE", "base"), ("STRIDE", "stride"))
REG_PLANE = {"k_msb": "MSB", "k_lsb": "LSB", "v": "V"}


def memory_bytes(spec) -> int:
    """AXI memory size: a power of two holding the planes of max_keys keys above BASE."""
    span = BASE + 8 * spec.bus_bytes + sum(spec.row_beats(p) * spec.bus_bytes for p in PLANES) * spec.max_keys
    return 1 << (span - 1).bit_length()


class CocotbMemory:
    """AxiRamRead bound to the `prefix` signals, seeded random pauses on AR and R."""

    def __init__(self, dut, size: int, prefix: str):
        from cocotbext.axi import AxiRamRead, AxiReadBus

        from .bfm import random_pauses

        self.ram = AxiRamRead(AxiReadBus.from_prefix(dut, prefix), dut.clk, dut.rst, size=size)
        rng = random.Random(int(os.environ.get("LATTE_SEED", "1")) * 1_000_003 + 24)
        self.ram.ar_channel.set_pause_generator(
            random_pauses(random.Random(rng.random()), float(os.environ.get("LATTE_READY_PROB", "1"))))
        self.ram.r_channel.set_pause_generator(
            random_pauses(random.Random(rng.random()), float(os.environ.get("LATTE_VALID_PROB", "1"))))

    async def write(self, address: int, image: bytes) -> None:
        self.ram.write(address, bytes(image))


def pack_vector(values, bits: int) -> int:
    """A vector as one integer, element i in bits [i·bits, (i+1)·bits) (two's complement)."""
    word = 0
    for i, x in enumerate(np.asarray(values, np.int64).tolist()):
        word |= (x & ((1 << bits) - 1)) << (i * bits)
    return word


@scoreboard_for("latte_decode_engine", "dense_decode_engine")
class DecodeScoreboard:
    """Decode tops: one decode step per group of G rows; `result` per row: out, kept_count, overflow,
    cycles (the record's), bytes_read and bytes_read_<plane> (the step's, on each of its G rows)."""

    def __init__(self, tb, models: dict, cfg, top, inp):
        from latte_rtl.npzio import load_attention

        self.tb, self.m, self.cfg, self.inp = tb, models, cfg, inp
        self.spec, self.arrays = cfg.decode_spec(), load_attention(inp, cfg)
        self.expected = top.expected(inp, cfg)
        self.steps = self.expected["steps"]
        rows = inp.q.shape[0]
        self.result = {"out": np.zeros((rows, cfg.score.dim), np.int64),
                       **{name: np.zeros(rows, np.int64) for name in (
                           "kept_count", "overflow", "cycles", "measured_cycles", "bytes_read",
                           *(f"bytes_read_{p}" for p in PLANES))}}
        self.errors: list[str] = []

    def rebind(self, tb, models: dict) -> None:
        self.tb, self.m = tb, models
        self.result = {name: np.zeros_like(arr) for name, arr in self.result.items()}
        self.errors = []

    async def run(self) -> None:
        memory = self.cfg.bus.memory_model(self.tb, self.cfg)
        for s, rows in enumerate(self.steps):
            await self.step(memory, s, [int(r) for r in rows])

    def config_writes(self, layout, rows: list[int]) -> list[dict]:
        """Layout registers (head 0), then T, M, C of each query row g of the step."""
        writes = [{"reg": f"{what}_{REG_PLANE[p]}", "head": 0, "value": getattr(layout[p], attr)}
                  for p in PLANES for what, attr in LAYOUT_REGS]
        writes.append({"reg": "N_KEYS", "head": 0, "value": self.inp.n_keys})
        heads = self.inp.heads[rows]
        for reg, values in (("THRESHOLD", self.inp.thresholds), ("MULT", self.arrays.mult),
                            ("COMP", self.arrays.comp)):
            writes += [{"reg": reg, "head": g, "value": int(values[h])} for g, h in enumerate(heads)]
        return writes

    async def step(self, memory, s: int, rows: list[int]) -> None:
        from latte_rtl.golden.decode import memory_image

        spec, inp, h = self.spec, self.inp, int(self.inp.heads[rows[0]])
        v = self.arrays.v if self.arrays.v.ndim == 2 else self.arrays.v[h]
        layout = packed_layout(spec, inp.n_keys, BASE + (3 + s % 5) * spec.bus_bytes)
        lo, image = memory_image(spec, layout, inp.keys_of_head(h), v)
        await memory.write(lo, image)
        from latte_rtl.tops.decode import DecodeReg

        await self.m["config"].send([{**w, "reg": DecodeReg[w["reg"]].value} for w in self.config_writes(layout, rows)])
        await self.m["query"].send([{"row": g, "data": pack_vector(inp.q[r], spec.bits)} for g, r in enumerate(rows)])
        start = len(self.m["start"].accepted_at)
        await self.m["start"].send([0])
        outs = [await self.m["out"].recv() for _ in rows]
        record, valid_at = await self.m["rows"].recv()
        self.record(rows, [beat for beat, _ in outs], record, valid_at - self.m["start"].accepted_at[start])

    def record(self, rows: list[int], outs: list[dict], record: dict, measured: int) -> None:
        res = self.result
        for g, (r, beat) in enumerate(zip(rows, outs)):
            if beat["row"] != g:
                self.errors.append(f"row {r}: out beat {g} of its step carries row {beat['row']}")
            res["out"][r] = beat["data"][:self.cfg.score.dim]
            res["kept_count"][r], res["overflow"][r] = record["kept_count"][g], record["overflow"][g]
            res["cycles"][r], res["measured_cycles"][r] = record["cycles"], measured
            for p in PLANES:
                res[f"bytes_read_{p}"][r] = record[f"bytes_read.{p}"]
            res["bytes_read"][r] = sum(record[f"bytes_read.{p}"] for p in PLANES)
            self.compare(r)

    def compare(self, r: int) -> None:
        res, exp, errors = self.result, self.expected, self.errors
        errors += first_mismatch("out", r, res["out"][r], exp["out"][r], "element")
        for name in ("kept_count", "overflow", "bytes_read_k_msb", "bytes_read_k_lsb", "bytes_read_v"):
            if res[name][r] != exp[name][r]:
                errors.append(f"row {r}: rows.{name} rtl={res[name][r]} golden={exp[name][r]}")
        if res["cycles"][r] != res["measured_cycles"][r]:
            errors.append(f"row {r}: rows.cycles={res['cycles'][r]} but the testbench measured "
                          f"{res['measured_cycles'][r]}")
