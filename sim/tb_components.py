"""cocotb tests of each engine component alone, every output checked against NumPy / golden.

Selected by LATTE_COMPONENT; the config comes as JSON in LATTE_CONFIG; LATTE_SEED seeds the
stimulus (printed). Ports are the components' flattened signature names.
"""

from __future__ import annotations

import json
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge, Timer

from golden import keep_mask, split
from latte_rtl.config import LatteConfig
from latte_rtl.layouts import KIND_HH, KIND_LOW, KIND_MID


def cfg_from_env() -> LatteConfig:
    return LatteConfig(**json.loads(os.environ["LATTE_CONFIG"]))


def pack(values, width: int) -> int:
    """Little-endian array of signed/unsigned ints → one integer (lane 0 in the low bits)."""
    word = 0
    for i, v in enumerate(values):
        word |= (int(v) & ((1 << width) - 1)) << (i * width)
    return word


def unpack(word: int, width: int, count: int, signed: bool) -> list[int]:
    out = []
    for i in range(count):
        v = (word >> (i * width)) & ((1 << width) - 1)
        if signed and v >> (width - 1):
            v -= 1 << width
        out.append(v)
    return out


def to_signed(v: int, width: int) -> int:
    return v - (1 << width) if v >> (width - 1) else v


class ClockedTB:
    def __init__(self, dut, seed: int):
        self.dut = dut
        self.rng = random.Random(seed)
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())

    async def reset(self, quiet: dict):
        self.dut.rst.value = 1
        for name, value in quiet.items():
            getattr(self.dut, name).value = value
        for _ in range(2):
            await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0


def seed() -> int:
    return int(os.environ.get("LATTE_SEED", "1"))


def _only(name):
    return os.environ.get("LATTE_COMPONENT") != name


@cocotb.test(skip=_only("multiplier_array"))
async def multiplier_array(dut):
    """products[i] == a[i] * b[i] for random and extreme signed operands."""
    cfg, rng = cfg_from_env(), random.Random(seed())
    w, lanes = cfg.nibble_width, cfg.lanes
    lo, hi = -(1 << (w - 1)), (1 << (w - 1)) - 1
    for trial in range(200):
        pool = [lo, hi, 0, -1] if trial < 20 else None
        a = [rng.choice(pool) if pool else rng.randint(lo, hi) for _ in range(lanes)]
        b = [rng.choice(pool) if pool else rng.randint(lo, hi) for _ in range(lanes)]
        dut.a.value, dut.b.value = pack(a, w), pack(b, w)
        await Timer(1, unit="ns")
        got = unpack(int(dut.products.value), 2 * w, lanes, True)
        assert got == [x * y for x, y in zip(a, b)], (trial, a, b, got)


@cocotb.test(skip=_only("estimator"))
async def estimator(dut):
    """Feeding the lane products of the HH, HL, LH, LL passes gives HH, then exactly q·k."""
    cfg, rng = cfg_from_env(), np.random.default_rng(seed())
    tb = ClockedTB(dut, seed())
    await tb.reset({"tag_valid": 0, "advance": 1})
    lo, hi = cfg.operand_range
    tag_fields = _tag_fields(cfg)
    pw = 2 * cfg.nibble_width
    for trial in range(12):
        q = rng.integers(lo, hi + 1, cfg.dim) if trial else np.full(cfg.dim, lo)
        k = rng.integers(lo, hi + 1, cfg.dim) if trial else np.full(cfg.dim, lo)
        qh, ql = split(q, cfg.bits, cfg.msb_bits)
        kh, kl = split(k, cfg.bits, cfg.msb_bits)
        hh = int(qh @ kh)
        beats = []
        for kind, qa, kb, first_pass in ((KIND_HH, qh, kh, True), (KIND_MID, qh, kl, True),
                                         (KIND_MID, ql, kh, False), (KIND_LOW, ql, kl, True)):
            for b in range(cfg.beats):
                prods = list(qa[b * cfg.lanes:(b + 1) * cfg.lanes] * kb[b * cfg.lanes:(b + 1) * cfg.lanes])
                prods += [0] * (cfg.lanes - len(prods))
                tag = {"kind": kind, "q_low": 0, "k_low": 0, "beat": b, "first": int(first_pass and b == 0),
                       "last": int(b == cfg.beats - 1 and kind != KIND_MID), "index": trial, "init": hh}
                beats.append((pack(prods, pw), tag))
        results, i = [], 0
        while i < len(beats) + 3:
            stall = rng.random() < 0.3  # advance low: nothing may move
            dut.advance.value = int(not stall)
            if i < len(beats):
                dut.products.value, tag = beats[i][0], beats[i][1]
                dut.tag.value = sum((tag[n] & ((1 << wd) - 1)) << off for n, (off, wd) in tag_fields.items())
                dut.tag_valid.value = 1
            else:
                dut.tag_valid.value = 0
            await RisingEdge(dut.clk)
            if int(dut.result_valid.value):
                r = int(dut.result.value)
                results.append((r & 3, to_signed(r >> (2 + cfg.index_width), cfg.accumulator_width)))
            i += 0 if stall else 1
        assert results == [(KIND_HH, hh), (KIND_LOW, int(q @ k))], (trial, results, hh, int(q @ k))


