"""cocotb driver of the decode score stage with cocotbext-axi's AxiRamRead as the memory (random pause
generators on AR and R, seeded per case). It only drives and records: tests/sim/test_decode_axi.py
writes the cases (DECODE_CASES) and checks the recorded beats (DECODE_RESULTS) against golden."""

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge
from cocotbext.axi import AxiRamRead, AxiReadBus


def pauses(rng, busy):
    while True:
        yield rng.random() >= busy


async def run_case(dut, ram, case):
    rng = random.Random(case["seed"])
    ram.ar_channel.set_pause_generator(pauses(rng, 0.6))
    ram.r_channel.set_pause_generator(pauses(rng, 0.7))
    ram.write(case["lo"], bytes.fromhex(case["image"]))
    await RisingEdge(dut.clk)
    for name in ("q__valid", "q__payload", "start__valid", "start__payload", "scores__ready", "record__ready"):
        getattr(dut, name).value = 0
    dut.layout.value = case["layout"]          # every input defined before and during reset
    dut.thresholds.value = case["thresholds"]
    dut.rst.value = 1
    for _ in range(3):
        await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    for q in case["q"]:
        await FallingEdge(dut.clk)
        dut.q__payload.value, dut.q__valid.value = q, 1
    scores, record, started = [], None, False
    for _ in range(case["cycles"]):
        await FallingEdge(dut.clk)
        dut.q__valid.value = 0
        dut.start__valid.value = int(not started)
        dut.scores__ready.value = int(rng.random() < 0.7)
        dut.record__ready.value = 1
        await ReadOnly()
        started |= bool(dut.start__valid.value) and bool(dut.start__ready.value)
        if dut.scores__valid.value and dut.scores__ready.value:
            scores.append(int(dut.scores__payload.value))
        if dut.record__valid.value:
            record = int(dut.record__payload.value)
            break
    dut._log.info("case seed %d: started %s, %d score beats, record %s", case["seed"], started, len(scores),
                  record is not None)
    return {"scores": scores, "record": record}


@cocotb.test()
async def decode_cases(dut):
    with open(os.environ["DECODE_CASES"]) as f:
        cases = json.load(f)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    ram = AxiRamRead(AxiReadBus.from_prefix(dut, "axi_"), dut.clk, dut.rst, size=1 << 22)
    results = [await run_case(dut, ram, case) for case in cases]
    with open(os.environ["DECODE_RESULTS"], "w") as f:
        json.dump(results, f)
