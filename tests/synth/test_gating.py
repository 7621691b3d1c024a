"""Clock gating in the ihp130 flow, on a block with known enable duties: a mod-10 counter, 16
reset-less flip-flops loaded when a named enable is high (1 cycle in 10) and 16 loaded while the
counter is below 3 (an unnamed enable, 3 cycles in 10). The flow must give each group one ICG,
measure the duties from the gated netlist's enable cones on simulated signals, and count the
gated flip-flops' clock energy at those duties (hand calculation below)."""

import re

import numpy as np
import pytest
from amaranth import Module, Mux, Signal
from amaranth.back import verilog
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from latte_rtl.synth.asic import _render, _sta, gating_savings, logic_power, register_pins
from latte_rtl.synth.electrical import pin_table
from latte_rtl.synth.flows import _yosys
from latte_rtl.synth.gating import (
    ICG_CELL,
    clock_energy_pj,
    enable_cones,
    evaluate,
    instance_paths,
    load_gated,
    netlist_gating,
)
from latte_rtl.synth.pdk import FLIP_FLOP, STDCELL, TIE_HI, TIE_LO, stdcell_liberty
from tests.synth.test_asic import require_sta

CYCLES = 1000  # a multiple of the counter's period: the duties are exact


class Duties(wiring.Component):
    d: In(16)
    a: Out(16)
    b: Out(16)

    def __init__(self):
        super().__init__()
        self.count = Signal(range(10))
        self.load_a = Signal()  # named: the ICG's enable is this wire

    def elaborate(self, platform):
        m = Module()
        a, b = Signal(16, reset_less=True), Signal(16, reset_less=True)
        m.d.sync += self.count.eq(Mux(self.count == 9, 0, self.count + 1))
        m.d.comb += [self.load_a.eq(self.count == 9), self.a.eq(a), self.b.eq(b)]
        with m.If(self.load_a):
            m.d.sync += a.eq(self.d)
        with m.If(self.count < 3):  # unnamed: the cone is evaluated from the counter's bits
            m.d.sync += b.eq(~self.d)
        return m


@pytest.fixture(scope="module")
def gated(tmp_path_factory):
    """The block through the ihp130 script (hierarchical pass): its work directory."""
    work = tmp_path_factory.mktemp("gating")
    (work / STDCELL).write_text(stdcell_liberty())
    (work / "srams.v").write_text("")
    (work / "duties.v").write_text(verilog.convert(Duties(), name="duties"))
    _yosys(work, _render(read_macros="", top="duties", stdcell=STDCELL, delay_ps=4000, tie_hi=" ".join(TIE_HI),
                         tie_lo=" ".join(TIE_LO), flatten="", prefix="", icg=ICG_CELL, icg_min=4,
                         write_gated="write_json gated.json"), "ihp130.ys")
    return work


def simulated(leaves) -> dict:
    """{(signal, bit): its value at each of CYCLES rising edges} from an amaranth.sim run."""
    dut = Duties()
    values = {"count": [], "load_a": []}

    async def bench(ctx):
        for cycle in range(CYCLES):
            ctx.set(dut.d, cycle)
            values["count"].append(ctx.get(dut.count))
            values["load_a"].append(ctx.get(dut.load_a))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return {(name, bit): np.array([(v >> bit) & 1 for v in values[name]], bool) for name, bit in leaves}


def test_each_enable_gets_one_icg_and_its_measured_duty(gated):
    """Two ICGs of 16 flip-flops each; the counter (no enable) stays ungated; the duties evaluated
    from the gated netlist's cones on simulated signals equal the hand counts 1/10 and 3/10."""
    netlist = netlist_gating((gated / "netlist.v").read_text(), "duties")
    assert sorted(sum(f.values()) for f in netlist.icgs.values()) == [16, 16]
    assert sum(netlist.flops[""].values()) == 16 + 16 + 4  # a, b and the counter's 4 bits
    # every flip-flop's Q net names its RTL register (the energy run sets their D/Q pins' activity)
    assert sorted(signal for _, signal in netlist.registers[""]) == ["a"] * 16 + ["b"] * 16 + ["count"] * 4
    modules = load_gated(gated / "gated.json")
    paths = instance_paths(modules, "duties")
    cones = enable_cones(modules, {"": {"count", "load_a", "d", "a", "b"}}, paths)
    assert set(cones) == set(netlist.icgs) and all(cones.values())
    leaves = {leaf for cone in cones.values() for leaf in cone.leaves.values()}
    assert ("load_a", 0) in leaves  # the named enable is a leaf itself
    samples = simulated(leaves)
    duties = sorted(float(evaluate(c, {leaf: samples[leaf] for leaf in c.leaves.values()}, CYCLES).mean())
                    for c in cones.values())
    print(f"duties {duties}")
    assert duties == [0.1, 0.3]
    # no simulated signal for a leaf: no cone (no duty is guessed)
    assert not any(enable_cones(modules, {"": set()}, paths).values())


