"""Bit-exact golden model of long-context decode from external memory (docs/spec.md §9).

One decode step serves one KV head: its G query rows (grouped-query attention) share every word
fetched. Per KV head the memory holds three planes of N rows each (layout below); LATTE reads the
K MSB plane of every key, the K LSB plane of keys some row of the group keeps, and the V rows of
keys some row of the group gives p > 0; the dense twin reads the K planes and V of every key.

Memory layout (byte addresses, little-endian): plane row j starts at ``base + j * stride``;
element i of a row of w-bit fields occupies bits ``[i w, (i + 1) w)`` of the row read as one
little-endian integer (w = m for the MSB plane, two's complement; l for the LSB plane, unsigned;
``bits`` for V, two's complement). Rules: base and stride multiples of the bus width in bytes;
stride >= the plane's row bytes; no byte of one plane inside another; everything below
2^addr_width; 1 <= N <= max_keys. A row is fetched as whole bus beats: ceil(row_bytes / W) beats.

Filter: absolute thresholds decide per key as its estimate E arrives (HH, or the centred E of
`golden.estimates`; one MSB pass); relative thresholds need the row maximum first, so they take two MSB
passes (max, then decide) and read the MSB plane twice. Keys j < sink_keys and j >= N − window_keys are
kept whatever their E (`keep_mask`). Softmax: every row has a kept-score buffer of `kept_buffer`
entries; a key the threshold keeps once the buffer is full is dropped (not kept, its LSB not fetched for
that row) and counted in `overflow`; the §7 integer softmax then runs over the buffer, so a row that
does not overflow equals `golden.attention_rows` bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from .attention import pv_rows, softmax_rows
from .cycles import MEMORY_QUEUE, decode_cycles, decode_reads
from .latte import estimates, keep_mask, partial_sums, recombine

PLANES = ("k_msb", "k_lsb", "v")


def row_bytes(dim: int, field_bits: int) -> int:
    """Bytes of one plane row of `dim` fields of `field_bits` bits: ceil(dim w / 8)."""
    return -(-dim * field_bits // 8)


def row_beats(dim: int, field_bits: int, bus_bytes: int) -> int:
    """Bus beats that fetch one such row: ceil(row bytes / bus_bytes) (the RTL's and the model's one formula)."""
    return -(-row_bytes(dim, field_bits) // bus_bytes)


@dataclass(frozen=True)
class DecodeSpec:
    """The parameters decode arithmetic and traffic depend on (bits; bus_bytes in bytes); no defaults:
    `LatteConfig.decode_spec()` is the one map from a design to it."""

    bits: int
    msb_bits: int
    dim: int
    lanes: int
    threshold_mode: str
    kept_buffer: int
    bus_bytes: int
    max_keys: int
    addr_width: int
    mult_bits: int               # the M_g register (unsigned)
    softmax: dict                # golden.attention.softmax_rows's keywords (vmean aside)
    estimate: str                # what the filter compares (golden.ESTIMATES)
    sink_keys: int               # keys j < sink_keys are always kept
    window_keys: int             # keys j >= N − window_keys are always kept
    rows_in_flight: int          # plane rows the tops keep asked for (MSB rows of the score pass, V rows)
    outstanding: int             # bursts the bus master keeps in flight
    max_burst: int               # beats per burst at most (the bus master's)

    @property
    def lsb_bits(self) -> int:
        return self.bits - self.msb_bits

    @property
    def beats(self) -> int:
        """Compute beats per vector: ceil(dim / lanes)."""
        return -(-self.dim // self.lanes)

    @property
    def index_width(self) -> int:
        """Bits of a key index 0..max_keys-1 (at least 1)."""
        return max(1, (self.max_keys - 1).bit_length())

    def field_bits(self, plane: str) -> int:
        return {"k_msb": self.msb_bits, "k_lsb": self.lsb_bits, "v": self.bits}[plane]

    def row_bytes(self, plane: str) -> int:
        """Bytes of one row of `plane`: ceil(dim * field bits / 8)."""
        return row_bytes(self.dim, self.field_bits(plane))

    def row_beats(self, plane: str) -> int:
        """Bus beats that fetch one row of `plane`."""
        return row_beats(self.dim, self.field_bits(plane), self.bus_bytes)


@dataclass(frozen=True)
class Plane:
    base: int
    stride: int


def packed_layout(spec: DecodeSpec, n_keys: int, base: int = 0) -> dict[str, Plane]:
    """Planes one after the other from `base`, each row padded to whole bus beats."""
    layout, addr = {}, base
    for name in PLANES:
        stride = spec.row_beats(name) * spec.bus_bytes
        layout[name] = Plane(addr, stride)
        addr += stride * n_keys
    return layout


def check_layout(spec: DecodeSpec, layout: dict[str, Plane], n_keys: int) -> None:
    """Refuse a bad layout or key count with a UserError naming what is wrong (before any work)."""
    if not 1 <= n_keys <= spec.max_keys:
        raise UserError(f"N (keys per row) must be in 1..{spec.max_keys} (max_keys), not {n_keys!r}")
    spans = []
    for name in PLANES:
        if name not in layout:
            raise UserError(f"the layout must give plane {name!r} (base and stride)")
        p, row = layout[name], spec.row_bytes(name)
        for what, value in (("base", p.base), ("stride", p.stride)):
            if value < 0 or value % spec.bus_bytes:
                raise UserError(f"{name} {what} must be a multiple of the bus width {spec.bus_bytes} bytes, "
                                f"not {value!r}")
        if p.stride < row and n_keys > 1:
            raise UserError(f"{name} stride must be >= its row size {row} bytes, not {p.stride!r}")
        end = p.base + (n_keys - 1) * p.stride + row
        if end > 1 << spec.addr_width:
            raise UserError(f"{name} must end below 2^{spec.addr_width} (addr_width), not at {end:#x}")
        starts = p.base + p.stride * np.arange(n_keys, dtype=np.int64)
        spans.append((starts, starts + row, np.full(n_keys, PLANES.index(name))))
    starts, ends, owner = (np.concatenate(a) for a in zip(*spans))
    order = np.argsort(starts, kind="stable")
    bad = np.flatnonzero(ends[order][:-1] > starts[order][1:])
    cross = bad[owner[order][bad] != owner[order][bad + 1]]
    if cross.size:
        a, b = owner[order][cross[0]], owner[order][cross[0] + 1]
        raise UserError(f"planes {PLANES[a]} and {PLANES[b]} must not overlap, but both hold byte "
                        f"{int(starts[order][cross[0] + 1]):#x}")


def pack_rows(values, width: int, row_bytes: int) -> np.ndarray:
    """[N, d] integers -> [N, row_bytes] uint8: element i in bits [i w, (i + 1) w) (little-endian)."""
    values = np.asarray(values, dtype=np.int64) & ((1 << width) - 1)
    n, d = values.shape
    bits = ((values[:, :, None] >> np.arange(width)) & 1).astype(np.uint8).reshape(n, d * width)
    bits = np.pad(bits, ((0, 0), (0, row_bytes * 8 - d * width)))
    return np.packbits(bits.reshape(n, row_bytes, 8), axis=2, bitorder="little")[:, :, 0]


def unpack_rows(rows, width: int, dim: int, signed: bool) -> np.ndarray:
    """Inverse of `pack_rows`: [N, row_bytes] uint8 -> [N, dim] int64."""
    rows = np.asarray(rows, dtype=np.uint8)
    bits = np.unpackbits(rows, axis=1, bitorder="little")[:, :dim * width].reshape(-1, dim, width)
    values = (bits.astype(np.int64) << np.arange(width)).sum(axis=2)
    return values - ((values >> (width - 1)) << width) if signed else values


def plane_values(spec: DecodeSpec, k, v) -> dict[str, np.ndarray]:
    """The field values each plane stores: k_H (signed m bits), k_L (unsigned l bits), v."""
    k = np.asarray(k, dtype=np.int64)
    return {"k_msb": k >> spec.lsb_bits, "k_lsb": k & ((1 << spec.lsb_bits) - 1), "v": np.asarray(v, np.int64)}


def memory_image(spec: DecodeSpec, layout: dict[str, Plane], k, v) -> tuple[int, bytearray]:
    """(lowest address, bytes) of one KV head's planes; gaps are zero."""
    n = np.asarray(k).shape[0]
    check_layout(spec, layout, n)
    lo = min(layout[p].base for p in PLANES)
    hi = max(layout[p].base + (n - 1) * layout[p].stride + spec.row_bytes(p) for p in PLANES)
    image = bytearray(hi - lo)
    for name, values in plane_values(spec, k, v).items():
        rows = pack_rows(values, spec.field_bits(name), spec.row_bytes(name))
        for j in range(n):
            at = layout[name].base - lo + j * layout[name].stride
            image[at:at + rows.shape[1]] = rows[j].tobytes()
    return lo, image


