"""Property text for `latte-rtl prove`: assertions added inside the design's own modules (stream
protocol, FIFO bound) and wrapper modules around them (recombination, score-stage reference).

Every assertion has a label; SymbiYosys names a failing one as <hierarchy>.<label>.
"""

from __future__ import annotations

from .. import golden
from ..config import LatteConfig
from ..hw import layouts
from ..hw.layouts import PassKind
from .verilog import module_ports, stream_ports

REF_WIDTH = 48  # reference arithmetic (bits): wider than any score of a design small enough to prove


def _live() -> list[str]:
    """`latte_f_live`: high from the second cycle after a cycle without reset ($past is meaningful)."""
    return ["  reg latte_f_live = 1'b0;", "  always @(posedge clk) latte_f_live <= !rst;"]


def _held(s) -> list[tuple[str, str]]:
    """(label suffix, condition) of one stream's protocol in a cycle after one where it was stalled."""
    held = [("valid_held", f"{s.name}__valid")]
    if s.payload is not None:
        held.append(("payload_held", f"{s.name}__payload == $past({s.name}__payload)"))
    return held


def protocol_lines(ports: dict, *, top: bool, reset_assumed: bool, proven: bool = False,
                   free=()) -> list[str]:
    """Stream protocol of every valid/ready group of one module: valid and payload held until the
    transfer. Asserted on every group, except a top's input streams, where it is assumed (the
    environment's side of the contract); a `proven` module's output streams (proven of the module alone,
    by induction: blocks.py) are left out, its input streams stay asserted (the producers' part). Plus,
    where the module is a FIFO (w_en, w_rdy): no write while full. Input streams named in `free` are neither
    assumed nor asserted (they pass through glue, and no proof relies on them: blocks.glue)."""
    streams = [s for s in stream_ports(ports) if s.name not in free]
    assumable = {s.name for s in _assumable(ports)}
    return stream_lines(ports, assumed=[s.name for s in streams if top and s.name in assumable],
                        asserted=[s.name for s in streams if not (top and s.valid_in)
                                  and not (proven and not s.valid_in)],
                        fifo=True, reset_assumed=top and reset_assumed)


def stream_lines(ports: dict, *, assumed=(), asserted=(), fifo: bool = False, reset_assumed: bool = False) -> list[str]:
    """The stream protocol lines of one module (`ports`): the streams named in `assumed` assumed, those in
    `asserted` asserted, with `fifo` (where the module is a FIFO: w_en, w_rdy) no write while full; with
    `reset_assumed`, rst high in cycle 0 only."""
    lines = ["  // latte-rtl prove: stream protocol"] + _live()
    if reset_assumed:
        lines += ["  reg latte_f_init = 1'b1;", "  always @(posedge clk) latte_f_init <= 1'b0;",
                  "  always @* assume (rst == latte_f_init);"]
    body = []
    for s in stream_ports(ports):
        if s.name not in assumed and s.name not in asserted:
            continue
        check = "assume" if s.name in assumed else "assert"
        body.append(f"    if ($past({s.name}__valid && !{s.name}__ready)) begin")
        body += [f"      protocol__{s.name}__{label}: {check} ({cond});" for label, cond in _held(s)]
        body.append("    end")
    if fifo and "w_en" in ports and "w_rdy" in ports:
        body.append("    fifo__no_write_when_full: assert (!w_en || w_rdy);")
    if body:
        lines += ["  always @(posedge clk) if (latte_f_live && !rst) begin"] + body + ["  end"]
    return lines


def instrument(text: str, top: str, *, reset_assumed: bool = True, blocks: bool = True,
               proven: tuple[str, ...] = (), free=()) -> str:
    """`text` (a top's Verilog) with protocol_lines in every clocked module (only the top's, which
    holds the assumptions on its inputs, unless `blocks`). The output streams of the modules in `proven`
    (proven alone, by induction: blocks.py) are not asserted again; the input streams in `free` ((module,
    stream) pairs) are neither assumed nor asserted."""
    from .verilog import insert_before_endmodule

    for module, ports in module_ports(text).items():
        if "clk" in ports and "rst" in ports and (blocks or module == top):
            text = insert_before_endmodule(text, module, protocol_lines(
                ports, top=module == top, reset_assumed=reset_assumed, proven=module in proven,
                free=[s for m, s in free if m == module]))
    return text