def test_gated_clock_energy_hand_calculation(gated):
    """Against OpenSTA's full-rate clock, 16 flip-flops at duty 0.1 and 16 at 0.3 save
    (16·E + G)·0.9 + (16·E + G)·0.7 per cycle, E = a flip-flop's clock energy per edge, G = a GCLK
    net's switching energy per cycle (2·C·V² in OpenSTA, C = 16 clock pins' liberty capacitance, 1.2 V).
    E as OpenSTA measures it: about 0.1 pJ (IHP sg13g2_dfrbpq_1; docs/spec.md §8: 0.111 pJ), the same
    at a tenth of the clock rate (so a flip-flop gated to 10 % costs what one clocked at f/10 does),
    and 36 × E is OpenSTA's own figure for the block's 36 flip-flops clocked every cycle."""
    require_sta()
    period = 5.0

    def run(commands, name, netlist, module):
        return _sta(gated, [], module, commands, name, netlist)

    energy = clock_energy_pj(gated, {FLIP_FLOP}, period, run)[FLIP_FLOP]
    assert 0.08 < energy < 0.13
    assert clock_energy_pj(gated, {FLIP_FLOP}, 10 * period, run)[FLIP_FLOP] == pytest.approx(energy, rel=0.02)
    text = _sta(gated, [], "duties", f"create_clock -name clk -period {period} [get_ports clk]\n"
                "set_power_activity -global -activity 0 -duty 0.5\nreport_power -digits 9", "full.tcl", "netlist.v")
    sequential_w = float(re.search(r"^Sequential\s+\S+\s+\S+\s+\S+\s+(\S+)", text, re.MULTILINE).group(1))
    assert sequential_w * period * 1e3 == pytest.approx(36 * energy, rel=0.05)
    netlist = netlist_gating((gated / "netlist.v").read_text(), "duties")
    duties = dict(zip(sorted(netlist.icgs), (0.1, 0.3), strict=True))
    # each GCLK net, switched every cycle by OpenSTA: 2·C·V² per cycle (its convention for a clock net, two
    # transitions of C·V²), C = its 16 flip-flops' clock pins
    idle, _, gclk = logic_power(gated, [], "duties", "duties", period, {}, 0.0)
    hand_gclk_pj = 2 * 16 * pin_table(STDCELL)[FLIP_FLOP]["CLK"]["capacitance"] * 1.2 ** 2
    assert sorted(gclk) == sorted(netlist.icgs)
    for icg, watts in gclk.items():
        print(f"{icg}: GCLK {watts * period * 1e3:.4f} pJ/cycle, hand {hand_gclk_pj:.4f}")
        assert watts * period * 1e3 == pytest.approx(hand_gclk_pj, rel=0.1)
    flops_saved, nets_saved = gating_savings("duties", netlist, duties, {FLIP_FLOP: energy}, period, gclk)
    flops_pj, nets_pj = (sum(saved.values()) * period * 1e3 for saved in (flops_saved, nets_saved))
    print(f"clock energy {energy:.4f} pJ per flip-flop and edge; saved {flops_pj:.3f} pJ/cycle on the flip-flops "
          f"(hand {16 * 0.9 * energy + 16 * 0.7 * energy:.3f}), {nets_pj:.3f} on the GCLK nets "
          f"(hand {hand_gclk_pj * (0.9 + 0.7):.3f})")
    assert flops_pj == pytest.approx(16 * 0.9 * energy + 16 * 0.7 * energy, rel=1e-9)
    assert nets_pj == pytest.approx(hand_gclk_pj * (0.9 + 0.7), rel=0.1)
    # the registers' measured toggle rates reach OpenSTA: a's 16 flip-flops toggling half the cycles
    # cost more than idle ones, b's and the counter's stay at the zero default
    busy, _, _ = logic_power(gated, [], "duties", "duties", period, {}, 0.0,
                             register_pins(netlist, {("", "a"): 0.5, ("", "b"): 0.0, ("", "count"): 0.0}))
    print(f"16 flip-flops toggling at 0.5: +{(sum(busy.values()) - sum(idle.values())) * 1e6:.1f} µW")
    assert sum(busy.values()) > sum(idle.values()) * 1.05
