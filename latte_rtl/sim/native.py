"""The native engine: a top's Verilator model driven by a compiled harness (sim/native_harness.cpp)
instead of cocotb, with the same protocol, stall options, result file and bit-exact check.

The top's scoreboard (sim/scoreboards.py) runs twice against stand-in models. Planning: each
send, receive, wait and port read becomes one op of a script for the harness, and the payloads
are packed into one beat file per input stream. Replay, after the harness ran: the same calls are
answered from what the harness captured (every output beat with the cycle it arrived, every
input beat's accept cycle, each read port value), so the scoreboard fills the same result arrays
and makes the same comparison with golden as under cocotb — and no Python runs per cycle.
"""

from __future__ import annotations

import enum
import json
import os
import tempfile
from collections import deque
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from latte_rtl.signals import run_child

from .native_build import HarnessPorts, build_harness, words
from .ports import PortFields, payload_fields
from .scoreboards import final_check, scoreboard_class


class Op(enum.IntEnum):
    """Op codes of the harness script (each op is the int64 triple (code, a, b))."""
    SEND = 0      # a: source index, b: beats; done when every beat was taken
    RECV = 1      # a: output index; done when that output has delivered one more beat
    WAIT = 2      # b: rising edges
    WAIT_LOW = 3  # a: probe index; done when that port reads 0
    PROBE = 4     # a: probe index; its value goes to probes.bin
    MEMORY = 5    # a: byte address, b: bytes (the next b bytes of mem.bin) into the AXI memory model


class Capture:
    """What the harness wrote into `work`: per op the cycle it completed, per input stream the
    accept cycle of each beat, per output stream (arrival cycle, valid-since cycle, payload)."""

    def __init__(self, work: Path, ports: HarnessPorts, fields: dict[str, PortFields]):
        self.done = np.fromfile(work / "done.bin", "<u8")
        self.accepted = {n: np.fromfile(work / f"acc_{n}.bin", "<u8") for n, _ in ports.sources}
        self.outputs = {}
        for name, width, _ in ports.outputs:
            raw = np.fromfile(work / f"out_{name}.bin", "<u4").reshape(-1, 4 + words(width))
            cycles = raw[:, :4].astype(np.uint64)
            self.outputs[name] = (cycles[:, 0] | cycles[:, 1] << np.uint64(32),
                                  (cycles[:, 2] | cycles[:, 3] << np.uint64(32)).tolist(),
                                  fields[name].unpack_words(raw[:, 4:]))
        self.probes = np.fromfile(work / "probes.bin", "<u4")


def _word(row: np.ndarray) -> int:
    return int.from_bytes(row.astype("<u4").tobytes(), "little")


class _Source:
    def __init__(self, tb: NativeTB, index: int, name: str, fields: PortFields | None):
        self.tb, self.index, self.name, self.fields = tb, index, name, fields
        self.queue: deque = deque()  # the harness drains every SEND: nothing is ever left here
        self.accepted_at: list[int] = []

    async def send(self, beats) -> None:
        beats = list(beats)
        first = len(self.accepted_at)
        self.tb.op(Op.SEND, self.index, len(beats))
        if self.tb.capture is None:
            if beats and self.fields is None:  # a plain payload (start): the integers as uint32 words
                width = words(dict(self.tb.ports.sources)[self.name])
                self.tb.beats[self.name].append(np.array(
                    [[(int(b) >> (32 * i)) & 0xFFFFFFFF for i in range(width)] for b in beats], "<u4"))
            elif beats:
                self.tb.beats[self.name].append(self.fields.pack_words(beats))
            self.accepted_at += [0] * len(beats)
        else:
            self.accepted_at += self.tb.capture.accepted[self.name][first:first + len(beats)].tolist()


