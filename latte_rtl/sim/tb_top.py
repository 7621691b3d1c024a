"""cocotb testbench of any registered top: binds a model to every port the manifest lists,
drives each stimulus file through the top's scoreboard and writes what the RTL produced.

Configured by environment (set by sim.runner): LATTE_DESIGN (design dir), LATTE_TOP,
LATTE_STIMULUS / LATTE_RESULTS (os.pathsep-separated .npz paths), LATTE_SEED,
LATTE_VALID_PROB / LATTE_READY_PROB (fraction of cycles a source offers / a sink takes a beat:
1.0 = no backpressure).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import cocotb
import numpy as np

from latte_rtl.design import load_design
from latte_rtl.npzio import load_qk
from latte_rtl.sim.bfm import ClockedTB, ObservationMonitor, PortReader, StreamSink, StreamSource, random_pauses
from latte_rtl.sim.ports import payload_fields, stream_kinds
from latte_rtl.sim.scoreboards import final_check, scoreboard_class
from latte_rtl.tops import get_top


def bind_models(tb: ClockedTB, manifest: dict, top: str, rng: random.Random, valid_prob: float,
                ready_prob: float) -> dict:
    """{interface or port name: model} for every stream, observation and structured port."""
    fields = payload_fields(manifest, top)
    models = {}
    for name, kind in stream_kinds(manifest, top).items():
        if kind == "observation":
            models[name] = tb.add(ObservationMonitor(tb.dut, name, fields[name]))
        elif kind == "source":
            models[name] = tb.add(StreamSource(tb.dut, name, fields.get(name)))
            models[name].set_pause_generator(random_pauses(random.Random(rng.random()), valid_prob))
        elif kind == "sink":
            models[name] = tb.add(StreamSink(tb.dut, name, fields[name]))
            models[name].set_pause_generator(random_pauses(random.Random(rng.random()), ready_prob))
        else:
            models[name] = tb.add(PortReader(tb.dut, name, fields[name]))
    return models


@cocotb.test()
async def top_matches_golden(dut):
    """Every row of every stimulus file against the top's golden function."""
    cfg, manifest = load_design(os.environ["LATTE_DESIGN"])
    top = get_top(os.environ["LATTE_TOP"])
    seed = int(os.environ.get("LATTE_SEED", "1"))
    dut._log.info("seed=%d top=%s config=%s", seed, top.name, cfg.params())
    tb = ClockedTB(dut)
    bind = bind_models
    if manifest.get("interface") == "axis":
        from latte_rtl.sim.axis_models import bind_axis_models as bind
    models = bind(tb, manifest, top.name, random.Random(seed), float(os.environ.get("LATTE_VALID_PROB", "1")),
                  float(os.environ.get("LATTE_READY_PROB", "1")))
    cfg.bus.memory_model(tb, cfg)  # an external bus's memory drives its port's inputs from before reset
    await tb.reset()
    scoreboard = scoreboard_class(top)
    mismatches = []
    for stimulus, result in zip(os.environ["LATTE_STIMULUS"].split(os.pathsep),
                                os.environ["LATTE_RESULTS"].split(os.pathsep)):
        sb = scoreboard(tb, models, cfg, top, load_qk(stimulus, cfg.score))
        await sb.run()
        np.savez(result, **sb.result)
        mismatches += [f"{Path(stimulus).stem}: {e}" for e in sb.errors]
    for name in ("config", "thresholds"):
        if hasattr(models.get(name), "read_status") and cfg.bus.counts_keys:  # AXI4-Lite: N_KEYS against the port
            n_keys = await models[name].read_status("N_KEYS")
            assert n_keys == int(dut.n_keys.value), f"AXI4-Lite N_KEYS={n_keys}, n_keys port {int(dut.n_keys.value)}"
    final_check(models, mismatches)
