"""AXI-Stream / AXI4-Lite wrapper of any top (`generate --interface axis`): the native top as is,
its streams renamed and re-packed, no registers on the data paths (same cycles as native).

* Input stream X → `s_axis_X_tvalid/tready/tdata[/tlast][/tuser]`: `tdata` = the vector, one lane
  per byte-aligned slot (lane i at bits [i·S, i·S + bits), S = bits rounded up to bytes; the pad
  bits are ignored); `tlast` = the native `last` (final beat of the whole key / value set); the
  query's other fields (head, key_limit; with row_thresholds the row's threshold) in `tuser`, read on
  the row's first beat.
* Output stream X → `m_axis_X_tvalid/tready/tdata/tlast`: every field of the payload in its own
  byte-aligned slot, sign-extended where signed; `tlast` marks the final `out` beat of a row and
  is 1 on every beat of a record stream (`scores`, `rows`: a beat is a packet).
* Per-head registers (`thresholds` of the LATTE score top, `config` of the attention tops) → an
  AXI4-Lite slave `s_axil_*` (32-bit data, 12-bit address, see REGISTER_MAP): a write of word h
  of a block writes that register of head h (the value's low bits; `wstrb` is ignored: write whole
  words); reads return the status words and 0 elsewhere; responses are always OKAY.
* `n_keys`, `n_values`, `busy` and the `monitor` port stay as they are.
"""

from __future__ import annotations

from amaranth import Module, Shape, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..config import LatteConfig
from ..errors import UserError
from ..hw.layouts import ConfigReg

ADDRESS_WIDTH = 12
DATA_WIDTH = 32
# Byte addresses: per-head register blocks (word h = head h) and read-only status words.
REGISTER_MAP = {"THRESHOLD": 0x000, "SOFTMAX_MULT": 0x100, "DENOM_COMP": 0x200,
                "N_KEYS": 0x300, "BUSY": 0x304, "N_VALUES": 0x308}
STATUS = ("N_KEYS", "BUSY", "N_VALUES")
# Decode tops: block r (a DecodeReg code) at 0x100·r, word g = query row g (layout registers: word 0); BUSY.
DECODE_REGISTER_MAP = {"BASE_MSB": 0x000, "STRIDE_MSB": 0x100, "BASE_LSB": 0x200, "STRIDE_LSB": 0x300,
                       "BASE_V": 0x400, "STRIDE_V": 0x500, "N_KEYS": 0x600, "THRESHOLD": 0x700, "MULT": 0x800,
                       "COMP": 0x900, "BUSY": 0xF00}


def register_map(decode: bool) -> dict[str, int]:
    return DECODE_REGISTER_MAP if decode else REGISTER_MAP
AXIS_CORE = "core"  # the native top's instance name inside the wrapper
PROTOCOL = ("AXI-Stream: s_axis_<in>/m_axis_<out> _tvalid/_tready/_tdata/_tlast/_tuser; tdata fields byte-aligned "
            "(lane i of an input vector at bits [i*S, i*S+bits), S = bits rounded up to bytes); tlast of keys/values = "
            "final beat of the whole set; query tuser = {key_limit, head} ({threshold, key_limit, head} with "
            "row_thresholds); output tlast = 1 per record, final out beat "
            "of a row; AXI4-Lite s_axil_*: per-head registers at register_map[block] + 4*head (32-bit words, wstrb "
            "ignored), status words N_KEYS/BUSY/N_VALUES readable; same cycles as the native top")


def check_registers(cfg: LatteConfig) -> None:
    """UserError unless the design has one register port (not rounds 2) and every register value of its tops
    (its bus's `register_widths`) fits the AXI4-Lite data word."""
    if cfg.score.rounds == 2:
        raise UserError("--interface axis does not wrap rounds 2 designs (the score engine has two register ports, "
                        "thresholds and round1_thresholds): expected --interface native")
    wide = {k: w for k, w in cfg.bus.register_widths(cfg).items() if w > DATA_WIDTH}
    if wide:
        name, width = next(iter(wide.items()))
        raise UserError(f"--interface axis needs register values of at most {DATA_WIDTH} bits, not {width} "
                        f"({name}): use the native interface")


