"""Row control shared by every top: key loads between rows, query intake, the row handshake
with the datapath, the cycle counter and the end-of-row record."""

from amaranth import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..config import LatteConfig
from ..hw import layouts


def saturating_next(counter: Signal):
    """counter + 1, held at its maximum (a cycle counter that saturates)."""
    return Mux(counter == (1 << len(counter)) - 1, counter, counter + 1)


class RowControl(wiring.Component):
    """Sequences rows around a datapath.

    * `keys` pass to `key_load` only between rows; a row starts only with a complete key set.
    * `query` beats go to `q_load` (`last` on beat `beats`−1); the head and the row's key count
      min(N, key_limit) (and with `row_thresholds` its threshold) are latched on the first beat. Then
      `start` offers them to the datapath.
    * When the datapath offers `done` (its row summary), the end-of-row record goes out on
      `rows` with `cycles`: clock cycles from the first accepted q beat to the cycle the
      record becomes valid (saturating).
    * `overlap` (relative mode with a completion array; LATTE's shared array): the row moves to a pending
      slot when the datapath's front end is free (`front_done` while `front_take`), and the next row's q
      is taken while it completes; its `done` then produces its record. At most two rows are in flight.
    """

    def __init__(self, cfg: LatteConfig, *, overlap: bool = False):
        self.cfg, self.overlap = cfg, overlap
        score = cfg.score
        ports = {
            "keys": In(stream.Signature(layouts.key_beat(score))),
            "key_load": Out(stream.Signature(layouts.key_beat(score))),
            "n_keys": In(score.widths.count_width),
            "query": In(stream.Signature(layouts.query_beat(score))),
            "q_load": Out(stream.Signature(layouts.key_beat(score))),
            "start": Out(stream.Signature(layouts.row_job(score))),
            "done": In(stream.Signature(layouts.row_summary(score))),
            "rows": Out(stream.Signature(layouts.row_record(cfg))),
            "busy": Out(1),
        }
        if overlap:
            ports.update({"front_done": In(1), "front_take": Out(1)})
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        beats, counter_bits = self.cfg.score.beats, self.cfg.row.cycle_counter_bits
        idle, loading = Signal(), Signal()  # loading: a key set is part-way in
        cycles = Signal(counter_bits)
        cycles_next = saturating_next(cycles)
        q_beat = Signal(range(max(2, beats)))

        keys_open = idle
        if self.overlap:
            self._pending = Signal()
            keys_open = idle & ~self._pending  # no row in flight
        m.d.comb += [  # keys pass through between rows
            self.key_load.valid.eq(self.keys.valid & keys_open),
            self.key_load.payload.eq(self.keys.payload),
            self.keys.ready.eq(self.key_load.ready & keys_open),
        ]
        with m.If(self.key_load.valid & self.key_load.ready):
            m.d.sync += loading.eq(~self.keys.payload.last)

        q_open = Signal()
        m.d.comb += [
            self.q_load.valid.eq(self.query.valid & q_open),
            self.q_load.payload.data.eq(self.query.payload.data),
            self.q_load.payload.last.eq(q_beat == beats - 1),
            self.query.ready.eq(self.q_load.ready & q_open),
        ]
        q_take = self.query.valid & self.query.ready
        with m.If(self.rows.valid & self.rows.ready):
            m.d.sync += self.rows.valid.eq(0)
        if self.overlap:
            self._pending_row(m, counter_bits)

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += [idle.eq(1), q_open.eq(~loading & ~self.keys.valid)]
                with m.If(q_take):
                    limit = self.query.payload.key_limit
                    m.d.sync += [self.start.payload.head.eq(self.query.payload.head),
                                 self.start.payload.n_keys.eq(Mux(limit < self.n_keys, limit, self.n_keys)),
                                 cycles.eq(1),
                                 q_beat.eq(1 if beats > 1 else 0)]
                    if self.cfg.score.row_thresholds:
                        m.d.sync += self.start.payload.threshold.eq(self.query.payload.threshold)
                    m.next = "LOAD_Q" if beats > 1 else "START"
            with m.State("LOAD_Q"):
                m.d.comb += q_open.eq(1)
                with m.If(q_take):
                    m.d.sync += q_beat.eq(Mux(q_beat == beats - 1, 0, q_beat + 1))
                    with m.If(q_beat == beats - 1):
                        m.next = "START"
            with m.State("START"):
                m.d.comb += self.start.valid.eq(1)
                with m.If(self.start.ready):
                    m.next = "RUN"
            with m.State("RUN"):
                if self.overlap:
                    self._hand_over(m, cycles_next)
                else:
                    m.d.comb += self.done.ready.eq(~self.rows.valid | self.rows.ready)
                    with m.If(self.done.valid & self.done.ready):
                        m.d.sync += [self.rows.valid.eq(1), self.rows.payload.summary.eq(self.done.payload),
                                     self.rows.payload.head.eq(self.start.payload.head),
                                     self.rows.payload.cycles.eq(cycles_next)]
                        m.next = "IDLE"
        m.d.comb += self.busy.eq(~idle | self._pending if self.overlap else ~idle)
        with m.If(~idle):  # the pending row counts on its own counter
            m.d.sync += cycles.eq(cycles_next)
        return m

    def _pending_row(self, m, counter_bits):
        """The row whose front end is over: its head and cycle count, its record on `done`."""
        pending = self._pending
        self._pending_head = Signal.like(self.start.payload.head, reset_less=True)  # loads at the hand-over only
        self._pending_cycles = cycles = Signal(counter_bits)
        cycles_next = saturating_next(cycles)
        m.d.comb += self.done.ready.eq(pending & (~self.rows.valid | self.rows.ready))
        with m.If(pending):
            m.d.sync += cycles.eq(cycles_next)
        with m.If(self.done.valid & self.done.ready):
            m.d.sync += [pending.eq(0), self.rows.valid.eq(1), self.rows.payload.summary.eq(self.done.payload),
                         self.rows.payload.head.eq(self._pending_head), self.rows.payload.cycles.eq(cycles_next)]

    def _hand_over(self, m, cycles_next):
        """RUN with `overlap`: once the front end is free and no row is pending, this row becomes
        the pending one and the next row's q may come."""
        m.d.comb += self.front_take.eq(~self._pending)
        with m.If(self.front_done & self.front_take):
            m.d.sync += [self._pending.eq(1), self._pending_head.eq(self.start.payload.head),
                         self._pending_cycles.eq(cycles_next)]
            m.next = "IDLE"
