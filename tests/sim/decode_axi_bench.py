"""cocotb driver of a decode top (latte_rtl/tops/decode.py) with cocotbext-axi's AxiRamRead as the memory
(random pause generators on AR and R, seeded per case). It only drives and records: tests/sim/test_decode_axi.py
writes the cases (DECODE_CASES: register writes, q rows, the memory image) and checks the recorded out beats
and record (DECODE_RESULTS) against golden."""

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge
from cocotbext.axi import AxiRamRead, AxiReadBus

INPUTS = ("config__valid", "config__payload", "query__valid", "query__payload", "start__valid", "start__payload",
          "out__ready", "rows__ready")


def pauses(rng, busy):
    while True:
        yield rng.random() >= busy


async def beats(dut, name, payloads):
    """Offer every payload on stream `name` until taken (ready sampled before the edge)."""
    for payload in payloads:
        await FallingEdge(dut.clk)
        getattr(dut, f"{name}__payload").value, getattr(dut, f"{name}__valid").value = payload, 1
        await ReadOnly()
        while not getattr(dut, f"{name}__ready").value:
            await FallingEdge(dut.clk)
            await ReadOnly()
    await FallingEdge(dut.clk)
    getattr(dut, f"{name}__valid").value = 0


async def run_case(dut, ram, case):
    rng = random.Random(case["seed"])
    ram.ar_channel.set_pause_generator(pauses(rng, 0.6))
    ram.r_channel.set_pause_generator(pauses(rng, 0.7))
    ram.write(case["lo"], bytes.fromhex(case["image"]))
    await RisingEdge(dut.clk)
    for name in INPUTS:
        getattr(dut, name).value = 0
    dut.rst.value = 1
    for _ in range(3):
        await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    await beats(dut, "config", case["writes"])
    await beats(dut, "query", case["q"])
    outs, record, started = [], None, False
    for _ in range(case["cycles"]):
        await FallingEdge(dut.clk)
        dut.start__valid.value = int(not started)
        dut.out__ready.value = int(rng.random() < 0.7)
        dut.rows__ready.value = int(rng.random() < 0.7)
        await ReadOnly()
        started |= bool(dut.start__valid.value) and bool(dut.start__ready.value)
        if dut.out__valid.value and dut.out__ready.value:
            outs.append(int(dut.out__payload.value))
        if dut.rows__valid.value and dut.rows__ready.value:
            record = int(dut.rows__payload.value)
        if record is not None and len(outs) == case["group"]:
            break
    dut._log.info("case seed %d: started %s, %d out beats, record %s", case["seed"], started, len(outs),
                  record is not None)
    return {"out": outs, "record": record}


@cocotb.test()
async def decode_cases(dut):
    with open(os.environ["DECODE_CASES"]) as f:
        cases = json.load(f)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    ram = AxiRamRead(AxiReadBus.from_prefix(dut, "axi_"), dut.clk, dut.rst, size=1 << 22)
    results = [await run_case(dut, ram, case) for case in cases]
    with open(os.environ["DECODE_RESULTS"], "w") as f:
        json.dump(results, f)
