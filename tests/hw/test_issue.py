"""Key issuer and token arbiter.
Fixed seeds, printed; random stalls on every stream."""

import itertools
import random

from amaranth import Module
from amaranth.lib import stream, wiring

from latte_rtl.config import ScoreConfig
from latte_rtl.hw.completion import CompletionUnit
from latte_rtl.hw.issue import KeyIssuer, TokenArbiter
from latte_rtl.hw.layouts import PassKind
from latte_rtl.sim.amaranth_streams import stream_put
from tests.amaranth_helpers import SEED, checked_sink, pauses, simulate


def test_key_issuer_and_arbiter_never_split_a_key():
    """Phase-1 tokens of keys 0..N-1 interleaved with completion jobs: every token passes once,
    a key's HH beats and a job's tokens stay contiguous, and a token on `o` stays until taken."""
    cfg = ScoreConfig(dim=10, lanes=3, max_keys=12)  # 4 beats
    print(f"seed={SEED}")
    comp = CompletionUnit(cfg)
    issuer, arb = KeyIssuer(cfg, comp.token_layout), TokenArbiter(comp.token_layout)

    class Merge(wiring.Component):
        def __init__(self):
            super().__init__({"job": wiring.In(stream.Signature(issuer.job.payload.shape())),
                              "kept": wiring.In(stream.Signature(comp.job.payload.shape())),
                              "o": wiring.Out(stream.Signature(arb.o.payload.shape()))})

        def elaborate(self, platform):
            m = Module()
            m.submodules += [issuer, arb, comp]
            wiring.connect(m, wiring.flipped(self.job), issuer.job)
            wiring.connect(m, wiring.flipped(self.kept), comp.job)
            wiring.connect(m, issuer.o, arb.phase1)
            wiring.connect(m, comp.o, arb.completion)
            wiring.connect(m, arb.o, wiring.flipped(self.o))
            return m

    dut, n, kept = Merge(), 9, [2, 5, 6]

    async def rows(ctx):
        await stream_put(ctx, dut.job, {"head": 0, "n_keys": n})

    async def completions(ctx):
        prng = pauses(random.Random(SEED), 0.3)
        for j in kept:
            await stream_put(ctx, dut.kept, {"index": j, "hh": -j}, prng)

    taken, broken = [], []  # issue 35: a token offered and not taken stays (the arbiter holds its choice)
    sink = checked_sink(dut.o, cfg.beats * (n + 3 * len(kept)), pauses(random.Random(SEED + 1), 0.6), taken, broken)
    simulate(dut, rows, completions, sink)
    assert not broken, broken
    got = [(t.kind, t.index, t.beat, t.q_low, t.k_low) for t in taken]
    runs = [list(g) for _, g in itertools.groupby(got, key=lambda t: (t[0] == PassKind.HH, t[1]))]
    hh_runs = [r for r in runs if r[0][0] == PassKind.HH]
    assert [r[0][1] for r in hh_runs] == list(range(n))
    assert all([t[2] for t in r] == list(range(cfg.beats)) for r in hh_runs)
    done = [r for r in runs if r[0][0] != PassKind.HH]
    assert [r[0][1] for r in done] == kept and all(len(r) == 3 * cfg.beats for r in done)