def instrument_within(text: str, within: str, *, block: str | None = None, glue=(), free=()) -> str:
    """`text` with, inside module `within`, `block`'s output streams asserted (and, for a FIFO, no write while
    full) or the `glue` streams ((module, input stream) pairs); `within`'s input streams assumed (but those in
    `free`: (module, stream) pairs) and its reset in cycle 0; nothing else asserted: a block whose protocol rests
    on its surroundings, or the glue between blocks."""
    from .verilog import insert_before_endmodule

    ports = module_ports(text)
    checks: dict[str, list[str]] = {}
    for module, stream in glue:
        checks.setdefault(module, []).append(stream)
    if block:
        checks[block] = [s.name for s in stream_ports(ports[block]) if not s.valid_in]
    fifo = (block,) if block else ()
    own = [s.name for s in _assumable(ports[within]) if (within, s.name) not in free]
    text = insert_before_endmodule(text, within, stream_lines(
        ports[within], assumed=own, asserted=checks.get(within, ()), reset_assumed=True))
    for module in sorted((set(checks) | set(fifo)) - {within}):
        text = insert_before_endmodule(text, module, stream_lines(
            ports[module], asserted=checks.get(module, ()), fifo=module in fifo))
    return text


def _assumable(ports: dict) -> list:
    """The input streams of a module whose valid and payload are both its inputs and ready its output: only those
    may be assumed (an assumption on a signal the module drives would prune its own behaviour)."""
    return [s for s in stream_ports(ports) if s.valid_in and ports[f"{s.name}__ready"].direction == "output"
            and (s.payload is None or s.payload.direction == "input")]


def _field(manifest_port: dict, name: str) -> str:
    """`port[hi:lo]` (as $signed when the field is signed) of a payload field named in the manifest."""
    for f in manifest_port["fields"]:
        if f["name"] == name:
            bits = f"{manifest_port['name']}[{f['offset'] + f['width'] - 1}:{f['offset']}]"
            return f"$signed({bits})" if f["signed"] else bits
    raise KeyError(name)


def _layout_field(layout, path: str) -> tuple[int, int]:
    """(offset, width) of a dotted field path in an Amaranth struct layout."""
    offset = 0
    for part in path.split("."):
        field = layout[part]
        offset += field.offset
        layout = field.shape
    return offset, field.width


def nibble_ranges(s) -> tuple[tuple[int, int], tuple[int, int]]:
    """((min, max) of x_H, (min, max) of x_L): docs/spec.md §2's signed high and unsigned low parts."""
    m, l = s.msb_bits, s.lsb_bits
    return (-(1 << (m - 1)), (1 << (m - 1)) - 1), (0, (1 << l) - 1)


def lane_range(s, q_low: bool, k_low: bool, operand_sum: bool = False) -> tuple[int, int]:
    """(min, max) of one lane's product (or, with `operand_sum`, sum) of q_L or q_H and k_L or k_H."""
    high, low = nibble_ranges(s)
    a, b = (low if q_low else high), (low if k_low else high)
    corners = [x + y if operand_sum else x * y for x in a for y in b]
    return min(corners), max(corners)


def recombination_steps(cfg: LatteConfig) -> int:
    """Beats of one key's pass sequence (HH, HL, LH, LL; `beats` each)."""
    return 4 * cfg.score.beats


