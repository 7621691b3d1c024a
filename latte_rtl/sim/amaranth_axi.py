"""An AXI4 read subordinate for `amaranth.sim` testbenches (no Verilog build), next to the stream
helpers of amaranth_streams.py: the memory behind the AXI read master (hw/axi_read.py), the decode
stages and the decode tops in their block tests. Seeded random AR and R stalls, a fixed latency per
burst, and checks of the AXI rules the master must keep."""

from __future__ import annotations

MEMORY_BYTES = 1 << 16


class ReactiveMemory:
    """An AXI4 subordinate: AR accepted unless stalled; each burst's first R beat no earlier than
    `latency` cycles after its AR; R beats in order, with random gaps; counts bursts in flight.

    `rng` (random.Random) draws the contents (MEMORY_BYTES random bytes, or `load`) and the stalls:
    AR ready with probability `ar_busy`, R valid with `r_busy`. Each cycle call `drive` before
    sampling and `update` after (a burst is checked as its AR is taken: INCR, ARSIZE the bus width,
    aligned, at most `master.max_burst` beats, within one 4 KiB page)."""

    def __init__(self, rng, width_bytes, latency, ar_busy, r_busy):
        self.rng, self.bytes, self.latency = rng, width_bytes, latency
        self.ar_busy, self.r_busy = ar_busy, r_busy
        self.mem = bytes(rng.getrandbits(8) for _ in range(MEMORY_BYTES))
        self.bursts, self.beat, self.most_in_flight, self.longest = [], 0, 0, 0
        self.requests = []         # (address, beats) of every burst taken

    def load(self, address: int, image: bytes) -> None:
        """The contents: zero but `image` at byte `address`."""
        mem = bytearray(MEMORY_BYTES)
        mem[address:address + len(image)] = image
        self.mem = bytes(mem)

    def word(self, addr):
        return int.from_bytes(self.mem[addr % MEMORY_BYTES:addr % MEMORY_BYTES + self.bytes], "little")

    def drive(self, ctx, axi, cycle):
        """Set ARREADY and, for the oldest burst past its latency, the next R beat (or RVALID low)."""
        ctx.set(axi.arready, self.rng.random() < self.ar_busy)
        head = self.bursts[0] if self.bursts else None
        ok = head is not None and head[2] <= cycle and self.rng.random() < self.r_busy
        ctx.set(axi.rvalid, ok)
        if ok:
            addr, length, _ = head
            ctx.set(axi.rdata, self.word(addr + self.beat * self.bytes))
            ctx.set(axi.rlast, self.beat == length - 1)
        ctx.set(axi.rresp, 0)

    def update(self, ctx, axi, cycle, master):
        """Take this cycle's R and AR handshakes; `master.max_burst` bounds a burst's beats."""
        if ctx.get(axi.rvalid) and ctx.get(axi.rready):
            self.beat += 1
            if self.beat == self.bursts[0][1]:
                self.bursts.pop(0)
                self.beat = 0
        if ctx.get(axi.arvalid) and ctx.get(axi.arready):
            addr, length = ctx.get(axi.araddr), ctx.get(axi.arlen) + 1
            assert ctx.get(axi.arburst) == 1 and 1 << ctx.get(axi.arsize) == self.bytes
            assert addr % self.bytes == 0 and length <= master.max_burst
            assert addr % 4096 + length * self.bytes <= 4096, f"burst {addr:#x}+{length} crosses 4 KiB"
            self.bursts.append((addr, length, cycle + self.latency))
            self.requests.append((addr, length))
            self.most_in_flight = max(self.most_in_flight, len(self.bursts))
            self.longest = max(self.longest, length)