def byte_aligned(shape):
    """The layout `shape` with every scalar field widened to whole bytes (signedness kept)."""
    if isinstance(shape, data.StructLayout):
        return data.StructLayout({name: byte_aligned(f.shape) for name, f in shape})
    if isinstance(shape, data.ArrayLayout):
        return data.ArrayLayout(byte_aligned(shape.elem_shape), shape.length)
    s = Shape.cast(shape)
    return (signed if s.signed else unsigned)(-(-s.width // 8) * 8)


def _copy(dst, src, shape) -> list:
    """dst := src field by field (`shape` is src's layout); each scalar extended or truncated."""
    if isinstance(shape, data.StructLayout):
        return [s for name, _ in shape for s in _copy(dst[name], src[name], shape[name].shape)]
    if isinstance(shape, data.ArrayLayout):
        return [s for i in range(shape.length) for s in _copy(dst[i], src[i], shape.elem_shape)]
    return [_as_value(dst).eq(_as_value(src))]


def _as_value(x):
    return x.as_value() if hasattr(x, "as_value") else x


class AxisWrapper(wiring.Component):
    """`core` (a native top) behind AXI-Stream ports and an AXI4-Lite register block."""

    def __init__(self, core: wiring.Component, *, heads: int, beats: int, decode: bool = False):
        self.core, self.heads, self.beats, self.decode = core, heads, beats, decode
        self.streams_in, self.streams_out, self.plain, self.registers = {}, {}, {}, None
        members = {}
        for name, member in core.signature.members.items():
            sig = member.signature if member.is_signature else None
            if isinstance(sig, stream.Signature) and member.flow == In and name in ("thresholds", "config"):
                self.registers = name
            elif isinstance(sig, stream.Signature) and member.flow == In:
                self.streams_in[name] = sig.members["payload"].shape
                members.update(self._input_members(name, sig.members["payload"].shape))
            elif isinstance(sig, stream.Signature):
                self.streams_out[name] = sig.members["payload"].shape
                members.update({f"m_axis_{name}_tvalid": Out(1), f"m_axis_{name}_tready": In(1),
                                f"m_axis_{name}_tdata": Out(byte_aligned(sig.members["payload"].shape)),
                                f"m_axis_{name}_tlast": Out(1)})
            else:
                self.plain[name] = member
                members[name] = member
        if self.registers:
            members.update(self._lite_members())
        super().__init__(members)

    @staticmethod
    def _input_members(name: str, layout) -> dict:
        if not isinstance(layout, data.StructLayout):  # a plain payload (a decode top's start): tdata as is
            return {f"s_axis_{name}_tvalid": In(1), f"s_axis_{name}_tready": Out(1),
                    f"s_axis_{name}_tdata": In(byte_aligned(layout))}
        out = {f"s_axis_{name}_tvalid": In(1), f"s_axis_{name}_tready": Out(1),
               f"s_axis_{name}_tdata": In(byte_aligned(layout["data"].shape))}
        if "last" in {n for n, _ in layout}:
            out[f"s_axis_{name}_tlast"] = In(1)
        user = {n: f.shape for n, f in layout if n not in ("data", "last")}
        if user:
            out[f"s_axis_{name}_tuser"] = In(data.StructLayout(user))
        return out

    @staticmethod
    def _lite_members() -> dict:
        a = ADDRESS_WIDTH
        return {"s_axil_awaddr": In(a), "s_axil_awvalid": In(1), "s_axil_awready": Out(1),
                "s_axil_wdata": In(DATA_WIDTH), "s_axil_wstrb": In(DATA_WIDTH // 8), "s_axil_wvalid": In(1),
                "s_axil_wready": Out(1), "s_axil_bresp": Out(2), "s_axil_bvalid": Out(1), "s_axil_bready": In(1),
                "s_axil_araddr": In(a), "s_axil_arvalid": In(1), "s_axil_arready": Out(1),
                "s_axil_rdata": Out(DATA_WIDTH), "s_axil_rresp": Out(2), "s_axil_rvalid": Out(1),
                "s_axil_rready": In(1)}

    def elaborate(self, platform):
        m = Module()
        m.submodules[AXIS_CORE] = core = self.core
        for name, layout in self.streams_in.items():
            port, s = getattr(core, name), lambda role, n=name: getattr(self, f"s_axis_{n}_{role}")
            m.d.comb += [port.valid.eq(s("tvalid")), s("tready").eq(port.ready)]
            if not isinstance(layout, data.StructLayout):
                m.d.comb += _as_value(port.payload).eq(s("tdata"))
                continue
            m.d.comb += _copy(port.payload["data"], s("tdata"), byte_aligned(layout["data"].shape))
            if hasattr(self, f"s_axis_{name}_tlast"):
                m.d.comb += port.payload["last"].eq(s("tlast"))
            if hasattr(self, f"s_axis_{name}_tuser"):
                user = s("tuser")
                m.d.comb += _copy(port.payload, user, user.shape())
        for name, layout in self.streams_out.items():
            port, s = getattr(core, name), lambda role, n=name: getattr(self, f"m_axis_{n}_{role}")
            m.d.comb += [s("tvalid").eq(port.valid), port.ready.eq(s("tready"))]
            m.d.comb += _copy(s("tdata"), port.payload, layout)
            m.d.comb += s("tlast").eq(self._out_last(m, port) if name == "out" else 1)
        for name, member in self.plain.items():
            if member.is_signature:
                wiring.connect(m, getattr(core, name), wiring.flipped(getattr(self, name)))
            else:
                m.d.comb += getattr(self, name).eq(getattr(core, name))
        if self.registers:
            self._register_writes(m, getattr(core, self.registers))
            self._status_reads(m)
        return m

    def _out_last(self, m: Module, port):
        """1 on the final of a row's `beats` output beats."""
        count = Signal(max(1, (self.beats - 1).bit_length()))
        with m.If(port.valid & port.ready):
            m.d.sync += count.eq(0 if self.beats == 1 else (count + 1) % self.beats)
        return count == self.beats - 1

    def _register_writes(self, m: Module, port) -> None:
        """An address and data pair accepted together becomes one native write in that cycle
        (the native port is always ready); the response follows on the next cycle."""
        head_bits = max(1, (self.heads - 1).bit_length())
        addr, bvalid = self.s_axil_awaddr, Signal()
        both = self.s_axil_awvalid & self.s_axil_wvalid & ~bvalid
        block = addr[8:ADDRESS_WIDTH]
        head = addr[2:8]
        payload = port.payload
        fields = {n for n, _ in payload.shape()}
        # on-chip: THRESHOLD, SOFTMAX_MULT, DENOM_COMP (ROUND1_THRESHOLD is rounds 2's, not wrapped: check_registers)
        blocks = len(payload.shape()["reg"].shape) if self.decode else ConfigReg.ROUND1_THRESHOLD.value
        hit = (head < self.heads) & ((block < blocks) if "reg" in fields else (block == 0))
        m.d.comb += [self.s_axil_awready.eq(both & port.ready), self.s_axil_wready.eq(both & port.ready),
                     port.valid.eq(both & hit), _as_value(payload["head"]).eq(head[:head_bits]),
                     _as_value(payload["value"]).eq(self.s_axil_wdata), self.s_axil_bvalid.eq(bvalid),
                     self.s_axil_bresp.eq(0)]
        if "reg" in fields:
            m.d.comb += _as_value(payload["reg"]).eq(block)
        with m.If(both & port.ready):
            m.d.sync += bvalid.eq(1)
        with m.Elif(self.s_axil_bready):
            m.d.sync += bvalid.eq(0)

    def _status_reads(self, m: Module) -> None:
        rvalid, rdata = Signal(), Signal(DATA_WIDTH)
        m.d.comb += [self.s_axil_arready.eq(~rvalid), self.s_axil_rvalid.eq(rvalid), self.s_axil_rdata.eq(rdata),
                     self.s_axil_rresp.eq(0)]
        with m.If(self.s_axil_arvalid & ~rvalid):
            m.d.sync += [rvalid.eq(1), rdata.eq(0)]
            regs = register_map(self.decode)
            for name in STATUS:
                if name.lower() in self.plain and name in regs:
                    with m.If(self.s_axil_araddr == regs[name]):
                        m.d.sync += rdata.eq(getattr(self.core, name.lower()))
        with m.Elif(self.s_axil_rready):
            m.d.sync += rvalid.eq(0)