def recombination_wrapper(cfg: LatteConfig, accumulator: str, ports: dict) -> str:
    """(a): the design's accumulator fed key after key, each key's passes (HH, HL, LH, LL; `beats`
    beats each) with every beat sum free within what `lanes` products of its pass can reach; the
    exact score it emits must equal (HH << 2l) + ((HL + LH) << l) + LL computed in REF_WIDTH bits.
    Strengthening invariants (`_recombination_invariants`): `step` stays below one key's beats, each
    reference sum within what the beats seen so far can reach, and on every beat the accumulator's
    output equals the partial score of the sums seen so far. k-induction with k a key's beats + 2 proves
    it for every key: the base case runs a whole key from reset (a wrong recombination fails there, with
    a trace), and the invariants keep every step's check local (a beat's sum on top of the last)."""
    s = cfg.score
    w, beats, l = s.widths, s.beats, s.lsb_bits
    tok = layouts.token(s, w.hh_width)
    beat = layouts.beat_sum(tok, w.beat_sum_width, layouts.operand_sum_width(s))  # operand sum: free, unchecked
    res = layouts.acc_result(s, w.accumulator_width, w.hh_width, layouts.operand_sum_width(s))
    if ports["i__payload"].width != beat.size or ports["o__payload"].width != res.size:
        raise ValueError(f"accumulator ports must match the config's layouts, not {ports['i__payload']}")
    ranges = {"HH": lane_range(s, False, False), "HL": lane_range(s, False, True),  # per lane product: (min, max)
              "LH": lane_range(s, True, False), "LL": lane_range(s, True, True)}
    passes = [("HH", PassKind.HH), ("HL", PassKind.MID), ("LH", PassKind.MID), ("LL", PassKind.LOW)]

    def field(name, value):
        off, width = _layout_field(beat, name)
        return f"  assign i__payload[{off + width - 1}:{off}] = {value};"

    steps = recombination_steps(cfg)
    lines = [f"module latte_formal_recombination(input clk, input signed [{w.beat_sum_width - 1}:0] sum_in);",
             "  reg rst = 1'b1;", "  always @(posedge clk) rst <= 1'b0;",
             f"  reg [{max(1, steps.bit_length()) - 1}:0] step = 0;",
             f"  wire [{beat.size - 1}:0] i__payload;", f"  wire [{res.size - 1}:0] o__payload;",
             "  wire i__ready, o__valid;",
             "  wire i__valid = !rst;",
             f"  wire key_end = i__valid && i__ready && step == {steps - 1};",
             "  always @(posedge clk) if (!rst && i__valid && i__ready) step <= key_end ? 0 : step + 1;",
             f"  reg signed [{REF_WIDTH - 1}:0] total [0:3];",
             f"  reg signed [{w.hh_width - 1}:0] hh_out = 0;",
             f"  wire [1:0] pass = step / {beats};", f"  wire [{max(1, beats.bit_length()) - 1}:0] b = step % {beats};"]
    lines.append("  always @(posedge clk) if (rst || key_end) begin total[0] <= 0; total[1] <= 0; total[2] <= 0; "
                 "total[3] <= 0; end else if (i__valid && i__ready) total[pass] <= total[pass] + sum_in;")
    for p, (name, _) in enumerate(passes):
        for bi in range(beats):
            n = s.lanes if bi < beats - 1 else w.tail_lanes
            lo, hi = ranges[name][0] * n, ranges[name][1] * n
            lines.append(f"  always @* if (pass == {p} && b == {bi}) assume (sum_in >= {lo} && sum_in <= {hi});")
    kinds = " : ".join(f"pass == {p} ? 2'd{k.value}" for p, (_, k) in enumerate(passes)) + " : 2'd0"
    lines += [field("token.kind", f"({kinds})"), field("token.q_low", "(pass == 2 || pass == 3)"),
              field("token.k_low", "(pass == 1 || pass == 3)"),
              field("token.first", "(b == 0 && pass != 2)"),
              field("token.last", f"(b == {beats - 1} && (pass == 0 || pass == 3))"),
              field("token.index", "0"), field("token.init", "hh_out"), field("sum", "sum_in")]
    if _layout_field(beat, "token.beat")[1]:
        lines.append(field("token.beat", "b"))
    lines += _recombination_checks(accumulator, res, l, beats, steps)
    bounds = [(lo * s.dim, hi * s.dim, lo * s.lanes, hi * s.lanes) for lo, hi in (ranges[n] for n, _ in passes)]
    lines += _recombination_invariants(res, l, bounds) + ["endmodule"]
    return "\n".join(lines) + "\n"


def _acc_value(res) -> str:
    """The accumulator's output value (`o__payload`'s value field, signed) in the recombination wrapper."""
    v_off, v_w = _layout_field(res, "value")
    return f"$signed(o__payload[{v_off + v_w - 1}:{v_off}])"


