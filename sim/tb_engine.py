"""cocotb testbench of both score engines: drives rows from a stimulus file, checks every result
against the golden model (scoreboard) and writes what the RTL produced.

Configured by environment (set by sim.runner): LATTE_DESIGN (generated design dir), LATTE_TOP,
LATTE_STIMULUS (input .npz, SPEC §6), LATTE_RESULTS (output .npz), LATTE_SEED,
LATTE_VALID_PROB / LATTE_READY_PROB (probability that a source offers a beat / the sink takes
one in a cycle: 1.0 = no backpressure).
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge

from golden import score_rows
from latte_rtl.config import LatteConfig
from latte_rtl.npzio import load_qk
from sim.ports import payload_fields


def _value(handle) -> int:
    return int(handle.value)


class TB:
    """Owns clock, reset and the drivers/monitors of one engine instance."""

    def __init__(self, dut, manifest: dict, top: str, seed: int, valid_prob: float, ready_prob: float):
        self.dut, self.top = dut, top
        self.cfg = LatteConfig(**manifest["params"])
        self.fields = payload_fields(manifest, top)
        self.rng = random.Random(seed)
        self.valid_prob, self.ready_prob = valid_prob, ready_prob
        self.latte = top == "latte_score_engine"
        self.cycle = 0
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())

    async def tick(self):
        await RisingEdge(self.dut.clk)
        self.cycle += 1

    def _source_offers(self) -> bool:
        return self.valid_prob >= 1.0 or self.rng.random() < self.valid_prob

    def _sink_takes(self) -> int:
        return 1 if self.ready_prob >= 1.0 or self.rng.random() < self.ready_prob else 0

    async def reset(self):
        dut = self.dut
        dut.rst.value = 1
        for name in ("keys__valid", "query__valid", "result__ready"):
            getattr(dut, name).value = 0
        if self.latte:
            dut.thresholds__valid.value = 0
        for _ in range(3):
            await self.tick()
        dut.rst.value = 0
        await self.tick()

    def beats(self, vector: np.ndarray) -> list[list[int]]:
        """Split one vector into `beats` beats of `lanes` elements (tail padded with a pattern
        that the engine must ignore: -1 where the config allows, to catch missing masking)."""
        lanes = self.cfg.lanes
        out = []
        for b in range(self.cfg.beats):
            chunk = [int(x) for x in vector[b * lanes:(b + 1) * lanes]]
            out.append(chunk + [-1] * (lanes - len(chunk)))
        return out

    async def send(self, port: str, words: list[int]):
        """Drive `words` on stream `port` with random valid gaps; return when all are accepted."""
        dut = self.dut
        valid, payload, ready = (getattr(dut, f"{port}__{s}") for s in ("valid", "payload", "ready"))
        i = 0
        while i < len(words):
            offer = self._source_offers()
            valid.value = int(offer)
            if offer:
                payload.value = words[i]
            await self.tick()
            if offer and _value(ready):
                i += 1
        valid.value = 0

    async def load_keys(self, k: np.ndarray):
        f = self.fields["keys"]
        words = []
        for j, key in enumerate(k):
            beats = self.beats(key)
            for b, beat in enumerate(beats):
                last = j == len(k) - 1 and b == len(beats) - 1
                words.append(f.pack({"data": beat, "last": int(last)}))
        await self.send("keys", words)
        await self.tick()
        assert _value(self.dut.n_keys) == len(k), f"n_keys={_value(self.dut.n_keys)} after loading {len(k)} keys"

    async def write_thresholds(self, thresholds: np.ndarray):
        f = self.fields["thresholds"]
        await self.send("thresholds", [f.pack({"head": h, "value": int(t)}) for h, t in enumerate(thresholds)])

    async def run_row(self, q: np.ndarray, head: int) -> dict:
        """Send one query row; collect its results, estimates and the end-of-row beat."""
        dut = self.dut
        qf, rf = self.fields["query"], self.fields["result"]
        ef = self.fields.get("estimate")
        words = [qf.pack({"data": beat, "head": head}) for beat in self.beats(q)]
        scores, estimates, start, end_valid_at = [], {}, None, None
        i = 0
        while True:
            offer = i < len(words) and self._source_offers()
            dut.query__valid.value = int(offer)
            if offer:
                dut.query__payload.value = words[i]
            take = self._sink_takes()
            dut.result__ready.value = take
            await self.tick()
            if offer and _value(dut.query__ready):
                i += 1
                if start is None:
                    start = self.cycle
            if ef is not None and _value(dut.estimate_valid):
                e = ef.unpack(_value(dut.estimate))
                assert e["index"] not in estimates, f"estimate of key {e['index']} emitted twice"
                estimates[e["index"]] = e["hh"]
            if _value(dut.result__valid):
                beat = rf.unpack(_value(dut.result__payload))
                if beat["end"] and end_valid_at is None:
                    end_valid_at = self.cycle
                if take:
                    if beat["end"]:
                        break
                    scores.append((beat["index"], beat["score"]))
        dut.query__valid.value = 0
        dut.result__ready.value = 0
        return {"scores": scores, "estimates": estimates, "end": beat, "measured_cycles": end_valid_at - start}


@cocotb.test()
async def engine_matches_golden(dut):
    """Every row of every stimulus file: kept indices, scores, HH, kept_count, max, cycles vs golden."""
    design = Path(os.environ["LATTE_DESIGN"])
    top = os.environ.get("LATTE_TOP", "latte_score_engine")
    manifest = json.loads((design / "latte_score_engine.json").read_text())
    seed = int(os.environ.get("LATTE_SEED", "1"))
    tb = TB(dut, manifest, top, seed, float(os.environ.get("LATTE_VALID_PROB", "1")),
            float(os.environ.get("LATTE_READY_PROB", "1")))
    dut._log.info("seed=%d top=%s config=%s", seed, top, tb.cfg.params())
    await tb.reset()
    mismatches = []
    stimuli = os.environ["LATTE_STIMULUS"].split(os.pathsep)
    results = os.environ["LATTE_RESULTS"].split(os.pathsep)
    for stimulus, result in zip(stimuli, results):
        errors = await run_case(tb, stimulus, result)
        mismatches += [f"{Path(stimulus).stem}: {e}" for e in errors]
    assert not mismatches, "RTL differs from golden:\n" + "\n".join(mismatches[:20])


async def run_case(tb: TB, stimulus: str, result: str) -> list[str]:
    """Run every row of one stimulus file, save what the RTL produced, return mismatches."""
    dut, cfg = tb.dut, tb.cfg
    inp = load_qk(stimulus, cfg)
    gold = score_rows(inp.q, inp.k, inp.heads, inp.thresholds, cfg)
    n_rows, n_keys = inp.q.shape[0], inp.n_keys
    out = {
        "hh": np.zeros((n_rows, n_keys), np.int64), "kept": np.zeros((n_rows, n_keys), bool),
        "scores": np.zeros((n_rows, n_keys), np.int64), "cycles": np.zeros(n_rows, np.int64),
        "measured_cycles": np.zeros(n_rows, np.int64), "lsb_reads": np.zeros(n_rows, np.int64),
    }
    if tb.latte:
        await tb.write_thresholds(inp.thresholds)
    # Rows run grouped by head when every head has its own keys; results keep row order.
    groups = [(h, np.flatnonzero(inp.heads == h)) for h in np.unique(inp.heads)] if inp.k.ndim == 3 \
        else [(None, np.arange(n_rows))]
    mismatches = []
    for h, rows in groups:
        await tb.load_keys(inp.keys_of_head(h) if h is not None else inp.k)
        for r in rows:
            lsb_before = _value(dut.lsb_reads) if tb.latte else 0
            row = await tb.run_row(inp.q[r], int(inp.heads[r]))
            idx = [i for i, _ in row["scores"]]
            assert idx == sorted(set(idx)), f"row {r}: kept indices not strictly ascending: {idx}"
            out["scores"][r, idx] = [s for _, s in row["scores"]]
            out["kept"][r, idx] = True
            out["cycles"][r] = row["end"]["cycles"]
            out["measured_cycles"][r] = row["measured_cycles"]
            if tb.latte:
                out["hh"][r, list(row["estimates"])] = list(row["estimates"].values())
                out["lsb_reads"][r] = _value(dut.lsb_reads) - lsb_before
            else:
                out["hh"][r] = out["scores"][r]
            mismatches += _compare_row(r, row, out, gold, tb)
    np.savez(result, **out)
    return mismatches


def _compare_row(r: int, row: dict, out: dict, gold, tb: TB) -> list[str]:
    """Scoreboard of one row; returns human-readable mismatches."""
    cfg, errors = tb.cfg, []
    end = row["end"]
    if tb.latte:
        want_kept, want_scores = gold.kept[r], gold.scores[r]
        if len(row["estimates"]) != len(want_kept):
            errors.append(f"row {r}: {len(row['estimates'])} estimates for {len(want_kept)} keys")
        bad = np.flatnonzero(out["hh"][r] != gold.hh[r])
        if bad.size:
            j = bad[0]
            errors.append(f"row {r} key {j}: HH rtl={out['hh'][r, j]} golden={gold.hh[r, j]}")
        want_max = int(gold.hh[r].max())
        if end["max_estimate"] != want_max:
            errors.append(f"row {r}: max_estimate rtl={end['max_estimate']} golden={want_max}")
        if out["lsb_reads"][r] != 2 * cfg.beats * want_kept.sum():
            errors.append(f"row {r}: {out['lsb_reads'][r]} LSB-bank reads, expected 2*beats*kept = "
                          f"{2 * cfg.beats * want_kept.sum()}")
    else:
        want_kept, want_scores = np.ones_like(gold.kept[r]), gold.exact[r]
    bad = np.flatnonzero(out["kept"][r] != want_kept)
    if bad.size:
        j = bad[0]
        errors.append(f"row {r} key {j}: kept rtl={bool(out['kept'][r, j])} golden={bool(want_kept[j])}")
    bad = np.flatnonzero(out["scores"][r] != want_scores)
    if bad.size:
        j = bad[0]
        errors.append(f"row {r} key {j}: score rtl={out['scores'][r, j]} golden={want_scores[j]}")
    if end["kept_count"] != want_kept.sum():
        errors.append(f"row {r}: kept_count rtl={end['kept_count']} golden={want_kept.sum()}")
    if end["cycles"] != row["measured_cycles"]:
        errors.append(f"row {r}: end-of-row cycles={end['cycles']} but the testbench measured "
                      f"{row['measured_cycles']}")
    return errors

