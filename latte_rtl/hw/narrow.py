"""Lane narrowing: one beat of `lanes` operand pairs offered to a narrower array over several cycles."""

from amaranth import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..config import ScoreConfig
from . import layouts


class LaneSplitter(wiring.Component):
    """`i`: a token with `lanes` operand pairs; `o`: the same token with `out_lanes` pairs, offered
    lanes / out_lanes times (lanes s·out_lanes … on step s). `first` holds only on step 0 and `last`
    only on the final step, so an accumulator sees one beat. `i` is taken with the final step; the
    steps are picked by a mux from `i`'s register (no register of its own)."""

    def __init__(self, cfg: ScoreConfig, *, token_layout, operand_width: int, out_lanes: int):
        if not isinstance(out_lanes, int) or out_lanes < 1 or cfg.lanes % out_lanes:
            self._MustUse__silence = True  # refused: never elaborated, no "unused" warning
            raise ValueError(f"out_lanes must be a divisor of lanes = {cfg.lanes}, not {out_lanes!r}")
        self.steps, self.out_lanes = cfg.lanes // out_lanes, out_lanes
        super().__init__({
            "i": In(stream.Signature(layouts.operands(cfg, token_layout, operand_width))),
            "o": Out(stream.Signature(layouts.operands(cfg, token_layout, operand_width, out_lanes))),
        })

    def elaborate(self, platform):
        m = Module()
        steps, c = self.steps, self.out_lanes
        step = Signal(range(max(2, steps)))
        final = Signal()
        tok_in, tok_out = self.i.payload.token, self.o.payload.token
        m.d.comb += [
            final.eq(step == steps - 1),
            self.o.valid.eq(self.i.valid),
            self.i.ready.eq(self.o.ready & final),
            tok_out.eq(tok_in),
            tok_out.first.eq(tok_in.first & (step == 0)),
            tok_out.last.eq(tok_in.last & final),
        ]
        for s in range(steps):
            with m.If(step == s):
                for lane in range(c):
                    m.d.comb += [self.o.payload.a[lane].eq(self.i.payload.a[s * c + lane]),
                                 self.o.payload.b[lane].eq(self.i.payload.b[s * c + lane])]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += step.eq(Mux(final, 0, step + 1))
        return m