def _recombination_invariants(res, l: int, bounds) -> list[str]:
    """Per beat: each reference sum within its pass's reach so far (`bounds` per pass: whole pass lo, hi; one
    full beat lo, hi), the stored HH equal to the HH sum, the accumulator's output (its next value, on `o`
    whether valid or not) equal to the partial score of the sums so far plus this beat's."""
    value = _acc_value(res)
    mid = f"(total[0] <<< {l}) + total[1] + total[2]"
    partial = ["total[0]", f"(total[0] <<< {l}) + total[1]", mid, f"(({mid}) <<< {l}) + total[3]"]
    lines = [f"  wire signed [{REF_WIDTH - 1}:0] beats_in = b;  // beats of this pass seen so far",
             "  always @(posedge clk) begin",
             "    recombination__reset_at_a_key_start: assert (!rst || step == 0);",
             "    if (!rst) begin"]
    for p, (lo, hi, beat_lo, beat_hi) in enumerate(bounds):
        so_far = f"total[{p}] >= beats_in * {beat_lo} && total[{p}] <= beats_in * {beat_hi}"
        lines += [f"      recombination__pass{p}_sum_in_reach: assert (pass > {p} ? total[{p}] >= {lo} && "
                  f"total[{p}] <= {hi} : pass == {p} ? {so_far} : total[{p}] == 0);",
                  f"      if (pass == {p}) recombination__pass{p}_partial_score: assert ({value} == "
                  f"{partial[p]} + sum_in);"]
    lines += ["      if (pass != 0) recombination__stored_hh: assert (hh_out == total[0]);", "    end", "  end"]
    return lines


def _recombination_checks(accumulator: str, res, l: int, beats: int, steps: int) -> list[str]:
    """The accumulator's instance in `latte_formal_recombination` and the assertions on what it emits."""
    k_off, _ = _layout_field(res, "kind")
    value = _acc_value(res)
    return [
        (f"  {accumulator} dut (.clk(clk), .rst(rst), .i__valid(i__valid), .i__ready(i__ready), "
         ".i__payload(i__payload), .o__valid(o__valid), .o__ready(1'b1), .o__payload(o__payload));"),
        f"  always @(posedge clk) if (o__valid && o__payload[{k_off + 1}:{k_off}] == 2'd0) hh_out <= {value};",
        (f"  wire signed [{REF_WIDTH - 1}:0] expected = (total[0] <<< {2 * l}) + ((total[1] + total[2]) <<< {l})"
         " + total[3] + sum_in;"),
        (f"  always @(posedge clk) if (o__valid && o__payload[{k_off + 1}:{k_off}] == 2'd{PassKind.LOW.value}) "
         f"recombination__score_equals_qk: assert ({value} == expected);"),
        (f"  always @(posedge clk) if (o__valid && o__payload[{k_off + 1}:{k_off}] == 2'd0) "
         f"recombination__hh_equals_sum: assert ({value} == total[0] + sum_in);"),
        "  always @(posedge clk) if (!rst) begin",
        f"    recombination__step_in_range: assert (step < {steps});",
        f"    if (key_end) recombination__score_emitted: assert (o__valid && o__payload[{k_off + 1}:{k_off}] == "
        f"2'd{PassKind.LOW.value});",
        f"    if (o__valid) recombination__outputs_at_pass_ends: assert (step == {beats - 1} || step == {steps - 1});",
        "  end"]


def _regs(prefix: str, n: int, width: int, signed: bool = True) -> str:
    sign = "signed " if signed else ""
    return f"  reg {sign}[{width - 1}:0] " + ", ".join(f"{prefix}{i} = 0" for i in range(n)) + ";"


def _sum(terms: list[str]) -> str:
    return " + ".join(terms) if terms else "0"


