"""Reusable cocotb bus-functional models of valid/ready streams, bound to a port prefix
(`<prefix>__valid`, `<prefix>__ready`, `<prefix>__payload`), in the style of cocotbext-axi:
queues, `set_pause_generator(itertools.cycle(...))`, scoreboards checked empty at the end.

The testbench's clock loop calls every model once per rising edge, in a fixed order: first
`sample(cycle)` (outputs as they were at the edge), then `drive()` (inputs for the next cycle).
"""

from __future__ import annotations

import random
from collections import deque

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import Event, RisingEdge

from .ports import PortFields


def random_pauses(rng: random.Random, busy_fraction: float):
    """Endless pause pattern: True (pause this cycle) with probability 1 − `busy_fraction`."""
    while True:
        yield busy_fraction < 1.0 and rng.random() >= busy_fraction


class _Model:
    def __init__(self, dut, prefix: str, fields: PortFields | None):
        self.dut, self.prefix, self.fields = dut, prefix, fields
        self.pause = None

    def set_pause_generator(self, generator) -> None:
        self.pause = generator

    def _paused(self) -> bool:
        return self.pause is not None and next(self.pause)

    def _port(self, role: str):
        return getattr(self.dut, f"{self.prefix}__{role}")


class StreamSource(_Model):
    """Drives beats (dicts packed with the port's fields, or ints) on an input stream."""

    def __init__(self, dut, prefix, fields=None):
        super().__init__(dut, prefix, fields)
        self.queue: deque = deque()
        self.accepted_at: list[int] = []  # cycle each beat was taken
        self._offering = False
        self._idle = Event()
        self._idle.set()
        self._port("valid").value = 0

    async def send(self, beats) -> None:
        """Queue `beats` and return once every one has been taken."""
        for beat in beats:
            self.queue.append(self.fields.pack(beat) if isinstance(beat, dict) else int(beat))
        if self.queue:
            self._idle.clear()
            await self._idle.wait()

    def sample(self, cycle: int) -> None:
        if self._offering and int(self._port("ready").value):
            self.queue.popleft()
            self.accepted_at.append(cycle)
            if not self.queue:
                self._idle.set()

    def drive(self) -> None:
        self._offering = bool(self.queue) and not self._paused()
        self._port("valid").value = int(self._offering)
        if self._offering:
            self._port("payload").value = self.queue[0]


class StreamSink(_Model):
    """Takes beats from an output stream (ready low on paused cycles); keeps (payload dict,
    cycle its valid rose) per beat in `queue`."""

    def __init__(self, dut, prefix, fields):
        super().__init__(dut, prefix, fields)
        self.queue: deque = deque()
        self._ready = False
        self._valid_since = None
        self._arrived = Event()
        self._port("ready").value = 0

    async def recv(self) -> tuple[dict, int]:
        while not self.queue:
            self._arrived.clear()
            await self._arrived.wait()
        return self.queue.popleft()

    def sample(self, cycle: int) -> None:
        if not int(self._port("valid").value):
            self._valid_since = None
            return
        if self._valid_since is None:
            self._valid_since = cycle
        if self._ready:
            self.queue.append((self.fields.unpack(int(self._port("payload").value)), self._valid_since))
            self._valid_since = None
            self._arrived.set()

    def drive(self) -> None:
        self._ready = not self._paused()
        self._port("ready").value = int(self._ready)


class ObservationMonitor(_Model):
    """Records every beat of a valid-only output (no ready), e.g. `monitor__estimate`."""

    def __init__(self, dut, prefix, fields):
        super().__init__(dut, prefix, fields)
        self.queue: deque = deque()

    def sample(self, cycle: int) -> None:
        if int(self._port("valid").value):
            self.queue.append(self.fields.unpack(int(self._port("payload").value)))

    def drive(self) -> None:
        pass


class PortReader(_Model):
    """Reads a plain structured output port (e.g. `monitor__reads` counters) on demand."""

    def read(self) -> dict:
        return self.fields.unpack(int(getattr(self.dut, self.prefix).value))

    def sample(self, cycle: int) -> None:
        pass

    def drive(self) -> None:
        pass


class ClockedTB:
    """Clock, synchronous reset, and the models of one DUT, stepped once per rising edge."""

    def __init__(self, dut, period_ns: int = 10):
        self.dut = dut
        self.cycle = 0
        self.models: list[_Model] = []
        self.out_of_reset = False  # models step only after reset (registers are X before it)
        cocotb.start_soon(Clock(dut.clk, period_ns, unit="ns").start())
        cocotb.start_soon(self._step())

    def add(self, model: _Model) -> _Model:
        self.models.append(model)
        return model

    async def _step(self):
        while True:
            await RisingEdge(self.dut.clk)
            self.cycle += 1
            if not self.out_of_reset:
                continue
            for model in self.models:
                model.sample(self.cycle)
            for model in self.models:
                model.drive()

    async def wait_cycles(self, n: int) -> None:
        for _ in range(n):
            await RisingEdge(self.dut.clk)

    async def wait_low(self, port: str) -> None:
        """Wait until the 1-bit output `port` (e.g. `busy`) is low."""
        while int(getattr(self.dut, port).value):
            await RisingEdge(self.dut.clk)

    async def reset(self, cycles: int = 3) -> None:
        """Assert `rst` (synchronous, active high) for `cycles` clock cycles."""
        self.dut.rst.value = 1
        for _ in range(cycles):
            await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)
        self.out_of_reset = True
