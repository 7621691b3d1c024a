"""P·V stage (docs/spec.md §7): o_i = Σ_j p_j · v_{j,i} over the kept keys, V rows read only where p_j > 0.

  values  In  stream  V load: key-beat format (`lanes` elements a beat, `last` ends the set)
  probs   In  stream  (index, p_j) of the row's kept keys
  rows    In  stream  the softmax stage's row summary (after the row's last probability)
  out     Out stream  o: `beats` beats of `lanes` exact accumulators (element b·lanes + i)
  done    Out stream  (kept_count, Σ p_j, V rows read, head) after the row's last out beat

Per key with p_j > 0 the stage requests its `beats` V words through a latency-tolerant read port
(`hw.readport`: requests out, words back in order any number of cycles later; the V SRAM's adapter
answers in one cycle) and adds p_j · v (linear: multipliers of B × bits; log2: shifters, p_j being a
power of two) into the accumulators. A key with p_j = 0 costs no V read. Up to `reads_in_flight`
requests wait for their words (each one's beat and p_j held in a small FIFO beside the port).

With a P·V width of lanes (pv_lanes = lanes, or 0 at lanes ≤ 16) a word a cycle: `lanes` multipliers add
into the `lanes` accumulators of the word's beat. With a width P < lanes a word takes lanes / P cycles: P
multipliers and P adders add one group of P elements a cycle into the head of a ring of accumulator groups
that turns by a group (`_ring_accumulators`), so the d accumulators share P adders without a read
multiplexer.

With `vmean` (Top-θ): while V loads, column sums are accumulated; after the load one serial
divider computes vmean_i = floor(Σ_j v_{j,i} / N) element by element (rows wait meanwhile), and
each output element gets + w · vmean_i, w = (2^B − 1) − Σ p_j.
"""

import typing

from amaranth import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from ..config import LatteConfig
from ..hw import layouts
from ..hw.divider import SerialDivider
from ..hw.keystore import VectorStore
from ..hw.readport import SRAMReadPort

READS_IN_FLIGHT = 2  # V words requested and not yet back: full rate at the SRAM's one-cycle latency