def score_reference(cfg: LatteConfig, top: dict, *, latency: bool) -> str:
    """(c) and (d): the design's LATTE score top beside a reference of docs/spec.md §2 written here from
    the operands (q·k, HH and the estimate E from full products in REF_WIDTH bits, keep rule with sinks
    and window, max of E): every scored key (index ascending, kept, score, HH) and every row record
    (kept_count, max_estimate, head) must match. Keys load once, thresholds change and rows start only
    between rows (row_thresholds: each row's T comes with its first q beat).
    With `latency`: outputs always ready, and a row must end within the manifest's cycle model."""
    s = cfg.score
    port = {p["name"]: p for p in top["ports"]}
    ref = _Reference(s, {n: port[f"{n}__payload"] for n in ("keys", "query", "scores", "rows", *THRESHOLD_PORTS)
                         if f"{n}__payload" in port})
    lines = (ref.instance(top["module"], latency) + ref.key_set() + ref.query_and_thresholds() + ref.sums()
             + ref.row_checks())
    if latency:
        survivors = " + survived_total" if s.rounds == 2 else ""
        bound = f"(115 * {s.beats} * (n_row{survivors} + 3 * kept_total)) / 100 + {row_overhead(s)}"
        lines.append(f"  always @(posedge clk) if (!rst && row_open && q_done) latency__row_within_cycle_model: "
                     f"assert (elapsed < {bound} || (rows__valid && elapsed == {bound}));")
    lines.append("endmodule")
    return "\n".join(lines) + "\n"


def row_overhead(s) -> int:
    """Cycles a row may take past 1.15 × its cycle model (s: a ScoreConfig): beats + 12, and
    golden.ROUND1_OVERHEAD_CYCLES more with two rounds (a second pipeline drain and scan)."""
    return s.beats + 12 + golden.ROUND1_OVERHEAD_CYCLES * (s.rounds - 1)


THRESHOLD_PORTS = ("thresholds", "round1_thresholds")  # T_h; with rounds 2 also T1_h


