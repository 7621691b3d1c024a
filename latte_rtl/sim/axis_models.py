"""cocotbext-axi models behind the stream-model interface of sim/bfm.py, so that the scoreboards
of the native regression drive and check a top generated with `--interface axis` unchanged:
`AxiStreamSource` per `s_axis_<name>`, `AxiStreamSink` per `m_axis_<name>`, `AxiLiteMaster` for
the per-head registers. Beats keep the native field names (the AXI `tdata` layouts do)."""

from __future__ import annotations

import random
from collections import deque

from cocotb.triggers import RisingEdge
from cocotbext.axi import AxiLiteBus, AxiLiteMaster, AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from latte_rtl.hw.layouts import ConfigReg
from latte_rtl.tops.axis import register_map

from .bfm import ObservationMonitor, PortReader, random_pauses
from .ports import PortFields


def _fields(ports: dict, name: str) -> PortFields | None:
    port = ports.get(name)
    return PortFields(port["fields"]) if port and "fields" in port else None


def _handshake(dut, prefix: str) -> tuple[bool, bool]:
    return bool(int(getattr(dut, f"{prefix}_tvalid").value)), bool(int(getattr(dut, f"{prefix}_tready").value))


class AxisSourceModel:
    """`send(beats)` of native beat dicts through an AxiStreamSource: `data` → tdata, `last` →
    tlast (a frame ends there), the other fields → tuser. `accepted_at`: cycle of each transfer."""

    def __init__(self, dut, name: str, ports: dict):
        self.dut, self.prefix = dut, f"s_axis_{name}"
        self.tdata, self.tuser = _fields(ports, f"{self.prefix}_tdata"), _fields(ports, f"{self.prefix}_tuser")
        self.width = ports[f"{self.prefix}_tdata"]["width"] // 8
        self.axis = AxiStreamSource(AxiStreamBus.from_prefix(dut, self.prefix), dut.clk, dut.rst)
        self.has_last = f"{self.prefix}_tlast" in ports
        self.accepted_at: list[int] = []

    def set_pause_generator(self, generator) -> None:
        self.axis.set_pause_generator(generator)

    def _frame(self, beats: list[dict]) -> AxiStreamFrame:
        data, user = b"", []
        for beat in beats:
            if not isinstance(beat, dict):  # a plain payload (start)
                beat = {"data": beat}
            value = beat["data"] if self.tdata is None else self.tdata.pack({"": beat["data"]})
            data += (int(value) & ((1 << 8 * self.width) - 1)).to_bytes(self.width, "little")
            rest = {k: v for k, v in beat.items() if k not in ("data", "last")}
            user += [self.tuser.pack(rest) if self.tuser else 0] * self.width
        return AxiStreamFrame(data, tuser=user if self.tuser else None)

    async def send(self, beats) -> None:
        frame: list[dict] = []
        for beat in beats:
            frame.append(beat)
            if self.has_last and beat.get("last"):
                await self.axis.send(self._frame(frame))
                frame = []
        if frame:
            await self.axis.send(self._frame(frame))
        await self.axis.wait()

    def sample(self, cycle: int) -> None:
        if all(_handshake(self.dut, self.prefix)):
            self.accepted_at.append(cycle)

    def drive(self) -> None:
        pass


class AxisSinkModel:
    """An AxiStreamSink whose beats come back as (native field dict, cycle its tvalid rose), in
    `queue` and from `recv()`, as sim.bfm.StreamSink's do."""

    def __init__(self, dut, name: str, ports: dict):
        self.dut, self.prefix = dut, f"m_axis_{name}"
        self.tdata = _fields(ports, f"{self.prefix}_tdata")
        self.width = ports[f"{self.prefix}_tdata"]["width"] // 8
        self.axis = AxiStreamSink(AxiStreamBus.from_prefix(dut, self.prefix), dut.clk, dut.rst)
        self._valid_since, self._times, self._beats = None, deque(), deque()

    def set_pause_generator(self, generator) -> None:
        self.axis.set_pause_generator(generator)

    @property
    def queue(self) -> deque:
        while not self.axis.empty():
            frame = self.axis.recv_nowait()
            for at in range(0, len(frame.tdata), self.width):
                word = int.from_bytes(bytes(frame.tdata[at:at + self.width]), "little")
                self._beats.append((self.tdata.unpack(word), self._times.popleft()))
        return self._beats

    async def recv(self) -> tuple[dict, int]:
        while not self.queue:
            await RisingEdge(self.dut.clk)
        await RisingEdge(self.dut.clk)  # every sink has taken the beats of the edge this one came on
        return self.queue.popleft()

    def sample(self, cycle: int) -> None:
        valid, ready = _handshake(self.dut, self.prefix)
        if valid and self._valid_since is None:
            self._valid_since = cycle
        if valid and ready:
            self._times.append(self._valid_since)
        if not valid or ready:
            self._valid_since = None

    def drive(self) -> None:
        pass


class AxiLiteRegisters:
    """`send(writes)` of native register writes ({head, value} or {reg, head, value}) as AXI4-Lite
    word writes at REGISTER_MAP[block] + 4·head; `read_status(name)` reads a status word."""

    def __init__(self, dut, name: str, decode: bool = False):
        self.block = None if name == "config" else "THRESHOLD"
        self.decode, self.map = decode, register_map(decode)
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)

    def _block(self, reg) -> str:
        if self.decode:
            from latte_rtl.tops.decode import DecodeReg

            return DecodeReg(reg).name
        return ConfigReg(reg).name

    async def send(self, writes) -> None:
        for w in writes:
            block = self.block or self._block(w["reg"])
            await self.axil.write_dword(self.map[block] + 4 * w["head"], int(w["value"]) & 0xFFFF_FFFF)

    async def read_status(self, name: str) -> int:
        return await self.axil.read_dword(self.map[name])

    def sample(self, cycle: int) -> None:
        pass

    def drive(self) -> None:
        pass


def bind_axis_models(tb, manifest: dict, top: str, rng: random.Random, valid_prob: float, ready_prob: float) -> dict:
    """{native interface name: model} for an AXI top: the stream models under the names the
    scoreboards use (`keys`, `query`, `scores`, ...), the register block under `thresholds` or
    `config`, the monitor ports as in the native testbench."""
    ports = {p["name"]: p for p in manifest["tops"][top]["ports"]}
    models = {}
    for name in ports:
        kind, _, rest = name.partition("_axis_")
        if rest.endswith("_tvalid"):
            stream = rest[:-len("_tvalid")]
            model = (AxisSourceModel if kind == "s" else AxisSinkModel)(tb.dut, stream, ports)
            model.set_pause_generator(random_pauses(random.Random(rng.random()), valid_prob if kind == "s"
                                                    else ready_prob))
            models[stream] = tb.add(model)
    if "s_axil_awaddr" in ports:
        decode = "s_axis_start_tvalid" in ports  # decode tops: the layout and T, M, C per query row
        registers = "config" if "n_values" in ports or decode else "thresholds"  # attention tops: T, M_h, C_h
        models[registers] = tb.add(AxiLiteRegisters(tb.dut, registers, decode))
    from .ports import payload_fields

    fields = payload_fields(manifest, top)
    for name in fields:
        if name == "monitor__reads":
            models[name] = tb.add(PortReader(tb.dut, name, fields[name]))
        elif name.startswith("monitor__"):
            models[name] = tb.add(ObservationMonitor(tb.dut, name, fields[name]))
    return models