class PVStage(wiring.Component):
    """`v_port(addr_width, data_shape)` builds the V store's read side: a component with `port`
    (`ReadPortSignature`, store side) and `ram` (`BankReadSignature` to the SRAM); the SRAM adapter
    by default, a slower store in tests."""

    def __init__(self, cfg: LatteConfig, *, v_port=SRAMReadPort, reads_in_flight: int = READS_IN_FLIGHT):
        if not isinstance(reads_in_flight, int) or reads_in_flight < 1:
            raise ValueError(f"reads_in_flight must be a positive integer, not {reads_in_flight!r}")
        self.cfg, self.v_port, self.reads_in_flight = cfg, v_port, reads_in_flight
        self.ratio = cfg.pv_ratio  # cycles per V word
        self.pv_lanes = cfg.score.lanes // self.ratio
        w = cfg.score.widths
        members = {
            "values": In(stream.Signature(layouts.key_beat(cfg.score))),
            "probs": In(stream.Signature(layouts.prob_beat(cfg))),
            "rows": In(stream.Signature(layouts.softmax_row(cfg))),
            "out": Out(stream.Signature(layouts.out_beat(cfg))),
            "done": Out(stream.Signature(data.StructLayout({
                "kept_count": w.count_width, "prob_sum": cfg.attention_widths.prob_sum_width,
                "v_reads": w.count_width, "head": w.head_width}))),
            "n_values": Out(w.count_width),
            "preparing": Out(1),  # vmean: the means of a new V set are being computed
        }
        if cfg.row.monitor:
            members["v_word_reads"] = Out(cfg.row.cycle_counter_bits)
        super().__init__(members)

    def _product(self, prob, v):
        """p · v: a multiplier (linear) or a shift by log2 p (log2 format; p is 2^k or 0)."""
        a = self.cfg.attention
        if a.prob_format == "linear":
            return prob * v
        out = 0
        for k in range(a.prob_bits):
            out = Mux(prob[k], v.as_signed() << k, out)
        return out

    def elaborate(self, platform):
        m = Module()
        cfg, sc = self.cfg, self.cfg.score
        beats, lanes = sc.beats, sc.lanes
        m.submodules.v_store = vs = VectorStore(
            sc, parts=("full",), capacity=sc.max_keys,
            counter_bits=cfg.row.cycle_counter_bits if cfg.row.monitor else None)
        wiring.connect(m, wiring.flipped(self.values), vs.load)
        m.d.comb += self.n_values.eq(vs.n_keys)
        if cfg.row.monitor:
            m.d.comb += self.v_word_reads.eq(vs.full_reads)

        m.submodules.v_port = vp = self.v_port(vs.addr_width, vs.full.data.shape())
        wiring.connect(m, vp.ram, vs.full)
        req, resp = vp.port.req, vp.port.resp

        cur = Signal()
        cur_index = Signal.like(self.probs.payload.index, reset_less=True)
        cur_prob = Signal.like(self.probs.payload.prob, reset_less=True)
        beat = Signal(range(max(2, beats)))
        # (beat, p) of every request whose word has not come back, in request order
        m.submodules.pending = pending = SyncFIFO(width=len(beat) + len(cur_prob), depth=self.reads_in_flight)
        # The word back is registered (add): payload flops without reset, loaded only with a word.
        add = Signal(name="add")  # a word back to add this cycle
        add_beat, add_prob = Signal.like(beat, reset_less=True), Signal.like(cur_prob)
        v_word = Signal.like(resp.payload, reset_less=True)  # off the store's clock-to-output path
        v_rows = Signal(sc.widths.count_width)
        issue = Signal()  # a V word request goes out this cycle
        last_issue = issue & (beat == beats - 1)
        accumulating = Signal()  # the accumulators belong to the row coming in (and vmean is ready)
        accumulating_state = Signal()  # set by _output
        word_done = Signal()  # the held word's last product is added this cycle (or no word is held)
        m.d.comb += [req.valid.eq(cur & pending.w_rdy), req.payload.eq(cur_index * beats + beat),
                     issue.eq(req.valid & req.ready),
                     pending.w_en.eq(issue), pending.w_data.eq(Cat(beat, cur_prob)),
                     resp.ready.eq(word_done), pending.r_en.eq(resp.valid & resp.ready),
                     # not in the cycle the row's summary is taken: the next row's words wait for its output
                     self.probs.ready.eq(accumulating & (~cur | last_issue) & ~self.rows.ready)]
        with m.If(resp.ready):
            m.d.sync += add.eq(resp.valid)
        with m.If(resp.valid & resp.ready):
            m.d.sync += [add_beat.eq(pending.r_data[:len(beat)]), add_prob.eq(pending.r_data[len(beat):]),
                         v_word.eq(resp.payload)]
        with m.If(issue):
            m.d.sync += beat.eq(Mux(last_issue, 0, beat + 1))
            with m.If(last_issue):
                m.d.sync += cur.eq(0)
        with m.If(self.probs.valid & self.probs.ready & (self.probs.payload.prob != 0)):
            m.d.sync += [cur.eq(1), cur_index.eq(self.probs.payload.index), cur_prob.eq(self.probs.payload.prob),
                         beat.eq(0), v_rows.eq(v_rows + 1)]
        if self.ratio == 1:
            m.d.comb += word_done.eq(1)
            reader = self._beat_accumulators(m, add, add_beat, [self._product(add_prob, v_word[i])
                                                                for i in range(lanes)])
        else:
            reader = self._ring_accumulators(m, add, add_beat, add_prob, v_word, word_done)
        vmean, vmean_ready = self._vmean(m, vs) if cfg.attention.vmean else (None, 1)
        m.d.comb += [accumulating.eq(accumulating_state & vmean_ready), self.preparing.eq(~vmean_ready)]
        self._output(m, reader, cur | pending.r_rdy | add, v_rows, accumulating_state, vmean_ready, vmean)
        return m

    def _beat_accumulators(self, m, add, add_beat, products):
        """pv_lanes = lanes: `beats` × `lanes` accumulators, the beat of each word adding its `lanes`
        products in one cycle. Returns the output reader (_Reader)."""
        beats, lanes, width = self.cfg.score.beats, self.cfg.score.lanes, self.cfg.attention_widths.out_width
        # The accumulators have no reset and load only when a product of their beat comes (`acc_load`,
        # their clock-gate enables); `fresh` (control, reset) marks the beats no product has reached
        # since the last row: their next product loads instead of adding, and they read as 0.
        acc = [[Signal(signed(width), name=f"acc_{b}_{i}", reset_less=True) for i in range(lanes)]
               for b in range(beats)]
        acc_load = [Signal(name=f"acc_load_{b}") for b in range(beats)]
        fresh = Signal(beats, init=(1 << beats) - 1)
        for b in range(beats):
            m.d.comb += acc_load[b].eq(add & (add_beat == b))
            with m.If(acc_load[b]):
                m.d.sync += [a.eq(Mux(fresh[b], 0, a) + products[i]) for i, a in enumerate(acc[b])]
                m.d.sync += fresh[b].eq(0)
        totals = [[Mux(fresh[b], 0, a) for a in row] for b, row in enumerate(acc)]
        return _Reader(totals=totals, turn=None, clear=fresh.eq(fresh.init))

    def _ring_accumulators(self, m, add, add_beat, add_prob, v_word, word_done):
        """pv_lanes P < lanes: a ring of beats · lanes / P groups of P accumulators. A held V word gives one
        group of P products a cycle (lanes / P cycles, `word_done` on the last); each adds into the ring's
        head group, which moves to the tail as the ring turns by one group: a key's words come in order, so
        after its beats · lanes / P products every group is back in place. P multipliers and P adders in
        all. Returns the output reader (_Reader)."""
        sc, width, p, r = self.cfg.score, self.cfg.attention_widths.out_width, self.pv_lanes, self.ratio
        groups = sc.beats * r
        ring = [[Signal(signed(width), name=f"acc_{g}_{i}", reset_less=True) for i in range(p)]
                for g in range(groups)]
        turn, step = Signal(), Signal(range(r))  # the ring turns by one group; the product group of the word
        # No product has reached the ring since the last row (until a key's last group is added): the head
        # reads as 0, and so does the output of a row without one.
        fresh = Signal(init=1)
        operands = [Signal(signed(sc.bits), name=f"v_lane_{i}") for i in range(p)]  # the word's group `step`
        with m.Switch(step):
            for s in range(r):
                with m.Case(s):
                    m.d.comb += [o.eq(v_word[s * p + i]) for i, o in enumerate(operands)]
        sums = [Mux(fresh, 0, a) + self._product(add_prob, o) for a, o in zip(ring[0], operands, strict=True)]
        m.d.comb += word_done.eq(~add | (step == r - 1))
        with m.If(add):
            m.d.sync += step.eq(Mux(step == r - 1, 0, step + 1))
            with m.If((step == r - 1) & (add_beat == sc.beats - 1)):
                m.d.sync += fresh.eq(0)
        with m.If(add | turn):
            for g in range(groups - 1):
                m.d.sync += [a.eq(b) for a, b in zip(ring[g], ring[g + 1], strict=True)]
            m.d.sync += [a.eq(Mux(add, s, b)) for a, s, b in zip(ring[-1], sums, ring[0], strict=True)]
        flat = [a for group in ring[:r] for a in group]  # the head beat: groups 0 .. r − 1
        totals = [Mux(fresh, 0, a) for a in flat]
        return _Reader(totals=[totals] * sc.beats, turn=turn, clear=fresh.eq(1))

    def _vmean(self, m, vs):
        """Column sums while V loads; then vmean_i = floor(sum_i / N), one element at a time.
        Returns (vmean registers [beats][lanes], ready)."""
        sc = self.cfg.score
        beats, lanes, bits = sc.beats, sc.lanes, sc.bits
        sum_bits = bits + sc.widths.count_width + 1
        sums = [[Signal(signed(sum_bits), name=f"vsum_{b}_{i}") for i in range(lanes)] for b in range(beats)]
        vmean = [[Signal(signed(bits), name=f"vmean_{b}_{i}") for i in range(lanes)] for b in range(beats)]
        load_beat = Signal(range(max(2, beats)))
        first_key = Signal(init=1)  # the beats of a load's first key start the column sums afresh
        take = self.values.valid & self.values.ready
        data_in = self.values.payload.data
        with m.If(take):
            m.d.sync += load_beat.eq(Mux(load_beat == beats - 1, 0, load_beat + 1))
            with m.Switch(load_beat):
                for b in range(beats):
                    with m.Case(b):
                        for i in range(lanes):
                            value = data_in[i] if b * lanes + i < sc.dim else 0
                            m.d.sync += sums[b][i].eq(Mux(first_key, value, sums[b][i] + value))
            with m.If(load_beat == beats - 1):
                m.d.sync += first_key.eq(0)
            with m.If(self.values.payload.last):
                m.d.sync += [load_beat.eq(0), first_key.eq(1)]
        m.submodules.vmean_divider = div = SerialDivider(num_bits=sum_bits, den_bits=sc.widths.count_width,
                                                         quot_bits=bits)
        element = Signal(range(beats * lanes + 1))
        ready = Signal(init=1)
        flat_sums = [sums[e // lanes][e % lanes] for e in range(beats * lanes)]
        current = Signal(signed(sum_bits))
        with m.Switch(element):
            for e, value in enumerate(flat_sums):
                with m.Case(e):
                    m.d.comb += current.eq(value)
        negative = current < 0
        magnitude = Mux(negative, -current, current)
        n = vs.n_keys
        m.d.comb += [div.i.valid.eq(~ready & (element < beats * lanes)),
                     div.i.payload.num.eq(magnitude + Mux(negative, n - 1, 0)),  # floor toward −∞
                     div.i.payload.den.eq(n), div.o.ready.eq(1)]
        with m.If(take & self.values.payload.last):
            m.d.sync += [ready.eq(0), element.eq(0)]
        with m.If(div.o.valid):
            q = div.o.payload.quot
            with m.Switch(element):
                for e in range(beats * lanes):
                    with m.Case(e):
                        m.d.sync += vmean[e // lanes][e % lanes].eq(Mux(negative, -q, q))
            m.d.sync += element.eq(element + 1)
            with m.If(element == beats * lanes - 1):
                m.d.sync += ready.eq(1)
        return vmean, ready

    def _output(self, m, reader, in_flight, v_rows, accumulating, vmean_ready, vmean):
        """After the row's summary, with nothing in flight: `beats` out beats (+ w · vmean), then `done`.
        With the ring (`reader.turn`), the head beat is out; the ring then turns lanes / P groups to the next
        beat, and after the last beat on to where it started."""
        beats, lanes, r = self.cfg.score.beats, self.cfg.score.lanes, self.ratio
        out_beat = Signal(range(max(2, beats)))
        phase = Signal(range(max(2, r)))  # ring: groups turned since the beat on the output
        weight = Signal(self.cfg.attention.prob_bits + 1)  # w = (2^B − 1) − Σ p_j
        with m.FSM():
            with m.State("ACCUMULATE"):
                m.d.comb += accumulating.eq(1)
                with m.If(self.rows.valid & ~in_flight & vmean_ready):
                    m.d.comb += self.rows.ready.eq(1)
                    m.d.sync += [self.done.payload.kept_count.eq(self.rows.payload.kept_count),
                                 self.done.payload.prob_sum.eq(self.rows.payload.prob_sum),
                                 self.done.payload.head.eq(self.rows.payload.head),
                                 self.done.payload.v_reads.eq(v_rows), out_beat.eq(0),
                                 weight.eq(((1 << self.cfg.attention.prob_bits) - 1) - self.rows.payload.prob_sum)]
                    m.next = "OUT"
            with m.State("OUT"):
                m.d.comb += self.out.valid.eq(1 if reader.turn is None else phase == 0)
                with m.Switch(out_beat):
                    for b in range(beats):
                        with m.Case(b):
                            m.d.comb += [self.out.payload.data[i].eq(
                                reader.totals[b][i] + (weight * vmean[b][i] if vmean else 0)) for i in range(lanes)]
                if reader.turn is None:
                    with m.If(self.out.ready):
                        m.d.sync += out_beat.eq(out_beat + 1)
                        with m.If(out_beat == beats - 1):
                            m.next = "DONE"
                else:
                    with m.If((phase != 0) | self.out.ready):
                        m.d.comb += reader.turn.eq(1)
                        m.d.sync += phase.eq(Mux(phase == r - 1, 0, phase + 1))
                        with m.If(phase == r - 1):
                            m.d.sync += out_beat.eq(out_beat + 1)
                            with m.If(out_beat == beats - 1):
                                m.next = "DONE"
            with m.State("DONE"):
                m.d.comb += self.done.valid.eq(1)
                with m.If(self.done.ready):
                    m.d.sync += [v_rows.eq(0), reader.clear]
                    m.next = "ACCUMULATE"


class _Reader(typing.NamedTuple):
    """What `_output` reads of an accumulator organisation: `totals` [beats][lanes] (the values of each out
    beat), `turn` (the ring's turn enable, None without a ring) and `clear` (the statement that resets it
    for the next row)."""

    totals: list
    turn: object
    clear: object
