"""The liveness proof of the decode tops (`latte-rtl prove`, proof `liveness`): a wrapper that drives a
decode top as a user would (every config register, the G q rows, `start`; again after each step) against
an AXI4 read slave that answers every burst in order with arbitrary data, and asserts that every started
step hands out its `rows` record and its G `out` beats within a cycle bound (bounded liveness: no
deadlock, no hang), plus the AXI master's side of the AR/R contract.

The environment is arbitrary within the contract: any layout the rules allow (bases and strides
multiples of the bus width, strides >= the row's bytes, every plane below 2^addr_width), any N in
1..n_max, any thresholds, M_g, C_g and q rows, any R data; every handshake it controls (ARREADY, RVALID
of a burst asked for, out/rows ready) may stall, but at most `stalls` cycles in a row (fair; `prove
--stalls`, default 0: ARREADY and out/rows ready always high, a burst's R beats back to back from the
cycle after its AR). The same environment without the step bound is the decode tops' `protocol` proof.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UserError
from .verilog import Port

LAYOUT_REGS = ("BASE_MSB", "STRIDE_MSB", "BASE_LSB", "STRIDE_LSB", "BASE_V", "STRIDE_V", "N_KEYS")
ROW_REGS = ("THRESHOLD", "MULT", "COMP")
PLANE_OF = {"MSB": "k_msb", "LSB": "k_lsb", "V": "v"}
BOUNDARY = 4096
KEYS = 2  # N of the proof: 1..KEYS keys (short steps: the solver's depth grows with N)
OVERHEAD = 8  # cycles: the first request, the walk's and the output's fixed cost (fits the worst step found)
# cycles per row for the register stages of the timing-closed tops that the next row's burst does not hide
# (an MSB row's dot stages; an LSB row's address stages, dot stages and exact score; a V row's address stages),
# and for the collect's and the buffer read pipe's stages: the worst step the proof found on the CI decode
# design fits {0, 2, 2} and 2; the MSB row's 1 is a margin for the relative mode's second pass, the rest is
# SLACK's (every cycle of bound costs the solver depth)
PIPELINE = {"k_msb": 1, "k_lsb": 2, "v": 2}
DRAIN = 2
RESTART = 4  # relative thresholds: the second MSB pass's start
SLACK_PCT, SLACK_FIXED = 10, 4


@dataclass(frozen=True)
class Env:
    """What the wrapper needs of a decode design (from its config and manifest)."""
    group: int
    bus_bytes: int
    addr_width: int
    outstanding: int  # AXI bursts in flight at most (axi_outstanding)
    max_burst: int  # beats per burst at most
    row_bytes: dict  # plane -> bytes of a row
    row_beats: dict  # plane -> bus beats of a row
    n_max: int  # N of the proof: 1..n_max
    stalls: int  # a stalled handshake of the environment waits at most this many cycles in a row
    bound: int  # cycles from the start beat to the step's last rows/out beat


def env_of(cfg, manifest: dict, *, n_max: int, stalls: int, bound: int) -> Env:
    layout, dec = manifest["memory_layout"], manifest["derived"]["decode"]
    return Env(cfg.decode.group, dec["bus_bytes"], layout["addr_width"], cfg.decode.axi_outstanding,
               cfg.bus.max_burst, dict(dec["row_bytes"]), dict(dec["row_beats"]), n_max, stalls, bound)


def keys_of(cfg, dense: bool) -> int:
    """N of the proof: 1..KEYS (at most max_keys; the dense twin: at most kept_buffer)."""
    return min(KEYS, cfg.score.max_keys, cfg.decode.kept_buffer if dense else cfg.score.max_keys)


def step_bound(cfg, row_beats: dict, *, n: int, stalls: int, dense: bool) -> int:
    """Cycles from the start beat to a step's last rows/out beat, at most, for N <= n keys: every row fetched
    (N MSB rows per MSB pass, N LSB rows, N V rows) as its own burst, one burst at a time, each costing
    (beats + 1)(stalls + 1) + 1 cycles (request, AR, R beats, row out) plus its PIPELINE stages; the sum
    pass (N + 2), the dividers (B + 2), the G out beats ((stalls + 1) each), a fixed OVERHEAD (first request,
    walk, output) and DRAIN, and
    SLACK_PCT % of the fetch cycles plus SLACK_FIXED of slack."""
    relative = cfg.score.threshold_mode == "relative" and not dense
    cost = {p: (b + 1) * (stalls + 1) + 1 + PIPELINE[p] for p, b in row_beats.items()}
    fetch = n * ((2 if relative else 1) * cost["k_msb"] + cost["k_lsb"] + cost["v"])
    rest = (n + 2) + (cfg.attention.prob_bits + 2) + cfg.decode.group * (stalls + 1) + OVERHEAD + DRAIN
    return fetch + rest + (RESTART if relative else 0) + fetch * SLACK_PCT // 100 + SLACK_FIXED


def _fields(port: dict) -> dict:
    """{field name: (offset, width)} of a manifest payload port (fields of width 0 left out)."""
    return {f["name"]: (f["offset"], f["width"]) for f in port["fields"] if f["width"]}


def _set(port: str, fields: dict, name: str, value: str) -> list[str]:
    if name not in fields:
        return []
    off, width = fields[name]
    return [f"  assign {port}[{off + width - 1}:{off}] = {value};"]


def _bits(n: int) -> int:
    return max(1, n.bit_length())


def wrapper(env: Env, module: str, ports: dict[str, Port], manifest_ports: list, *, liveness: bool = True) -> str:
    """The Verilog of `latte_formal_liveness` around the decode top `module` (without the step's bound
    unless `liveness`)."""
    mp = {p["name"]: p for p in manifest_ports}
    value_w = _fields(mp["config__payload"])["value"][1]
    q_w = _fields(mp["query__payload"])["data"][1]
    inputs = ["input clk", f"input [{value_w - 1}:0] value_in", f"input [{q_w - 1}:0] q_in",
              f"input [{ports['axi__rdata'].width - 1}:0] rdata_in", "input arready_in", "input rvalid_in",
              "input out_ready_in", "input rows_ready_in"]
    lines = [f"module latte_formal_liveness({', '.join(inputs)});",
             "  reg rst = 1'b1;", "  always @(posedge clk) rst <= 1'b0;",
             "  reg live = 1'b0;", "  always @(posedge clk) live <= !rst;"]
    lines += [f"  wire [{p.width - 1}:0] {name};" for name, p in ports.items() if name not in ("clk", "rst")]
    codes = next(f["values"] for f in mp["config__payload"]["fields"] if f["name"] == "reg")
    lines += _sequence(env, mp, codes) + _layout_rules(env, value_w, codes)
    lines += _slave(env) + _fair(env) + _axi_checks(env) + _step_checks(env, mp, liveness)
    conns = ", ".join(f".{name}({name})" for name in ports)
    lines += [f"  {module} dut ({conns});", "endmodule"]
    return "\n".join(lines) + "\n"


def _sequence(env: Env, mp: dict, codes: dict) -> list[str]:
    """The user's side: config writes (layout, then T_g, M_g, C_g of each row), q rows, start; the
    same again once a step has ended."""
    g, cfg_f, q_f = env.group, _fields(mp["config__payload"]), _fields(mp["query__payload"])
    writes = [(codes[r], 0) for r in LAYOUT_REGS] + [(codes[r], h) for h in range(g) for r in ROW_REGS]
    n_cfg = len(writes)
    pw = _bits(n_cfg + g + 2)
    case = " ".join(f"{i}: begin code = {c}; head = {h}; end" for i, (c, h) in enumerate(writes))
    lines = [f"  localparam N_CFG = {n_cfg}, RUN = {n_cfg + g + 1};",
             f"  reg [{pw - 1}:0] pos = 0;  // config writes, q rows, start, then the step runs",
             f"  reg [7:0] code; reg [{_bits(g)}:0] head;",
             f"  always @* begin code = 0; head = 0; case (pos) {case} default: ; endcase end",
             "  assign config__valid = !rst && pos < N_CFG;",
             f"  assign query__valid = !rst && pos >= N_CFG && pos < N_CFG + {g};",
             f"  assign start__valid = !rst && pos == N_CFG + {g};",
             "  assign start__payload = 1'b0;",
             "  wire running = pos == RUN;",
             "  wire advance = (config__valid && config__ready) || (query__valid && query__ready) || "
             "(start__valid && start__ready);",
             "  always @(posedge clk) if (!rst) begin",
             "    if (advance) pos <= pos + 1;",
             "    if (running && complete) pos <= 0;",
             "  end"]
    lines += _set("config__payload", cfg_f, "reg", "code") + _set("config__payload", cfg_f, "head", "head")
    lines += _set("config__payload", cfg_f, "value", "value_in")
    lines += _set("query__payload", q_f, "row", "pos - N_CFG") + _set("query__payload", q_f, "data", "q_in")
    return lines


def _layout_rules(env: Env, value_w: int, codes: dict) -> list[str]:
    """Assumed of every layout write: the rules of docs/spec.md §9 (N in 1..n_max)."""
    aw, size, n = env.addr_width, (env.bus_bytes - 1).bit_length(), codes["N_KEYS"]
    lines = [f"  reg [{_bits(env.n_max)}:0] n_keys = 1;", "  wire writing = config__valid && config__ready;",
             f"  always @* if (writing && code == {n}) assume (value_in >= 1 && value_in <= {env.n_max});",
             f"  always @(posedge clk) if (writing && code == {n}) n_keys <= value_in;"]
    wide = aw + _bits(env.n_max) + 1
    for plane in ("MSB", "LSB", "V"):
        rb, x = env.row_bytes[PLANE_OF[plane]], plane.lower()
        base, stride = codes[f"BASE_{plane}"], codes[f"STRIDE_{plane}"]
        lines += [f"  reg [{aw - 1}:0] base_{x} = 0, stride_{x} = 0;",
                  f"  always @(posedge clk) if (writing && code == {base}) base_{x} <= value_in;",
                  f"  always @(posedge clk) if (writing && code == {stride}) stride_{x} <= value_in;",
                  f"  always @* if (writing && code == {stride}) assume (value_in >= {rb});",
                  f"  always @* if (writing && (code == {base} || code == {stride})) assume ("
                  + (f"value_in[{value_w - 1}:{aw}] == 0 && " if value_w > aw else "")
                  + (f"value_in[{size - 1}:0] == 0);" if size else "1);"),
                  f"  wire [{wide - 1}:0] end_{x} = base_{x} + (n_keys - 1) * stride_{x} + {rb};",
                  f"  always @* if (start__valid) assume (end_{x} <= {1 << aw});"]
    return lines


def _slave(env: Env) -> list[str]:
    """AXI4 read slave: every accepted burst answered in order, arlen + 1 beats of arbitrary data,
    RLAST on the last, OKAY; RVALID and RDATA held while RREADY is low."""
    depth = env.outstanding + 1
    pw, cw = _bits(depth - 1), _bits(depth)
    nxt = lambda p: f"({p} == {depth - 1} ? 0 : {p} + 1)"  # noqa: E731
    return [f"  reg [7:0] burst_len [0:{depth - 1}];",
            f"  reg [{pw - 1}:0] q_head = 0, q_tail = 0;", f"  reg [{cw - 1}:0] bursts = 0;",
            "  reg [7:0] beat = 0;",
            "  wire ar_take = axi__arvalid && axi__arready;",
            "  wire r_take = axi__rvalid && axi__rready;",
            "  wire r_end = r_take && axi__rlast;",
            "  assign axi__rvalid = bursts != 0 && rvalid_in;",
            "  assign axi__rlast = beat == burst_len[q_head];",
            "  assign axi__rdata = rdata_in;", "  assign axi__rresp = 2'b00;", "  assign axi__rid = 1'b0;",
            "  assign axi__arready = arready_in;",
            "  always @(posedge clk) if (rst) begin q_head <= 0; q_tail <= 0; bursts <= 0; beat <= 0; end else begin",
            f"    if (ar_take) begin burst_len[q_tail] <= axi__arlen; q_tail <= {nxt('q_tail')}; end",
            "    if (r_take) beat <= axi__rlast ? 0 : beat + 1;",
            f"    if (r_end) q_head <= {nxt('q_head')};",
            "    bursts <= bursts + ar_take - r_end;",
            "  end",
            "  always @(posedge clk) if (live && !rst && $past(axi__rvalid && !axi__rready))",
            "    assume (axi__rvalid && rdata_in == $past(rdata_in));"]


def _fair(env: Env) -> list[str]:
    """Every handshake the environment controls stalls at most `stalls` cycles in a row."""
    lines, sw = [], _bits(env.stalls + 1)
    waits = (("ar", "axi__arvalid && !axi__arready", "arready_in"),
             ("r", "bursts != 0 && !axi__rvalid", "rvalid_in"),
             ("out", "out__valid && !out__ready", "out_ready_in"),
             ("rows", "rows__valid && !rows__ready", "rows_ready_in"))
    lines += ["  assign out__ready = out_ready_in;", "  assign rows__ready = rows_ready_in;"]
    for name, stalled, given in waits:
        lines += [f"  reg [{sw - 1}:0] wait_{name} = 0;",
                  f"  always @(posedge clk) wait_{name} <= rst || !({stalled}) ? 0 : wait_{name} + 1;",
                  f"  always @* if (!rst && wait_{name} >= {env.stalls}) assume ({given});"]
    return lines


# AR held with its address and length until ARREADY (the master's AXI4 rule; axi_master.py proves it too)
AR_HELD = ["    if ($past(axi__arvalid && !axi__arready)) begin",
           "      axi__ar_held: assert (axi__arvalid);",
           "      axi__araddr_arlen_stable: assert (axi__araddr == $past(axi__araddr) && "
           "axi__arlen == $past(axi__arlen));",
           "    end"]


def _axi_checks(env: Env) -> list[str]:
    """The master's side of AXI4 reads: AR held with its address and length until ARREADY, INCR bursts of
    the bus width and at most max_burst beats, aligned, never across 4 KiB, at most `outstanding` bursts."""
    size = (env.bus_bytes - 1).bit_length()
    return ["  always @(posedge clk) if (live && !rst) begin",
            *AR_HELD,
            "    if (axi__arvalid) begin",
            f"      axi__incr_full_width: assert (axi__arburst == 2'b01 && axi__arsize == {size});",
            f"      axi__burst_at_most_max: assert (axi__arlen < {env.max_burst});",
            f"      axi__araddr_aligned: assert (axi__araddr[{size - 1}:0] == 0);" if size else "",
            f"      axi__no_4k_crossing: assert ({{1'b0, axi__araddr[11:0]}} + ((axi__arlen + 13'd1) << {size}) "
            f"<= {BOUNDARY});",
            "    end",
            f"    axi__outstanding_at_most_max: assert (bursts <= {env.outstanding});",
            "  end"]


def _step_checks(env: Env, mp: dict, liveness: bool) -> list[str]:
    """Every started step: its rows record and its G out beats (rows 0..G-1 in order) within `bound`
    cycles of the start beat."""
    g, ew = env.group, _bits(env.bound + 1)
    out_f = _fields(mp["out__payload"])
    row = "0"
    if "row" in out_f:
        off, w = out_f["row"]
        row = f"out__payload[{off + w - 1}:{off}]"
    return [f"  reg [{ew - 1}:0] elapsed = 0;  // cycles since the start beat (saturating)",
            f"  reg recorded = 0; reg [{_bits(g)}:0] outs = 0;",
            f"  wire complete = recorded && outs == {g};",
            "  always @(posedge clk) if (!rst) begin",
            "    if (start__valid && start__ready) begin elapsed <= 1; recorded <= 0; outs <= 0; end",
            f"    else if (running && !complete && elapsed != {(1 << ew) - 1}) elapsed <= elapsed + 1;",
            "    if (rows__valid && rows__ready) recorded <= 1;",
            "    if (out__valid && out__ready) outs <= outs + 1;",
            "  end",
            "  always @* if (!rst) begin",
            "    if (rows__valid && rows__ready) liveness__one_record_per_step: assert (running && !recorded);",
            f"    if (out__valid && out__ready) liveness__out_rows_in_order: assert (running && outs < {g} && "
            f"{row} == outs);",
            f"    if (running && !complete) liveness__step_ends_within_bound: assert (elapsed <= {env.bound});"
            if liveness else "",
            "  end"]


def is_decode(top: str) -> bool:
    """Whether the registered `top` is a decode top (K and V behind an external bus)."""
    from ..tops import get_top

    return get_top(top).decode


def is_dense(top: str) -> bool:
    """Whether decode top `top` is the dense twin (every key, N <= kept_buffer): its component says."""
    from ..tops import get_top

    return get_top(top).component.dense


def prefix_cycles(group: int) -> int:
    """Cycles before the first start beat: reset, the config writes, the q rows."""
    return 1 + len(LAYOUT_REGS) + len(ROW_REGS) * group + group


def plan(cfg, manifest: dict, top: str, ports: dict, *, depth: int | None, stalls: int, cap: int) -> tuple:
    """([(proof, BMC depth, wrapper Verilog, scope)], notes) of decode top `top`: the stream protocol of every
    block and the AXI master's rules in this environment (depth: at most `cap` unless given), and the liveness
    proof (depth: through the first step's bound unless given)."""
    entry = manifest["tops"][top]
    check_ports(top, ports, entry["ports"])
    dense = is_dense(top)
    n = keys_of(cfg, dense)
    bound = step_bound(cfg, manifest["derived"]["decode"]["row_beats"], n=n, stalls=stalls, dense=dense)
    env = env_of(cfg, manifest, n_max=n, stalls=stalls, bound=bound)
    t0 = prefix_cycles(env.group)
    first = t0 + bound + 2  # the depth at which the first step's bound is checked
    k_live, k_proto = depth or first, depth or min(first, cap)
    given = f"N 1..{n}, any layout, thresholds, M, C, q and R data, stalls <= {stalls}"
    parts = [("protocol", k_proto, wrapper(env, entry["module"], ports, entry["ports"], liveness=False),
              f"bounded, depth {k_proto}: every stream of every block in context, kept FIFO never written when "
              f"full, AXI AR/R master rules; decode steps from an AXI4 slave ({given})"),
             ("liveness", k_live, wrapper(env, entry["module"], ports, entry["ports"]),
              f"bounded, depth {k_live}: every step started ends (rows record, {env.group} out beat(s)) within "
              f"{bound} cycles of its start beat; {given}; AXI AR/R master rules")]
    notes = [] if k_live >= first else [f"{top}: liveness at depth {k_live} < {first} checks no step's bound "
                                        f"({bound} cycles after the start beat at cycle {t0})"]
    return parts, notes


def check_ports(top: str, ports: dict, manifest_ports: list) -> None:
    """UserError unless the top's Verilog has the manifest's ports (an edited design)."""
    for p in manifest_ports:
        got = ports.get(p["name"])
        if got is None or got.width != p["width"]:
            raise UserError(f"the Verilog of {top} must have port {p['name']} of {p['width']} bit(s) as in the "
                            f"manifest, not {f'{got.width} bit(s)' if got else 'none'} (edited?)")
