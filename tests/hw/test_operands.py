"""Operand fetch through `ReadPortSignature` ports: against stores that answer after a random 1..4
cycles (and stall requests at random) every token gets the words it asked for, in order; against
one-cycle stores it takes a token every cycle; each token reads only the planes it multiplies. Fixed
seeds, printed."""

import random

import pytest

from latte_rtl.config import ScoreConfig
from latte_rtl.hw import layouts
from latte_rtl.hw.keystore import part_shape
from latte_rtl.hw.layouts import PassKind
from latte_rtl.hw.operands import OperandFetch, nibble_select
from latte_rtl.sim.amaranth_streams import stream_get, stream_put
from tests.amaranth_helpers import SEED, pauses, simulate, token

CFG = ScoreConfig(bits=8, msb_bits=4, dim=8, lanes=4, heads=1, max_keys=16)
PARTS = ("msb", "lsb")


def _fetch(outstanding):
    return OperandFetch(CFG, token_layout=layouts.token(CFG, CFG.widths.hh_width), parts=PARTS,
                        part_shapes={p: part_shape(CFG, p) for p in PARTS}, operand_width=CFG.widths.nibble_width,
                        key_addr_width=5, q_addr_width=1, select=nibble_select, outstanding=outstanding)


def _store(port, words, rng, max_latency, log):
    """A store model on `port`: takes requests (ready low at random unless `max_latency` is 1),
    answers each in order `1..max_latency` cycles later; appends each request's cycle to `log`."""
    async def run(ctx):
        queue, now = [], 0
        while True:
            ctx.set(port.req.ready, int(max_latency == 1 or rng.random() < 0.7))
            head_due = bool(queue) and queue[0][1] <= now
            ctx.set(port.resp.valid, int(head_due))
            if head_due:
                ctx.set(port.resp.payload, words[queue[0][0]])
            _, _, rv, rr, addr, sv, sr = await ctx.tick().sample(port.req.valid, port.req.ready, port.req.payload,
                                                                 port.resp.valid, port.resp.ready)
            if sv and sr:
                queue.pop(0)
            if rv and rr:
                due = max([now + rng.randint(1, max_latency)] + [q[1] for q in queue])
                queue.append((addr, due))
                log.append(now)
            now += 1
    return run


def _words(rng, part, n):
    lo, hi = (-8, 7) if part == "msb" else (0, 15)
    return [[rng.randint(lo, hi) for _ in range(CFG.lanes)] for _ in range(n)]


@pytest.mark.parametrize("max_latency,outstanding", [(1, 1), (4, 1), (4, 2)])
def test_fetch_reads_through_ports_of_any_latency(max_latency, outstanding):
    print(f"seed={SEED} max_latency={max_latency} outstanding={outstanding}")
    rng = random.Random(SEED)
    k = {p: _words(rng, p, 32) for p in PARTS}
    q = {p: _words(rng, p, 2) for p in PARTS}
    tokens = []
    for _ in range(40):
        kind = rng.choice([PassKind.HH, PassKind.MID, PassKind.LOW])
        tokens.append(token(CFG, kind, rng.randrange(2), rng.randrange(16), q_low=rng.randrange(2),
                            k_low=rng.randrange(2)))
    dut = _fetch(outstanding)
    got, log = [], {}

    async def producer(ctx):
        for t in tokens:
            await stream_put(ctx, dut.i, t, pauses(rng, 0.8 if max_latency > 1 else 1.0))

    async def consumer(ctx):
        prng = pauses(random.Random(SEED + 1), 0.7 if max_latency > 1 else 1.0)
        for _ in tokens:
            got.append(await stream_get(ctx, dut.o, prng))

    stores = []
    for p in PARTS:
        for name, words in ((f"k_{p}", k[p]), (f"q_{p}", q[p])):
            log[name] = []
            stores.append(_store(getattr(dut, name), words, random.Random(f"{SEED}{name}"), max_latency, log[name]))
    simulate(dut, producer, consumer, *stores, cycles=800)
    assert len(got) == len(tokens)
    for t, out in zip(tokens, got):
        kword = k["lsb" if t["k_low"] else "msb"][t["index"] * CFG.beats + t["beat"]]
        qword = q["lsb" if t["q_low"] else "msb"][t["beat"]]
        assert [out.a[i] for i in range(CFG.lanes)] == qword
        assert [out.b[i] for i in range(CFG.lanes)] == kword
        assert (out.token.index, out.token.beat, out.token.kind) == (t["index"], t["beat"], t["kind"])
    # the plane a token does not multiply is not read (operand isolation): one key and one q read a token
    for side, flag in (("k", "k_low"), ("q", "q_low")):
        assert len(log[f"{side}_lsb"]) == sum(t[flag] for t in tokens), side
        assert len(log[f"{side}_msb"]) + len(log[f"{side}_lsb"]) == len(tokens), side
    if max_latency == 1:  # one token a cycle: the q requests on consecutive cycles
        q_reads = sorted(log["q_msb"] + log["q_lsb"])
        assert q_reads == list(range(q_reads[0], q_reads[0] + len(tokens)))