class _Reference:
    """The Verilog lines of `score_reference`, part by part (s: the ScoreConfig; ports: payload port of
    keys, query, scores, rows, thresholds (and round1_thresholds) from the manifest)."""

    def __init__(self, s, ports: dict):
        self.s, self.p = s, ports
        self.R = 2 * s.bits + s.dim.bit_length() + 2  # holds any q·k, HH, max − T of this design
        self.cw = max(1, (s.max_keys + 1).bit_length())

    def instance(self, module: str, latency: bool) -> list[str]:
        kp, qp, sp, rp = (self.p[n] for n in ("keys", "query", "scores", "rows"))
        writes = [n for n in THRESHOLD_PORTS if n in self.p]  # none with row_thresholds
        inputs = ["input clk", "input keys__valid", f"input [{kp['width'] - 1}:0] keys__payload",
                  "input query__valid", f"input [{qp['width'] - 1}:0] query__payload"]
        for n in writes:
            inputs += [f"input {n}__valid", f"input [{self.p[n]['width'] - 1}:0] {n}__payload"]
        inputs += ["input scores__ready_in", "input rows__ready_in"]
        names = ("keys__valid", "keys__ready", "keys__payload", "query__valid", "query__ready", "query__payload",
                 *(f"{n}__{x}" for n in writes for x in ("valid", "ready", "payload")), "scores__valid",
                 "scores__ready", "scores__payload", "rows__valid", "rows__ready", "rows__payload")
        return [f"module latte_formal_score({', '.join(inputs)});",
                "  reg rst = 1'b1;", "  always @(posedge clk) rst <= 1'b0;",
                f"  wire [{sp['width'] - 1}:0] scores__payload;", f"  wire [{rp['width'] - 1}:0] rows__payload;",
                f"  wire keys__ready, query__ready, {''.join(f'{n}__ready, ' for n in writes)}scores__valid, "
                "rows__valid;",
                f"  wire scores__ready = {'1' if latency else 'scores__ready_in'};",
                f"  wire rows__ready = {'1' if latency else 'rows__ready_in'};",
                f"  {module} dut (.clk(clk), .rst(rst), " + ", ".join(f".{n}({n})" for n in names) + ");"]

    def key_set(self) -> list[str]:
        """Keys k{j}_{i}; N = n_loaded once `last` was taken."""
        s, kp, beats = self.s, self.p["keys"], self.s.beats
        lines = [f"  reg [{self.cw - 1}:0] n_loaded = 0, key_count = 0;", "  reg loaded = 0;",
                 f"  reg [{max(1, beats.bit_length()) - 1}:0] key_beat = 0, q_beat = 0;",
                 "  wire key_take = keys__valid && keys__ready;",
                 f"  wire key_last = keys__payload[{_field_offset(kp, 'last')}];",
                 "  always @* if (!rst) begin",
                 "    assume (!keys__valid || !loaded);",
                 f"    assume (!keys__valid || !key_last || key_beat == {beats - 1});",
                 f"    assume (!keys__valid || key_beat != {beats - 1} || key_count != {s.max_keys - 1} || key_last);",
                 "  end",
                 "  always @(posedge clk) if (!rst && key_take) begin",
                 f"    key_beat <= key_beat == {beats - 1} ? 0 : key_beat + 1;",
                 f"    if (key_beat == {beats - 1}) key_count <= key_count + 1;",
                 "    if (key_last) begin loaded <= 1; n_loaded <= key_count + 1; end",
                 "  end"]
        for j in range(s.max_keys):
            lines.append(_regs(f"k{j}_", s.dim, s.bits))
            for b in range(beats):
                sets = [f"k{j}_{b * s.lanes + i} <= {_field(kp, f'data[{i}]')};" for i in range(s.lanes)
                        if b * s.lanes + i < s.dim]
                lines.append(f"  always @(posedge clk) if (!rst && key_take && key_count == {j} && key_beat == {b}) "
                             "begin " + " ".join(sets) + " end")
        return lines

    def query_and_thresholds(self) -> list[str]:
        s, w = self.s, self.s.widths
        lines = [_regs("q", s.dim, s.bits),
                 "  reg row_open = 0, q_done = 0, have_last = 0;", f"  reg [{w.head_width - 1}:0] head = 0;",
                 f"  reg [{self.cw - 1}:0] limit = 0, emitted = 0, last_index = 0;", "  reg [15:0] elapsed = 0;",
                 "  wire q_take = query__valid && query__ready;",
                 "  always @* if (!rst) begin",
                 "    assume (!query__valid || (loaded && (!row_open || (q_beat != 0))));",
                 *(f"    assume (!{n}__valid || !row_open);" for n in THRESHOLD_PORTS if n in self.p),
                 "  end"]
        for b in range(s.beats):
            sets = [f"q{b * s.lanes + i} <= {_field(self.p['query'], f'data[{i}]')};" for i in range(s.lanes)
                    if b * s.lanes + i < s.dim]
            lines.append(f"  always @(posedge clk) if (!rst && q_take && q_beat == {b}) begin " + " ".join(sets)
                         + " end")
        lines.append(f"  wire [{self.cw - 1}:0] n_row = limit < n_loaded ? limit : n_loaded;")
        return lines + (self._row_threshold() if s.row_thresholds else self._head_thresholds())

    def _threshold_value(self, valid: str, value: str, bounds=None) -> tuple[str, str]:
        """(the assumption that `value`, a threshold field, is in range while `valid` (`bounds`, default T's);
        its signed value)."""
        lo_t, hi_t = bounds or self.s.widths.threshold_range
        if self.s.widths.threshold_signed:
            return f"  always @* if (!rst && {valid}) assume ({value} >= {lo_t} && {value} <= {hi_t});", value
        wide = f"$signed({{1'b0, {value}}})"
        return f"  always @* if (!rst && {valid}) assume ($signed({value}) >= {lo_t} && {wide} <= {hi_t});", wide

    def _head_thresholds(self) -> list[str]:
        """T_h registers written through `thresholds` (and T1_h through `round1_thresholds`); the row's T is
        its head's."""
        lines = self._head_registers("thresholds", "thr", "threshold")
        if "round1_thresholds" in self.p:
            lines += self._head_registers("round1_thresholds", "thr1_", "threshold1",
                                          golden.round1_threshold_range(self.s, self.s.dim))
        return lines

    def _head_registers(self, port: str, prefix: str, name: str, bounds=None) -> list[str]:
        s, tp = self.s, self.p[port]
        t_head = _field(tp, "head")
        assumption, value = self._threshold_value(f"{port}__valid", _field(tp, "value"), bounds)
        lines = [_regs(prefix, s.heads, self.R), assumption]
        for h in range(s.heads):
            lines.append(f"  always @(posedge clk) if (!rst && {port}__valid && {port}__ready && "
                         f"{t_head} == {h}) {prefix}{h} <= {value};")
        return lines + [f"  wire signed [{self.R - 1}:0] {name} = " + " : ".join(
            [f"head == {h} ? {prefix}{h}" for h in range(s.heads - 1)] + [f"{prefix}{s.heads - 1}"]) + ";"]

    def _row_threshold(self) -> list[str]:
        """row_thresholds: the row's T, from its first q beat."""
        assumption, value = self._threshold_value("query__valid", _field(self.p["query"], "threshold"))
        return [f"  reg signed [{self.R - 1}:0] threshold = 0;", assumption,
                f"  always @(posedge clk) if (!rst && q_take && q_beat == 0) threshold <= {value};"]

    def sums(self) -> list[str]:
        """HH and the estimate E per key (q·k: scored_qk), the row max of E, the keep rule (sinks, window),
        kept_total; with rounds 2 first the first round's E1 and survivors (`survived_total`), E's max over
        them (0 when none)."""
        s, b2, n_max = self.s, 2 * self.s.bits, self.s.max_keys
        lines = self._estimates("h", "", s.msb_bits)
        lines += self.scored_qk(b2)
        seen = (lambda j: f"n_row > {j}") if s.rounds == 1 else (lambda j: f"survive{j}")
        if s.rounds == 2:
            lines += self._estimates("a", "1_", s.round1_msb_bits)
            lines += self._row_max("row_max1", "e1_", lambda j: f"n_row > {j}")
            rule1 = (lambda j: f"e1_{j} >= threshold1") if s.threshold_mode == "absolute" else (
                lambda j: f"e1_{j} >= row_max1 - threshold1")
            lines += [f"  wire survive{j} = n_row > {j} && ({rule1(j)}{self._always(j)});" for j in range(n_max)]
            lines.append(f"  wire [{self.cw - 1}:0] survived_total = "
                         + _sum([f"survive{j}" for j in range(n_max)]) + ";")
        lines += self._row_max("row_max", "e", seen)
        rule = (lambda j: f"e{j} >= threshold") if s.threshold_mode == "absolute" else (
            lambda j: f"e{j} >= row_max - threshold")
        for j in range(n_max):
            lines.append(f"  wire keep{j} = {seen(j)} && {rule(j)} || n_row > {j} && (1'b0{self._always(j)});")
        lines.append(f"  wire [{self.cw - 1}:0] kept_total = " + _sum([f"keep{j}" for j in range(n_max)]) + ";")
        return lines

    def _always(self, j: int) -> str:
        """` || ...` terms that keep key j whatever its estimate: a sink, the window."""
        s = self.s
        sink = " || 1'b1" if j < s.sink_keys else ""
        return sink + (f" || {j} + {s.window_keys} >= n_row" if s.window_keys else "")

    def _row_max(self, name: str, e: str, seen) -> list[str]:
        """`name`: the largest `e<j>` of the keys j where `seen(j)` (0 when none)."""
        return [f"  reg signed [{self.R - 1}:0] {name};", f"  reg {name}_have;",
                f"  always @* begin {name} = 0; {name}_have = 0;" + "".join(
                    f" if ({seen(j)} && (!{name}_have || {e}{j} > {name})) begin {name} = {e}{j}; {name}_have = 1; end"
                    for j in range(self.s.max_keys)) + " end"]

    def _estimates(self, tag: str, suffix: str, msb: int) -> list[str]:
        """Per key j the m-bit (`msb`) HH `hh{suffix}{j}` and estimate `e{suffix}{j}` from the top `msb` bits of q
        and k (q{tag}{i}, k{tag}{j}_{i}; products in their own widths, sums in R bits: a small problem for the
        solver)."""
        s, R, low = self.s, self.R, self.s.bits - msb
        lines = [f"  wire signed [{msb - 1}:0] q{tag}{i} = q{i}[{s.bits - 1}:{low}];" for i in range(s.dim)]
        for j in range(s.max_keys):
            for i in range(s.dim):
                lines.append(f"  wire signed [{msb - 1}:0] k{tag}{j}_{i} = k{j}_{i}[{s.bits - 1}:{low}];")
                lines.append(f"  wire signed [{2 * msb - 1}:0] p{tag}{j}_{i} = q{tag}{i} * k{tag}{j}_{i};")
            lines.append(f"  wire signed [{R - 1}:0] hh{suffix}{j} = "
                         + _sum([f"p{tag}{j}_{i}" for i in range(s.dim)]) + ";")
            lines.append(f"  wire signed [{R - 1}:0] e{suffix}{j} = " + self._estimate(j, tag, suffix, low) + ";")
        return lines

    def _estimate(self, j: int, tag: str, suffix: str, low: int) -> str:
        """E of key j (golden.estimates) at l = `low` bits: HH, or 2^(l+1)·HH + (2^l − 1)·(Q + S_j) from the
        high parts."""
        if self.s.estimate != "centred":
            return f"hh{suffix}{j}"
        qs = _sum([f"q{tag}{i} + k{tag}{j}_{i}" for i in range(self.s.dim)])
        return f"hh{suffix}{j} * {1 << (low + 1)} + ({(1 << low) - 1}) * ({qs})"

    def scored_qk(self, b2: int) -> list[str]:
        """`qk_scored`: q·k of the key whose score leaves now (its index picks the key's elements first, then
        one dot product: dim products in the solver, not max_keys × dim)."""
        s, idx = self.s, _field(self.p["scores"], "index")
        lines = []
        for i in range(s.dim):
            pick = " : ".join(f"{idx} == {j} ? k{j}_{i}" for j in range(s.max_keys)) + " : 0"
            lines += [f"  wire signed [{s.bits - 1}:0] ks_{i} = {pick};",
                      f"  wire signed [{b2 - 1}:0] ps_{i} = q{i} * ks_{i};"]
        return lines + [f"  wire signed [{self.R - 1}:0] qk_scored = " + _sum([f"ps_{i}" for i in range(s.dim)]) + ";"]

    def row_checks(self) -> list[str]:
        """The assertions on every scored key and row record."""
        qp, sp, rp, beats = self.p["query"], self.p["scores"], self.p["rows"], self.s.beats
        idx = _field(sp, "index")

        def sel(name):
            return " : ".join(f"{idx} == {j} ? {name}{j}" for j in range(self.s.max_keys)) + " : 0"

        return ["  always @(posedge clk) if (!rst) begin",
                "   if (row_open) elapsed <= elapsed + 1;",
                "   if (q_take) begin",
                f"    q_beat <= q_beat == {beats - 1} ? 0 : q_beat + 1;",
                (f"    if (q_beat == 0) begin row_open <= 1; q_done <= 0; head <= {_field(qp, 'head')}; "
                 f"limit <= {_field(qp, 'key_limit')}; elapsed <= 0; end"),
                f"    if (q_beat == {beats - 1}) q_done <= 1;",
                "   end",
                "   if (scores__valid && scores__ready) begin",
                "    equiv__score_only_in_a_row: assert (row_open && q_done);",
                f"    equiv__index_in_row: assert ({idx} < n_row);",
                f"    equiv__index_ascending: assert (!have_last || {idx} > last_index);",
                f"    equiv__key_kept: assert ({sel('keep')});",
                f"    equiv__score_equals_qk: assert ({_field(sp, 'score')} == qk_scored);",
                f"    equiv__estimate_equals_hh: assert ({_field(sp, 'estimate')} == ({sel('hh')}));",
                f"    emitted <= emitted + 1; have_last <= 1; last_index <= {idx};",
                "   end",
                "   if (rows__valid && rows__ready) begin",
                "    equiv__row_record_after_query: assert (row_open && q_done);",
                "    equiv__every_kept_key_scored: assert (emitted == kept_total);",
                f"    equiv__kept_count: assert ({_field(rp, 'summary.kept_count')} == kept_total);",
                f"    equiv__max_estimate: assert ({_field(rp, 'summary.max_estimate')} == row_max);",
                f"    equiv__head: assert ({_field(rp, 'head')} == head);",
                "    row_open <= 0; emitted <= 0; have_last <= 0;",
                "   end",
                "  end"]


def _field_offset(manifest_port: dict, name: str) -> int:
    return next(f["offset"] for f in manifest_port["fields"] if f["name"] == name)
