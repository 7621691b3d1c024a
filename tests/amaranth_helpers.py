"""Shared pieces of the amaranth.sim block tests: fixed seed, small configurations, stall generators."""

import random

from amaranth.sim import Simulator

from latte_rtl.config import ScoreConfig
from latte_rtl.hw.sram import simulation_model

SEED = 20261123
CONFIGS = {
    "rel_b8m4d10l3": ScoreConfig(bits=8, msb_bits=4, dim=10, lanes=3, heads=3, max_keys=12),
    "abs_b12m3d8l8": ScoreConfig(bits=12, msb_bits=3, dim=8, lanes=8, heads=2, max_keys=9, threshold_mode="absolute"),
}


def pauses(rng: random.Random, busy: float):
    """True (stall this cycle) with probability 1 − busy."""
    while True:
        yield rng.random() >= busy


def simulate(dut, *testbenches, cycles: int = 20000):
    with simulation_model():
        sim = Simulator(dut)
    sim.add_clock(1e-6, if_exists=True)
    for tb in testbenches:
        sim.add_testbench(tb)
    sim.run_until(cycles * 1e-6)


def checked_sink(port, count: int, prng, out: list, broken: list):
    """A testbench taking `count` beats of stream `port` (ready low when `prng` says stall) into `out`, and every
    breach of the stream protocol into `broken`: a beat offered and not taken that is gone or changed a cycle
    later (valid and payload must hold until the transfer)."""
    async def take(ctx):
        stalled = None  # the payload offered and not taken last cycle
        while len(out) < count:
            ready = not next(prng)
            ctx.set(port.ready, int(ready))
            _, _, valid, payload = await ctx.tick().sample(port.valid, port.payload)
            if stalled is not None and (not valid or payload != stalled):
                broken.append((len(out), stalled, valid, payload))
            if valid and ready:
                out.append(payload)
            stalled = payload if valid and not ready else None
    return take


def token(cfg, kind, beat, index, *, q_low=0, k_low=0, first=0, last=0, init=0):
    return {"kind": kind, "q_low": q_low, "k_low": k_low, "beat": beat, "first": first, "last": last,
            "index": index, "init": init}

# small attention configurations of the softmax and P·V stage tests
ATTENTION = {
    "linear_f2": dict(dim=8, lanes=4, heads=2, max_keys=12, attention=True, exp_frac_bits=2, exp_bits=10, prob_bits=8,
                      scale_shift=6, mult_bits=8),
    "log2_f0": dict(dim=8, lanes=4, heads=2, max_keys=12, attention=True, exp_frac_bits=0, exp_bits=6, prob_bits=7,
                    scale_shift=3, mult_bits=6, prob_format="log2", log_levels=5),
    "vmean_d7l3": dict(dim=7, lanes=3, heads=2, max_keys=12, attention=True, exp_frac_bits=1, exp_bits=8, prob_bits=8,
                       scale_shift=6, mult_bits=8, vmean=True),
}