def _tag_fields(cfg):
    from latte_rtl.layouts import token

    return {name: (f.offset, f.width) for name, f in token(cfg, cfg.hh_width)}


@cocotb.test(skip=_only("threshold_register_file"))
async def threshold_register_file(dut):
    """Every head reads back what was last written to it; out-of-range heads are ignored."""
    cfg, rng = cfg_from_env(), random.Random(seed())
    tb = ClockedTB(dut, seed())
    await tb.reset({"write__valid": 0, "head": 0})
    lo, hi = cfg.threshold_range
    want = [0] * cfg.heads
    hw, tw = cfg.head_width, cfg.threshold_width
    for _ in range(4 * cfg.heads):
        h, v = rng.randrange(1 << hw), rng.choice([lo, hi, rng.randint(lo, hi)])
        dut.write__valid.value = 1
        dut.write__payload.value = (h & ((1 << hw) - 1)) | ((v & ((1 << tw) - 1)) << hw)
        if h < cfg.heads:
            want[h] = v
        await RisingEdge(dut.clk)
    dut.write__valid.value = 0
    for h in range(cfg.heads):
        dut.head.value = h
        await Timer(1, unit="ns")
        raw = int(dut.threshold.value)
        got = to_signed(raw, tw) if cfg.threshold_signed else raw
        assert got == want[h], (h, got, want[h])


@cocotb.test(skip=_only("threshold_filter"))
async def threshold_filter(dut):
    """Estimates in, kept keys out (index order, with their HH) under random ready; max tracked."""
    cfg, rng = cfg_from_env(), np.random.default_rng(seed())
    tb = ClockedTB(dut, seed())
    await tb.reset({"estimate__valid": 0, "start": 0, "scan": 0, "kept__ready": 0})
    iw, hw = cfg.index_width, cfg.hh_width
    lo_t, hi_t = cfg.threshold_range
    for trial in range(6):
        n = int(rng.integers(1, cfg.max_keys + 1)) if trial else cfg.max_keys
        hh = rng.integers(cfg.hh_range[0], cfg.hh_range[1] + 1, n)
        if trial == 1:
            hh[:] = hh[0]  # all tied
        t = int(rng.integers(lo_t, hi_t + 1)) if trial > 2 else [lo_t, hi_t, 0][trial]
        want = np.flatnonzero(keep_mask(hh[None], np.array([t]), cfg.threshold_mode)[0])
        dut.threshold.value = t & ((1 << cfg.threshold_width) - 1)
        dut.n_keys.value = n
        dut.start.value = 1
        await RisingEdge(dut.clk)
        dut.start.value = 0
        kept = []
        for j, v in enumerate(hh):  # one estimate every cycle or two
            dut.estimate__valid.value = 1
            dut.estimate__payload.value = j | ((int(v) & ((1 << hw) - 1)) << iw)
            # absolute mode: the engine drains kept keys faster than they come (FIFO bound)
            dut.kept__ready.value = int(cfg.threshold_mode == "absolute" or rng.random() < 0.5)
            await RisingEdge(dut.clk)
            kept += _take(dut, cfg)
            dut.estimate__valid.value = 0
            if rng.random() < 0.3:
                await RisingEdge(dut.clk)
                kept += _take(dut, cfg)
        if cfg.threshold_mode == "relative":
            dut.scan.value = 1
            await RisingEdge(dut.clk)
            dut.scan.value = 0
        for _ in range(4 * n + 20):
            dut.kept__ready.value = int(rng.random() < 0.6)
            await RisingEdge(dut.clk)
            kept += _take(dut, cfg)
            if int(dut.done.value) and not int(dut.kept__valid.value):
                break
        dut.kept__ready.value = 0
        assert [i for i, _ in kept] == list(want), (trial, t, kept, list(want))
        assert [h for _, h in kept] == [int(hh[i]) for i in want]
        assert to_signed(int(dut.max_estimate.value), hw) == int(hh.max())


def _take(dut, cfg):
    if int(dut.kept__valid.value) and int(dut.kept__ready.value):
        word = int(dut.kept__payload.value)
        return [(word & ((1 << cfg.index_width) - 1), to_signed(word >> cfg.index_width, cfg.hh_width))]
    return []