def buffer_keep(kept: np.ndarray, kept_buffer: int) -> tuple[np.ndarray, np.ndarray]:
    """The overflow rule: a row's first `kept_buffer` kept keys (index order) stay kept.

    Returns (kept after the buffer [G, N], overflow [G] = keys dropped because the buffer was full).
    """
    kept = np.asarray(kept, dtype=bool)
    stays = kept & (np.cumsum(kept, axis=1) <= kept_buffer)
    return stays, kept.sum(axis=1) - stays.sum(axis=1)


ENGINES = ("latte", "dense", "dense_skip")


def decode_step(spec: DecodeSpec, q, k, v, thresholds, mult, comp=None, *, engine: str = "latte",
                bandwidth: float = 32.0, latency: int = 100, queue: int = MEMORY_QUEUE) -> dict[str, np.ndarray]:
    """One KV head's decode step: q [G, d] (its G query rows), k, v [N, d], thresholds, mult and
    comp [G] (per query row). engine latte; dense (every key kept, K and V of every key read);
    dense_skip (the dense twin reading only V rows with p > 0).

    Returns hh, estimate (E, what the filter compares), kept, scores, probs [G, N]; out [G, d]; overflow,
    kept_count [G]; lsb_rows, v_rows (keys whose LSB / V row the group needs, bool [N]: kept / p > 0 by some
    row); bytes (per plane and total, for the group) and cycles (the decode cycle model of golden/cycles.py at
    `bandwidth` bytes/cycle, `latency` and a memory taking `queue` bursts ahead).
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
    dense = engine != "latte"
    q, k, v = (np.asarray(a, dtype=np.int64) for a in (q, k, v))
    g, n = q.shape[0], k.shape[0]
    comp = np.zeros(g, np.int64) if comp is None else np.asarray(comp, np.int64)
    parts = partial_sums(q, k, spec)
    hh, exact = parts["HH"], recombine(parts, spec.lsb_bits)
    est = estimates(hh, q, k, spec)
    if dense:
        kept, overflow = np.ones((g, n), bool), np.zeros(g, np.int64)
    else:
        kept, overflow = buffer_keep(keep_mask(est, np.asarray(thresholds, np.int64), spec.threshold_mode,
                                               sink_keys=spec.sink_keys, window_keys=spec.window_keys),
                                     spec.kept_buffer)
    soft = softmax_rows(exact, kept, np.asarray(mult, np.int64), comp, **spec.softmax)
    out = pv_rows(soft["probs"], v, prob_bits=spec.softmax["prob_bits"])
    lsb_rows = np.ones(n, bool) if dense else kept.any(axis=0)
    v_rows = (soft["probs"] > 0).any(axis=0)
    passes = 2 if spec.threshold_mode == "relative" and not dense else 1
    reads = decode_reads({p: spec.row_beats(p) for p in PLANES}, spec.bus_bytes, n, int(lsb_rows.sum()),
                         n if engine == "dense" else int(v_rows.sum()), msb_passes=passes)
    cycles = decode_cycles(spec, reads, n_keys=n, lsb_rows=int(lsb_rows.sum()),
                           v_rows=n if engine == "dense" else int(v_rows.sum()), entries=int(lsb_rows.sum()),
                           group=g, bandwidth=bandwidth, latency=latency, queue=queue, msb_passes=passes, dense=dense)
    return {"hh": hh, "estimate": est, "kept": kept, "scores": np.where(kept, exact, 0), "probs": soft["probs"],
            "out": out,
            "overflow": overflow, "kept_count": kept.sum(axis=1), "lsb_rows": lsb_rows, "v_rows": v_rows,
            "bytes": reads, "cycles": cycles}