class _Output:
    """An output stream: `queue` holds (payload dict, valid-since cycle) of sinks, payload dicts
    of observation ports, for the beats that had arrived when the scoreboard's last op completed."""

    def __init__(self, tb: NativeTB, index: int, name: str, fields: PortFields, has_ready: bool):
        self.tb, self.index, self.fields, self.has_ready = tb, index, fields, has_ready
        self.queue: deque = deque()
        self.arrived = tb.capture.outputs[name] if tb.capture is not None else None
        self.cursor = 0

    def flush(self, now: int) -> None:
        cycles, since, beats = self.arrived
        end = int(np.searchsorted(cycles, np.uint64(now), side="right"))
        if self.has_ready:
            self.queue.extend(zip(beats[self.cursor:end], since[self.cursor:end]))
        else:
            self.queue.extend(beats[self.cursor:end])
        self.cursor = end

    async def recv(self) -> tuple[dict, int]:
        self.tb.op(Op.RECV, self.index, 0)
        if self.tb.capture is None:
            return self.fields.unpack(0), 0
        return self.queue.popleft()


class _Memory:
    def __init__(self, tb: NativeTB):
        self.tb = tb

    async def write(self, address: int, image) -> None:
        self.tb.op(Op.MEMORY, address, len(image))
        if self.tb.capture is None:
            self.tb.memory.append(bytes(image))


class _Reader:
    def __init__(self, tb: NativeTB, name: str, fields: PortFields):
        self.tb, self.name, self.fields = tb, name, fields

    def read(self) -> dict:
        return self.fields.unpack(self.tb.probe(self.name))


class _Ports:
    """`tb.dut.<port>.value` for the scoreboard: a PROBE of that port."""

    def __init__(self, tb: NativeTB):
        self._tb = tb

    def __getattr__(self, name: str):
        return SimpleNamespace(value=self._tb.probe(name))


class NativeTB:
    """Stands in for sim.bfm.ClockedTB and its models. Without `capture` it plans (records ops
    and beats); with the capture of a harness run of those ops it replays them."""

    def __init__(self, ports: HarnessPorts, fields: dict[str, PortFields], capture: Capture | None = None,
                 planned: list[tuple[int, int, int]] | None = None):
        self.ports, self.capture, self.planned = ports, capture, planned
        self.ops: list[tuple[int, int, int]] = []
        self.beats: dict[str, list[np.ndarray]] = {n: [] for n, _ in ports.sources}  # [n, W] uint32 per SEND
        self.memory: list[bytes] = []  # the bytes of each MEMORY op
        self.probe_cursor = 0
        self.dut = _Ports(self)
        self.models: dict = {n: _Source(self, i, n, fields.get(n)) for i, (n, _) in enumerate(ports.sources)}
        self.outputs = [_Output(self, i, n, fields[n], ready) for i, (n, _, ready) in enumerate(ports.outputs)]
        self.models.update({o_name: o for o, (o_name, _, _) in zip(self.outputs, ports.outputs)})
        self.models.update({n: _Reader(self, n, f) for n, f in fields.items() if n not in self.models})

    def op(self, code: Op, a: int, b: int) -> None:
        """Record (plan) or replay one op: replaying, move every output beat that had arrived
        by the op's completion into its queue."""
        i = len(self.ops)
        self.ops.append((int(code), a, b))
        if self.capture is None:
            return
        if self.planned[i] != self.ops[-1]:
            raise RuntimeError(f"replay diverged from the plan at op {i}: {self.ops[-1]} vs {self.planned[i]}")
        now = int(self.capture.done[i])
        for out in self.outputs:
            out.flush(now)

    def axi_memory(self, size: int) -> _Memory:
        """The harness's AXI memory model (decode tops): writes become MEMORY ops."""
        return _Memory(self)

    def probe(self, name: str) -> int:
        index = self.ports.probe_index(name)
        self.op(Op.PROBE, index, 0)
        if self.capture is None:
            return 0
        n = words(self.ports.probes[index][1])
        value = _word(self.capture.probes[self.probe_cursor:self.probe_cursor + n])
        self.probe_cursor += n
        return value

    async def wait_cycles(self, n: int) -> None:
        self.op(Op.WAIT, 0, n)

    async def wait_low(self, port: str) -> None:
        self.op(Op.WAIT_LOW, self.ports.probe_index(port), 0)

    def write(self, work: Path) -> None:
        """The script and the beat files for the harness."""
        np.array(self.ops, dtype="<i8").reshape(-1, 3).tofile(work / "ops.bin")
        (work / "mem.bin").write_bytes(b"".join(self.memory))
        for name, width in self.ports.sources:
            beats = self.beats[name] or [np.zeros((0, words(width)), "<u4")]
            np.concatenate(beats).astype("<u4").tofile(work / f"in_{name}.bin")