@cocotb.test(skip=_only("completion_unit"))
async def completion_unit(dut):
    """Each job becomes HL, LH, LL passes of `beats` tokens with the right flags, only when enabled."""
    cfg, rng = cfg_from_env(), random.Random(seed())
    tb = ClockedTB(dut, seed())
    await tb.reset({"job__valid": 0, "enable": 0})
    fields = _tag_fields(cfg)
    iw, hw = cfg.index_width, cfg.hh_width
    jobs = [(rng.randrange(cfg.max_keys), rng.randint(*cfg.hh_range)) for _ in range(5)]
    expected = []
    for index, hh in jobs:
        for p, (kind, q_low, k_low) in enumerate(((KIND_MID, 0, 1), (KIND_MID, 1, 0), (KIND_LOW, 1, 1))):
            for b in range(cfg.beats):
                expected.append({"kind": kind, "q_low": q_low, "k_low": k_low, "beat": b,
                                 "first": int(b == 0 and p != 1), "last": int(b == cfg.beats - 1 and p == 2),
                                 "index": index, "init": hh})
    got, pending = [], list(jobs)
    for _ in range(len(expected) * 4 + 10):
        enable = int(rng.random() < 0.7)
        dut.enable.value = enable
        dut.job__valid.value = int(bool(pending))
        if pending:
            dut.job__payload.value = pending[0][0] | ((pending[0][1] & ((1 << hw) - 1)) << iw)
        await RisingEdge(dut.clk)
        if pending and int(dut.job__ready.value):
            pending.pop(0)
        if int(dut.issuing.value):
            assert enable, "issued a token while not enabled"
            word = int(dut.token.value)
            tok = {n: (word >> off) & ((1 << wd) - 1) for n, (off, wd) in fields.items()}
            tok["init"] = to_signed(tok["init"], fields["init"][1])
            got.append(tok)
        if len(got) == len(expected):
            break
    assert got == expected


@cocotb.test(skip=_only("key_store"))
async def key_store(dut):
    """Loaded keys read back as their MSB / LSB parts (tail lanes zero); n_keys; read counters."""
    cfg, rng = cfg_from_env(), np.random.default_rng(seed())
    tb = ClockedTB(dut, seed())
    await tb.reset({"load__valid": 0, "enable": 1, "read_msb": 0, "read_lsb": 0, "addr": 0})
    lo, hi = cfg.operand_range
    lanes, beats, l = cfg.lanes, cfg.beats, cfg.lsb_bits
    for n in (cfg.max_keys, max(1, cfg.max_keys // 3)):
        k = rng.integers(lo, hi + 1, (n, cfg.dim))
        words = []
        for j in range(n):
            for b in range(beats):
                chunk = list(k[j, b * lanes:(b + 1) * lanes])
                chunk += [int(rng.integers(lo, hi + 1)) for _ in range(lanes - len(chunk))]  # must be ignored
                last = int(j == n - 1 and b == beats - 1)
                words.append(pack(chunk, cfg.bits) | (last << (lanes * cfg.bits)))
        i = 0
        while i < len(words):
            offer = rng.random() < 0.7
            dut.load__valid.value = int(offer)
            if offer:
                dut.load__payload.value = words[i]
            await RisingEdge(dut.clk)
            if offer and int(dut.load__ready.value):
                i += 1
        dut.load__valid.value = 0
        await RisingEdge(dut.clk)
        assert int(dut.n_keys.value) == n and int(dut.loading.value) == 0
        padded = np.zeros((n, beats * lanes), np.int64)
        padded[:, :cfg.dim] = k
        kh, kl = split(padded, cfg.bits, cfg.msb_bits)
        msb_reads0, lsb_reads0 = int(dut.msb_reads.value), int(dut.lsb_reads.value)
        for j in range(n):
            for b in range(beats):
                dut.addr.value = j * beats + b
                dut.read_msb.value = 1
                dut.read_lsb.value = int(b % 2 == 0)
                await RisingEdge(dut.clk)
                dut.read_msb.value = dut.read_lsb.value = 0
                await Timer(1, unit="ns")
                got_h = unpack(int(dut.msb.value), cfg.msb_bits, lanes, True)
                assert got_h == list(kh[j, b * lanes:(b + 1) * lanes]), (j, b, got_h)
                if b % 2 == 0:
                    got_l = unpack(int(dut.lsb.value), l, lanes, False)
                    assert got_l == list(kl[j, b * lanes:(b + 1) * lanes]), (j, b, got_l)
        assert int(dut.msb_reads.value) - msb_reads0 == n * beats
        assert int(dut.lsb_reads.value) - lsb_reads0 == n * ((beats + 1) // 2)
