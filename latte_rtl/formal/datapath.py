"""Per-key equivalence of the score arithmetic (`prove --proofs datapath`): the design's own dot product and
accumulator, joined as in the top, fed key after key (each key's passes in order, any operands of each pass's
range, any stall, any backpressure), must emit each key's HH as the sum of its HH beats' lane products and its
exact score as (HH << 2l) + ((HL + LH) << l) + LL of its passes' lane products, with HH the one its completion
tokens carry (docs/spec.md §2), computed here in REF_WIDTH bits; with the centred estimate also Q + S_j, the
sum of its HH operands. Nothing in it depends on max_keys: it closes by k-induction on strengthening
invariants, per beat: the beats in the dot product's pipeline (its first stage is internal, exposed on ports
by `verilog.expose`) carry their tokens and the products of their operands, the accumulator (internal, exposed)
holds the partial result of the beats it has taken, each pass's sum is within what its beats can reach.

With split arrays (completion_lanes), both pipelines: the estimate's (HH passes) and the completion's (HL, LH,
LL on completion_lanes lanes, lanes / completion_lanes dot beats per stored word).

What it leaves to other proofs (the row-level `equivalence` checks them together, bounded): the operands are the
nibbles of q and k at the token's beat (the fetch), the tokens come in each key's pass order with their flags (the
issuer, the completion unit, the arbiter), a completion token's HH is its key's (the filter). That a key's parts
recombine to q·k is §2's identity (tests/golden)."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import LatteConfig
from ..hw import layouts
from ..hw.layouts import PassKind
from .properties import REF_WIDTH, _layout_field, lane_range, nibble_ranges

# pass: (kind, q_low, k_low)
PASSES = {"HH": (PassKind.HH, 0, 0), "HL": (PassKind.MID, 0, 1), "LH": (PassKind.MID, 1, 0),
          "LL": (PassKind.LOW, 1, 1)}
MIN_POSITIONS = 4  # keys take turns (the token's index counts them), at least this many beats a round: more than
# a dot product holds, so the beats in flight are the positions between the next offered and the next taken
MODULE = "latte_formal_datapath"
MAX_LANES = 8  # by default (`fits`): 4 lanes, 8 bits: 50 s; 8 lanes 49 s; 16 lanes over 4 min (2 cores)
MAX_CENTRED_LANES = 2


@dataclass(frozen=True)
class Pipeline:
    """One dot product + accumulator of a LATTE score top (`prefix`: their submodule names' prefix)."""
    prefix: str
    passes: tuple[str, ...]
    lanes: int  # the dot product's lanes
    ratio: int  # dot beats per stored word beat (a lane splitter before the dot product; 1 without)
    token: object  # the token layout
    sum_width: int
    acc_width: int
    operand_sum_width: int
    beats: int  # stored word beats of a vector

    @property
    def steps(self) -> int:
        """Dot beats of one key."""
        return len(self.passes) * self.beats * self.ratio


def pipelines(cfg: LatteConfig) -> list[Pipeline]:
    """The score top's pipelines: one shared array, or the estimate's and the completion's."""
    s, w = cfg.score, cfg.score.widths
    osw = layouts.operand_sum_width(s)
    if not s.completion_lanes:
        return [Pipeline("", tuple(PASSES), s.lanes, 1, layouts.token(s, w.hh_width), w.beat_sum_width,
                         w.accumulator_width, osw, s.beats)]
    return [Pipeline("", ("HH",), s.lanes, 1, layouts.token(s, 1), w.beat_sum_width, w.hh_width, osw, s.beats),
            Pipeline("completion_", ("HL", "LH", "LL"), s.completion_lanes, s.completion_ratio,
                     layouts.token(s, w.hh_width), w.completion_beat_sum_width, w.accumulator_width, 0, s.beats)]


def exposed(cfg: LatteConfig, modules: dict[str, str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(module, internal signals) the wrapper reads, per pipeline (`modules`: the manifest's {module: path})."""
    by_path = {path: module for module, path in modules.items()}
    found = []
    for pipe in pipelines(cfg):
        osum = ("p_operand_sum",) if pipe.operand_sum_width else ()
        dot = ("p_valid", "p_token", "products") + osum if cfg.score.pipeline else ()
        found += [(by_path[pipe.prefix + "dot"], dot),
                  (by_path[pipe.prefix + "accumulator"], ("acc",) + (("total",) if osum else ()))]
    return tuple((m, names) for m, names in found if names)


def fits(cfg: LatteConfig) -> str | None:
    """None if the proof runs by default on this design, else why not: past MAX_LANES lanes (or with the centred
    estimate's operand sums past MAX_CENTRED_LANES) the solver's cost grows steeply (adder trees against sums)."""
    lanes, centred = max(p.lanes for p in pipelines(cfg)), cfg.score.estimate == "centred"
    limit = MAX_CENTRED_LANES if centred else MAX_LANES
    if lanes <= limit:
        return None
    return f"{lanes} lanes > {limit}" + (" with the centred estimate" if centred else "")


def steps(cfg: LatteConfig) -> int:
    """k of the induction: one key's dot beats (the longest pipeline's), reset, the dot product's stages and the
    cycle its checks are sampled in, so the base case runs a whole key from reset."""
    return max(p.steps for p in pipelines(cfg)) + 5


def wrapper(cfg: LatteConfig, modules: dict[str, str], ports: dict) -> str:
    """The Verilog of `latte_formal_datapath` (`ports`: {module: ports} of the top's Verilog)."""
    by_path = {path: module for module, path in modules.items()}
    parts = [_Pipeline(cfg, pipe, by_path, ports) for pipe in pipelines(cfg)]
    inputs = ["input clk"] + [i for p in parts for i in p.inputs()]
    lines = [f"module {MODULE}(" + ", ".join(inputs) + ");", "  reg rst = 1'b1;",
             "  always @(posedge clk) rst <= 1'b0;"]
    for part in parts:
        lines += part.lines()
    return "\n".join(lines + ["endmodule"]) + "\n"


def _pick(pos: str, values: list) -> str:
    """`values[pos]` as a chain of ternaries."""
    return "(" + "".join(f"{pos} == {i} ? {v} : " for i, v in enumerate(values[:-1])) + f"{values[-1]})"


class _Pipeline:
    """The lines of one pipeline in the wrapper (its names prefixed with the pipeline's prefix). Positions count a
    round of keys' beats: key · steps + step."""

    def __init__(self, cfg: LatteConfig, pipe: Pipeline, by_path: dict, ports: dict):
        s = cfg.score
        self.s, self.pipe, self.x, self.pipelined = s, pipe, pipe.prefix, s.pipeline
        self.dot, self.acc = by_path[pipe.prefix + "dot"], by_path[pipe.prefix + "accumulator"]
        self.ports = ports
        self.ow, self.osw = s.widths.nibble_width, pipe.operand_sum_width
        self.ops = layouts.operands(s, pipe.token, self.ow, pipe.lanes)
        self.beat = layouts.beat_sum(pipe.token, pipe.sum_width, self.osw)
        self.init_width = pipe.token.members["init"].width
        self.index_width = _layout_field(pipe.token, "index")[1]
        self.res = layouts.acc_result(s, pipe.acc_width, self.init_width, self.osw)
        widths = (ports[self.dot]["i__payload"].width, ports[self.acc]["i__payload"].width,
                  ports[self.acc]["o__payload"].width)
        if widths != (self.ops.size, self.beat.size, self.res.size):
            raise ValueError(f"{self.dot} and {self.acc} must match the config's layouts, not payloads {widths}")
        self.keys = max(2, -(-MIN_POSITIONS // pipe.steps))
        self.n = self.keys * pipe.steps
        self.pw = max(1, (self.n - 1).bit_length())
        self.high, self.low = nibble_ranges(s)

    def inputs(self) -> list[str]:
        """The wrapper's free inputs: whether a beat is offered, whether the result is taken, the operands."""
        x, ow = self.x, self.ow
        return [f"input {x}feed", f"input {x}drain"] + [
            f"input signed [{ow - 1}:0] {x}{o}{n}" for o in "ab" for n in range(self.pipe.lanes)]

    def lines(self) -> list[str]:
        return self._positions() + self._feed() + self._instances() + self._queue() + self._taken() + self._checks()

    # -- positions: a beat's token, its operand ranges, its pass ------------------------------------------------
    def _where(self, t: int) -> tuple[str, int, int]:
        """(pass, word beat, lane step) of step t of a key."""
        per_pass = self.pipe.beats * self.pipe.ratio
        return self.pipe.passes[t // per_pass], (t % per_pass) // self.pipe.ratio, t % self.pipe.ratio

    def _key_of(self, pos: str) -> str:
        """The key (0 .. keys - 1) of position `pos`."""
        return _pick(pos, [i // self.pipe.steps for i in range(self.n)])

    def _first(self, t: int) -> bool:
        name, beat, step = self._where(t)
        return beat == 0 and step == 0 and name != "LH"

    def _elements(self, t: int) -> list[int | None]:
        """The vector element each lane multiplies at step t (None: past dim, zero)."""
        _, beat, step = self._where(t)
        found = [beat * self.s.lanes + step * self.pipe.lanes + n for n in range(self.pipe.lanes)]
        return [e if e < self.s.dim else None for e in found]

    def _token(self, j: int, t: int) -> str:
        """Key j's step t's token, packed (a Verilog concatenation); init: the key's HH (any value it can take)."""
        name, beat, step = self._where(t)
        kind, q_low, k_low = PASSES[name]
        last = beat == self.pipe.beats - 1 and step == self.pipe.ratio - 1 and name in ("HH", "LL")
        values = {"kind": kind.value, "q_low": q_low, "k_low": k_low, "beat": beat, "first": int(self._first(t)),
                  "last": int(last), "index": j % (1 << self.index_width)}
        fields = sorted(((f.offset, n, f.width) for n, f in self.pipe.token), reverse=True)
        return "{" + ", ".join(f"{self.x}init{j}" if n == "init" and self.init_width > 1 else
                               f"{w}'d{values.get(n, 0) % (1 << w)}" for _, n, w in fields) + "}"

    def _in_range(self, t: int) -> str:
        """The operands offered at step t are within their nibbles' ranges (zero past dim)."""
        _, q_low, k_low = PASSES[self._where(t)[0]]
        terms = []
        for n, e in enumerate(self._elements(t)):
            for operand, low in (("a", q_low), ("b", k_low)):
                lo, hi = (0, 0) if e is None else self.low if low else self.high
                terms.append(f"{self.x}{operand}{n} >= {lo} && {self.x}{operand}{n} <= {hi}")
        return "(" + " && ".join(terms) + ")"

    def _beat_bounds(self, t: int, operand_sum: bool = False) -> tuple[int, int]:
        """(min, max) of the beat's product sum (or operand sum) at step t."""
        _, q_low, k_low = PASSES[self._where(t)[0]]
        lo, hi = lane_range(self.s, q_low, k_low, operand_sum)
        lanes = sum(e is not None for e in self._elements(t))
        return lo * lanes, hi * lanes

    def _in_reach(self, pos: str, value: str, operand_sum: bool = False) -> str:
        """`value` (a beat's sum) within what the beat at position `pos` can reach."""
        steps = self.pipe.steps
        bounds = [self._beat_bounds(i % steps, operand_sum) for i in range(self.n)]
        hh = [self._where(i % steps)[0] == "HH" for i in range(self.n)]  # an operand sum matters on HH beats only
        return _pick(pos, [f"({value} >= {lo} && {value} <= {hi})" if h or not operand_sum else "1'b1"
                           for (lo, hi), h in zip(bounds, hh)])

    def _positions(self) -> list[str]:
        x, R = self.x, REF_WIDTH
        steps = self.pipe.steps
        lines = [f"  wire [{self.pipe.token.size - 1}:0] {x}tok{i} = {self._token(i // steps, i % steps)};"
                 for i in range(self.n)]
        if self.init_width > 1:  # the HH a completion token carries: any HH of the design's range
            lo, hi = (self.s.dim * c for c in lane_range(self.s, False, False))
            for j in range(self.keys):
                lines += [f"  (* anyconst *) reg signed [{self.init_width - 1}:0] {x}init{j};",
                          f"  always @* assume ({x}init{j} >= {lo} && {x}init{j} <= {hi});"]
        else:
            lines += [f"  wire signed [{R - 1}:0] {x}init{j} = 0;" for j in range(self.keys)]
        return lines

    # -- the beats offered, the design's blocks ------------------------------------------------------------------
    def _feed(self) -> list[str]:
        """Positions of the next beat offered (`gen`) and of the next the accumulator takes (`at`); the offered
        beat's token, operands and their ranges."""
        x, n, pw, ow = self.x, self.n, self.pw, self.ow
        last = n - 1
        lines = [f"  reg [{pw - 1}:0] {x}gen = 0, {x}at = 0;", f"  reg {x}started = 0;",
                 f"  wire [{pw - 1}:0] {x}gen_next = {x}gen == {last} ? 0 : {x}gen + 1;",
                 f"  wire [{pw - 1}:0] {x}at_next = {x}at == {last} ? 0 : {x}at + 1;",
                 f"  wire [{pw - 1}:0] {x}before = {x}at == 0 ? {last} : {x}at - 1;",
                 f"  wire {x}dot_i_valid = !rst && {x}feed;", f"  wire {x}dot_i_ready;",
                 f"  wire [{self.ops.size - 1}:0] {x}dot_i_payload;",
                 f"  always @* if ({x}dot_i_valid) assume " + _pick(f"{x}gen", [self._in_range(i % self.pipe.steps)
                                                                                 for i in range(n)]) + ";"]
        off, width = _layout_field(self.ops, "token")
        lines.append(f"  assign {x}dot_i_payload[{off + width - 1}:{off}] = "
                     + _pick(f"{x}gen", [f"{x}tok{i}" for i in range(n)]) + ";")
        for operand in "ab":
            base = _layout_field(self.ops, operand)[0]
            lines += [f"  assign {x}dot_i_payload[{base + k * ow + ow - 1}:{base + k * ow}] = {x}{operand}{k};"
                      for k in range(self.pipe.lanes)]
        return lines

    def _instances(self) -> list[str]:
        """The design's dot product and accumulator, joined as in the top; their exposed registers."""
        x, pipe, ow, osw = self.x, self.pipe, self.ow, self.osw
        lines = [f"  wire {x}dot_o_valid, {x}acc_i_ready, {x}acc_o_valid;",
                 f"  wire [{self.beat.size - 1}:0] {x}dot_o_payload;",
                 f"  wire [{self.res.size - 1}:0] {x}acc_o_payload;",
                 f"  wire [{pipe.acc_width - 1}:0] {x}acc_reg;"]
        dot_extra, acc_extra = "", f", .formal_acc({x}acc_reg)"
        if self.pipelined:
            lines += [f"  wire {x}p_valid;", f"  wire [{pipe.token.size - 1}:0] {x}p_token;",
                      f"  wire [{2 * ow * pipe.lanes - 1}:0] {x}products;"]
            dot_extra = f", .formal_p_valid({x}p_valid), .formal_p_token({x}p_token), .formal_products({x}products)"
        else:
            lines.append(f"  wire {x}p_valid = 1'b0;")
        if osw:
            lines.append(f"  wire [{osw - 1}:0] {x}total;")
            acc_extra += f", .formal_total({x}total)"
            if self.pipelined:
                lines.append(f"  wire [{osw - 1}:0] {x}p_osum;")
                dot_extra += f", .formal_p_operand_sum({x}p_osum)"
        return lines + [*self._instance(self.dot, f"{x}dot", f"{x}dot_i", f"{x}dot_o", f"{x}dot_i_ready",
                                       f"{x}acc_i_ready", dot_extra),
                        *self._instance(self.acc, f"{x}acc", f"{x}dot_o", f"{x}acc_o", f"{x}acc_i_ready", f"{x}drain",
                                       acc_extra)]

    def _instance(self, module: str, name: str, i: str, o: str, i_ready: str, o_ready: str, extra: str) -> list[str]:
        """`module`'s instance: its `i` on the wrapper's `<i>_valid`, `<i>_payload` and `i_ready`, its `o` likewise;
        a ready the design tied to 1 (no such port) reads 1 (an input) or is not connected (an output)."""
        ports = self.ports[module]
        conns = [f".{s}__{part}({w}_{part})" for s, w in (("i", i), ("o", o)) for part in ("valid", "payload")]
        conns += [f".{s}__ready({w})" for s, w in (("i", i_ready), ("o", o_ready)) if f"{s}__ready" in ports]
        tied = [] if "i__ready" in ports else [f"  assign {i_ready} = 1'b1;"]
        return [f"  {module} {name} (.clk(clk), .rst(rst), " + ", ".join(conns) + f"{extra});", *tied]

    def _queue(self) -> list[str]:
        """The beats in flight in the dot product, oldest first (g0, g1): the product sum and operand sum of the
        operands each was offered with, computed here as it is offered."""
        x, R, ow, lanes = self.x, REF_WIDTH, self.ow, range(self.pipe.lanes)
        products = [f"{x}pr{k}" for k in lanes]
        return [
            *[f"  wire signed [{2 * ow - 1}:0] {x}pr{k} = {x}a{k} * {x}b{k};" for k in lanes],
            f"  wire signed [{R - 1}:0] {x}fed_sum = " + " + ".join(products) + ";",
            f"  wire signed [{R - 1}:0] {x}fed_osum = " + " + ".join(f"{x}a{k} + {x}b{k}" for k in lanes) + ";",
            f"  reg signed [{R - 1}:0] {x}g0_sum, {x}g0_osum, {x}g1_sum, {x}g1_osum;",
            f"  wire {x}push = {x}dot_i_valid && {x}dot_i_ready, {x}pop = {x}dot_o_valid && {x}acc_i_ready;",
            f"  wire [{self.pw}:0] {x}in_flight = {x}gen >= {x}at ? {x}gen - {x}at : {x}gen + {self.n} - {x}at;",
            f"  wire {x}to_g0 = {x}push && {x}in_flight == ({x}pop ? 1 : 0);",
            f"  wire {x}to_g1 = {x}push && !{x}to_g0;",
            f"  always @(posedge clk) if (rst) {x}gen <= 0; else if ({x}push) {x}gen <= {x}gen_next;",
            "  always @(posedge clk) begin",
            f"    if ({x}pop) begin {x}g0_sum <= {x}g1_sum; {x}g0_osum <= {x}g1_osum; end",
            f"    if ({x}to_g0) begin {x}g0_sum <= {x}fed_sum; {x}g0_osum <= {x}fed_osum; end",
            f"    if ({x}to_g1) begin {x}g1_sum <= {x}fed_sum; {x}g1_osum <= {x}fed_osum; end",
            "  end"]

    def _taken(self) -> list[str]:
        """Per pass of the key at the accumulator, the sum of the beats it has taken (`tot<p>`), and the operand sum
        since the last first beat; what the accumulator must hold after the beat at `before`."""
        x, R, l, passes = self.x, REF_WIDTH, self.s.lsb_bits, self.pipe.passes
        steps = self.pipe.steps
        pass_of = [passes.index(self._where(i % steps)[0]) for i in range(self.n)]
        pbits = max(1, (len(passes) - 1).bit_length())
        lines = [f"  reg signed [{R - 1}:0] " + ", ".join(f"{x}tot{p}" for p in range(len(passes))) + f", {x}otot;",
                 f"  wire [{pbits - 1}:0] {x}at_pass = " + _pick(f"{x}at", pass_of) + ";",
                 f"  wire [{pbits - 1}:0] {x}before_pass = " + _pick(f"{x}before", pass_of) + ";",
                 f"  wire {x}at_first = " + _pick(f"{x}at", [int(self._first(i % steps)) for i in range(self.n)]) + ";",
                 f"  wire {x}at_key_start = " + _pick(f"{x}at", [int(i % steps == 0) for i in range(self.n)]) + ";",
                 f"  wire [{self.pw - 1}:0] {x}key = {self._key_of(f'{x}at')}, {x}before_key = "
                 f"{self._key_of(f'{x}before')};",
                 f"  always @(posedge clk) if (rst) begin {x}started <= 0; {x}at <= 0; end else if ({x}pop) begin",
                 f"    {x}started <= 1; {x}at <= {x}at_next;",
                 f"    {x}otot <= {x}at_first ? {x}g0_osum : {x}otot + {x}g0_osum;"]
        for p in range(len(passes)):
            lines.append(f"    {x}tot{p} <= {x}at_pass == {p} ? ({x}at_key_start ? 0 : {x}tot{p}) + {x}g0_sum : "
                         f"{x}at_key_start ? 0 : {x}tot{p};")
        lines += ["  end"]
        init = _pick(f"{x}before_key", [f"{x}init{j}" for j in range(self.keys)])
        tot = {name: f"{x}tot{passes.index(name)}" for name in passes}

        hl_lh = " + ".join(tot[n] for n in ("HL", "LH") if n in tot)

        def after(name: str) -> str:
            """The accumulator's value once pass `name`'s beats so far are in (the MID and LOW passes on the HH the
            key's tokens carry)."""
            if name == "HH":
                return tot["HH"]
            if name == "HL":
                return f"({init} <<< {l}) + {tot['HL']}"
            if name == "LH":
                return f"({init} <<< {l}) + {hl_lh}"
            return f"((({init} <<< {l}) + {hl_lh}) <<< {l}) + {tot['LL']}"

        lines.append(f"  wire signed [{R - 1}:0] {x}acc_before = "
                     + _pick(f"{x}before_pass", [after(n) for n in passes]) + ";")
        return lines

    # -- the invariants and the results -------------------------------------------------------------------------
    def _reach(self) -> list[str]:
        """Each pass's sum of taken beats within what they can reach, 0 for passes not yet begun (after `before`)."""
        x, steps, passes = self.x, self.pipe.steps, self.pipe.passes
        per_pass = steps // len(passes)
        conditions = []
        for i in range(self.n):
            t = i % steps
            terms = []
            for p in range(len(passes)):
                done = range(p * per_pass, min(t + 1, (p + 1) * per_pass))  # this pass's steps up to t
                lo, hi = sum(self._beat_bounds(u)[0] for u in done), sum(self._beat_bounds(u)[1] for u in done)
                terms.append(f"{x}tot{p} >= {lo} && {x}tot{p} <= {hi}")
            if self.osw and self._where(t)[0] == "HH":  # the operand sum since the pass's first beat
                done = range(t - t % per_pass, t + 1)
                lo, hi = (sum(self._beat_bounds(u, True)[k] for u in done) for k in (0, 1))
                terms.append(f"{x}otot >= {lo} && {x}otot <= {hi}")
            conditions.append("(" + " && ".join(terms) + ")")
        return [f"    if ({x}started) datapath__{x}pass_sums_in_reach: assert " + _pick(f"{x}before", conditions) + ";"]

    def _checks(self) -> list[str]:
        x, n, R, ow, pipe, osw = self.x, self.n, REF_WIDTH, self.ow, self.pipe, self.osw

        def field(layout, payload, name, signed=True):
            off, width = _layout_field(layout, name)
            bits = f"{payload}[{off + width - 1}:{off}]"
            return f"$signed({bits})" if signed else bits

        lanes = range(pipe.lanes)
        stage_sum = " + ".join(f"$signed({x}products[{(k + 1) * 2 * ow - 1}:{k * 2 * ow}])" for k in lanes)
        kind = field(self.res, f"{x}acc_o_payload", "kind", signed=False)
        value = field(self.res, f"{x}acc_o_payload", "value")
        tot = {name: f"{x}tot{pipe.passes.index(name)}" for name in pipe.passes}
        kept = {name: f"({x}at_key_start ? 0 : {tot[name]})" for name in pipe.passes}  # this key's sums so far
        now = {name: f"({x}at_pass == {pipe.passes.index(name)} ? {kept[name]} + {x}g0_sum : {kept[name]})"
               for name in pipe.passes}  # with the beat at the accumulator
        init = _pick(f"{x}key", [f"{x}init{j}" for j in range(self.keys)])
        l = self.s.lsb_bits
        score = f"({init} <<< {2 * l}) + (({now.get('HL')} + {now.get('LH')}) <<< {l}) + {now.get('LL')}"
        tok = lambda pos: _pick(pos, [f"{x}tok{i}" for i in range(n)])  # noqa: E731
        lines = [f"  wire [{self.pw - 1}:0] {x}p_at = {x}dot_o_valid ? {x}at_next : {x}at;",
                 f"  wire signed [{R - 1}:0] {x}stage_sum = " + (stage_sum if self.pipelined else "0") + ";",
                 f"  wire signed [{R - 1}:0] {x}stage_g_osum = {x}dot_o_valid ? {x}g1_osum : {x}g0_osum;",
                 "  always @(posedge clk) if (!rst) begin",
                 f"    datapath__{x}positions: assert ({x}gen < {n} && {x}at < {n});",
                 f"    datapath__{x}in_flight: assert ({x}in_flight == {x}p_valid + {x}dot_o_valid);",
                 f"    if ({x}dot_o_valid) begin",
                 f"      datapath__{x}beat_token: assert ({field(self.beat, f'{x}dot_o_payload', 'token', False)} == "
                 f"{tok(f'{x}at')});",
                 f"      datapath__{x}beat_sum: assert ({field(self.beat, f'{x}dot_o_payload', 'sum')} == {x}g0_sum);",
                 f"      datapath__{x}beat_in_reach: assert {self._in_reach(f'{x}at', f'{x}g0_sum')};"]
        if osw:
            lines += [f"      datapath__{x}beat_operand_sum: assert ("
                      f"{field(self.beat, f'{x}dot_o_payload', 'operand_sum', False)} == {x}g0_osum[{osw - 1}:0]);",
                      f"      datapath__{x}beat_operand_sum_in_reach: assert "
                      f"{self._in_reach(f'{x}at', f'{x}g0_osum', True)};"]
        lines.append("    end")
        if self.pipelined:
            g = f"{x}dot_o_valid ? {x}g1_%s : {x}g0_%s"
            lines += [f"    if ({x}p_valid) begin",
                      f"      datapath__{x}stage_token: assert ({x}p_token == {tok(f'{x}p_at')});",
                      f"      datapath__{x}stage_products: assert ({x}stage_sum == ({g % ('sum', 'sum')}));",
                      f"      datapath__{x}stage_in_reach: assert {self._in_reach(f'{x}p_at', f'{x}stage_sum')};"]
            if osw:
                lines += [f"      datapath__{x}stage_operand_sum: assert ({x}p_osum == {x}stage_g_osum[{osw - 1}:0]);",
                          f"      datapath__{x}stage_operand_sum_in_reach: assert "
                          f"{self._in_reach(f'{x}p_at', f'{x}stage_g_osum', True)};"]
            lines.append("    end")
        lines += [f"    if (!{x}started) datapath__{x}from_a_key_start: assert ({x}at == 0);",
                  f"    if ({x}started) datapath__{x}accumulator_holds_partial: assert ("
                  f"{x}acc_reg == {x}acc_before[{pipe.acc_width - 1}:0]);", *self._reach()]
        if osw:
            lines.append(f"    if ({x}started) datapath__{x}operand_sum_partial: assert ("
                         f"{x}total == {x}otot[{osw - 1}:0]);")
        lines += [f"    if ({x}acc_o_valid) begin",
                  f"      datapath__{x}index: assert ({field(self.res, f'{x}acc_o_payload', 'index', False)} == "
                  f"{_pick(f'{x}at', [(i // pipe.steps) % (1 << self.index_width) for i in range(n)])});"]
        if "HH" in pipe.passes:
            lines.append(f"      if ({kind} == {PassKind.HH.value}) datapath__{x}hh_equals_sum_of_products: assert ("
                         f"{value} == {now['HH']});")
            if osw:
                lines.append(f"      if ({kind} == {PassKind.HH.value}) datapath__{x}operand_sum_equals_q_s: assert ("
                             f"{field(self.res, f'{x}acc_o_payload', 'operand_sum')} == "
                             f"({x}at_first ? {x}g0_osum : {x}otot + {x}g0_osum));")
        if "LL" in pipe.passes:
            lines.append(f"      if ({kind} == {PassKind.LOW.value}) datapath__{x}score_equals_qk: assert ({value} == "
                         f"{score});")
        return lines + ["    end", "  end"]