def run_sync(coro):
    """Run a scoreboard coroutine whose awaits never suspend (the native stand-ins)."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise RuntimeError("the scoreboard waited on something the native testbench does not provide")


def stall_limit(cfg) -> int:
    """Cycles without any beat moving after which the harness reports a hang: far above the longest
    quiet stretch of a row (every key's score pass and completion, 3 softmax passes, P·V, the
    division), 1 M at least."""
    return 1_000_000 + 16 * cfg.score.beats * cfg.score.max_keys


def _harness(exe: Path, work: Path, seed: int, valid_prob: float, ready_prob: float, limit: int, top: str,
             memory: tuple | None = None, env: dict | None = None) -> dict:
    extra = [str(memory[0]), repr(float(memory[1])), *map(str, memory[2:])] if memory else []
    done = run_child([str(exe), str(work), str(seed), repr(valid_prob), repr(ready_prob), str(limit), *extra],
                     capture_output=True, text=True, env={**os.environ, **env} if env else None)
    if done.returncode:
        raise AssertionError(f"{top} on native (seed {seed}): {done.stderr.strip() or f'exit {done.returncode}'}")
    return json.loads(done.stdout)


def simulate_native(design_dir: str | Path, stimuli: list[Path], results: list[Path], *, top: str,
                    seed: int = 1, valid_prob: float = 1.0, ready_prob: float = 1.0,
                    memory: tuple = (0, None), hang_limit: int | None = None,
                    harness: tuple[Path, bool] | None = None, env: dict | None = None) -> dict:
    """As sim.runner.simulate, through the native harness: results[i] gets what the RTL produced
    for stimuli[i]. Returns {"built": compiled now, "cycles": simulated, "seconds": harness time}.
    `memory` (decode tops): the memory model's (latency in cycles, bytes per cycle; None: the bus width[, bursts
    it queues, default golden.cycles.MEMORY_QUEUE]), as the design's bus passes them (`MemoryBus.native_memory`).
    `hang_limit`: cycles with no beat moving that count as a hang (default `stall_limit(cfg)`).
    `harness`: (executable, built now) of another model of the top (a gate-level netlist, build_harness's
    `sources`), run with `env` added to its environment.

    Raises AssertionError (first mismatches) if the RTL disagrees with golden.
    """
    from latte_rtl.design import load_design
    from latte_rtl.npzio import load_qk
    from latte_rtl.tops import get_top

    design_dir = Path(design_dir).resolve()
    cfg, manifest = load_design(design_dir)
    spec = get_top(top)
    exe, built = harness or build_harness(design_dir, top, manifest)
    ports, fields = HarnessPorts.of(manifest, top), payload_fields(manifest, top)
    scoreboard = scoreboard_class(spec)
    plan = NativeTB(ports, fields)
    boards = [scoreboard(plan, plan.models, cfg, spec, load_qk(s, cfg.score)) for s in stimuli]
    for sb in boards:
        run_sync(sb.run())
    with tempfile.TemporaryDirectory(prefix="latte-native-") as work:
        plan.write(Path(work))
        limit = stall_limit(cfg) if hang_limit is None else hang_limit
        stats = _harness(exe, Path(work), seed, valid_prob, ready_prob, limit, top, cfg.bus.native_memory(cfg, memory),
                         env)
        replay = NativeTB(ports, fields, Capture(Path(work), ports, fields), plan.ops)
    mismatches = []
    for stimulus, sb, result in zip(stimuli, boards, results):
        sb.rebind(replay, replay.models)
        run_sync(sb.run())
        np.savez(result, **sb.result)
        mismatches += [f"{Path(stimulus).stem}: {e}" for e in sb.errors]
    try:
        final_check(replay.models, mismatches)
    except AssertionError as exc:
        raise AssertionError(f"{top} on native (seed {seed}): {exc}") from None
    return {"built": built, **stats}
