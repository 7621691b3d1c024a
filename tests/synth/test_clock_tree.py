"""ICG cloning (synth/clock_tree.py), the capacitance check (synth/electrical.py) and the gate-level
simulation helpers (synth/gatelevel.py) on hand-written netlists."""

import re

from latte_rtl.synth.clock_tree import MAX_GCLK_LOADS, split_icgs
from latte_rtl.synth.electrical import capacitance_violations, pin_table
from latte_rtl.synth.gatelevel import Netlist, gated_flops, probes
from latte_rtl.synth.pdk import STDCELL

ICG = "sg13g2_lgcp_1"


def _netlist(flops: int, escaped: bool = False) -> str:
    name = "\\u.icg_0 " if escaped else "icg_0"
    cells = f"  {ICG} {name} (\n    .CLK(clk),\n    .GATE(en),\n    .GCLK(g)\n  );\n"
    cells += "".join(f"  sg13g2_dfrbpq_1 _f{i}_ (\n    .CLK(g),\n    .D(d),\n    .Q(q{i}),\n    .RESET_B(1'h1)\n  );\n"
                     for i in range(flops))
    return f"module t(clk, en, d);\n  input clk;\n  input en;\n  input d;\n  wire g;\n{cells}endmodule\n"


def _loads(netlist: str) -> dict[str, int]:
    """{GCLK net: flip-flop clock pins on it}."""
    nets = re.findall(r"\.GCLK\((\S+)\)", netlist)
    return {n: len(re.findall(rf"\.CLK\({re.escape(n)}\)", netlist)) for n in nets}


def test_icg_cloning_caps_every_gated_clock():
    """70 flip-flops behind one ICG: 3 ICGs on the same CLK and GATE, each with ≤ 32 loads, every
    flip-flop still clocked by exactly one of them; a small group is left alone."""
    for escaped in (False, True):
        out, added = split_icgs(_netlist(70, escaped))
        loads = _loads(out)
        assert added == 2 and len(loads) == 3 and sum(loads.values()) == 70
        assert max(loads.values()) <= MAX_GCLK_LOADS
        assert out.count(".GATE(en)") == 3 and out.count(".CLK(clk)") == 3
        if escaped:
            assert "\\u.icg_0__1 " in out and "\\u.icg_0__2 " in out
    small = _netlist(MAX_GCLK_LOADS)
    assert split_icgs(small) == (small, 0)


def test_capacitance_check_counts_liberty_pin_loads():
    """The GCLK load is the sum of the flip-flops' CLK pin capacitance from the liberty: 256 of them
    exceed the ICG's max_capacitance; after cloning none does."""
    cells = pin_table(STDCELL)
    clk_pf, limit = cells["sg13g2_dfrbpq_1"]["CLK"]["capacitance"], cells[ICG]["GCLK"]["max_capacitance"]
    big = _netlist(256)
    violations = capacitance_violations(big, [])
    assert [v["pin"] for v in violations] == ["icg_0/GCLK"]
    assert violations[0]["load_pf"] == round(256 * clk_pf, 4) and violations[0]["limit_pf"] == limit
    assert capacitance_violations(split_icgs(big)[0], []) == []


def test_gated_flops_for_simulation_and_probes():
    """Flip-flops on a GCLK become enable flip-flops on the ICG's clock and gate; the probes list every
    net on a cell pin once and every ICG's GCLK."""
    text = _netlist(3)
    sim, cells = gated_flops(text)
    assert cells == {"sg13g2_dfrbpq_1"}
    assert sim.count("latte_gated_sg13g2_dfrbpq_1") == 3 and sim.count(".EN(en)") == 3
    assert ".CLK(g)" not in sim
    nets, clocks = probes(Netlist.parse(text, "t"))
    assert clocks == [("", "icg_0", "g")]
    assert sorted(n for _, n in nets) == ["clk", "d", "en", "g", "q0", "q1", "q2"]
