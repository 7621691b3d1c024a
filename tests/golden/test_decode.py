"""Golden model of long-context decode (docs/spec.md §9): the memory layout and its refusals, the
kept-score buffer's overflow rule, grouped-query fetch unions, bytes and cycles on hand-computed
cases, and equality with `golden.attention_rows` (the §7 model) whenever the buffer does not overflow."""

import re

import numpy as np
import pytest

from latte_rtl.errors import UserError
from latte_rtl.golden.attention import attention_rows, dense_attention_rows
from latte_rtl.golden.decode import (
    Plane,
    buffer_keep,
    check_layout,
    decode_step,
    memory_image,
    pack_rows,
    packed_layout,
    unpack_rows,
)
from latte_rtl.golden.latte import partial_sums, recombine
from tests.decode_helpers import decode_design

SEED = 20261130
SMALL_DESIGN = decode_design(dim=6, lanes=3, axi_data_width=64, kept_buffer=64, max_keys=64)
SMALL = SMALL_DESIGN.decode_spec()


def rows(seed, g, n, d, lo=-128, hi=128):
    print(f"seed {seed}")
    rng = np.random.default_rng(seed)
    return (rng.integers(lo, hi, (g, d)), rng.integers(lo, hi, (n, d)), rng.integers(lo, hi, (n, d)))


def test_pack_hand_example():
    # k_H = [-1, 2, 7] in 4-bit fields: nibbles F, 2, 7 -> bytes 0x2F, 0x07 (little-endian fields)
    assert pack_rows([[-1, 2, 7]], 4, 2).tolist() == [[0x2F, 0x07]]
    # 8-bit V row [-2, 3] -> 0xFE, 0x03, padded to 4 bytes
    assert pack_rows([[-2, 3]], 8, 4).tolist() == [[0xFE, 0x03, 0, 0]]


@pytest.mark.parametrize("width,signed", [(3, True), (4, False), (5, True), (8, True), (12, True)])
def test_pack_round_trip(width, signed):
    rng = np.random.default_rng(SEED + width)
    lo, hi = (-(1 << (width - 1)), 1 << (width - 1)) if signed else (0, 1 << width)
    values = rng.integers(lo, hi, (17, 11))
    packed = pack_rows(values, width, -(-11 * width // 8))
    assert np.array_equal(unpack_rows(packed, width, 11, signed), values)


def test_memory_image_holds_planes_at_their_addresses():
    spec = SMALL
    _, k, v = rows(SEED, 1, 5, 6)
    layout = {"k_msb": Plane(128, 8), "k_lsb": Plane(8, 16), "v": Plane(16, 16)}  # interleaved LSB / V rows
    lo, image = memory_image(spec, layout, k, v)
    assert lo == 8
    at = np.frombuffer(bytes(image), np.uint8)
    for j in range(5):
        msb = at[120 + 8 * j: 120 + 8 * j + 3]
        lsb = at[16 * j: 16 * j + 3]
        vv = at[8 + 16 * j: 8 + 16 * j + 6]
        assert unpack_rows(msb[None], 4, 6, True).tolist() == [[x >> 4 for x in k[j]]]
        assert unpack_rows(lsb[None], 4, 6, False).tolist() == [[x & 15 for x in k[j]]]
        assert unpack_rows(vv[None], 8, 6, True).tolist() == [list(v[j])]


@pytest.mark.parametrize("layout,n,message", [
    ({"k_msb": Plane(0, 8), "k_lsb": Plane(24, 8), "v": Plane(64, 8)}, 4, "planes k_msb and k_lsb must not overlap"),
    ({"k_msb": Plane(4, 8), "k_lsb": Plane(64, 8), "v": Plane(128, 8)}, 4, "k_msb base must be a multiple of the"),
    ({"k_msb": Plane(0, 12), "k_lsb": Plane(64, 8), "v": Plane(128, 8)}, 4, "k_msb stride must be a multiple"),
    ({"k_msb": Plane(0, 8), "k_lsb": Plane(64, 8), "v": Plane(128, 0)}, 4, "v stride must be >= its row size 6"),
    ({"k_msb": Plane(0, 8), "k_lsb": Plane(64, 8), "v": Plane(128, 8)}, 65, "N (keys per row) must be in 1..64"),
    ({"k_msb": Plane(0, 8), "k_lsb": Plane(64, 8), "v": Plane(128, 8)}, 0, "N (keys per row) must be in 1..64"),
    ({"k_msb": Plane(0, 8), "k_lsb": Plane(64, 8), "v": Plane((1 << 32) - 8, 8)}, 2, "v must end below 2^32"),
    ({"k_msb": Plane(0, 8), "k_lsb": Plane(64, 8)}, 2, "the layout must give plane 'v'"),
])
def test_bad_layouts_refused(layout, n, message):
    with pytest.raises(UserError, match=re.escape(message)):
        check_layout(SMALL, layout, n)


def test_interleaved_and_packed_layouts_accepted():
    check_layout(SMALL, {"k_msb": Plane(0, 24), "k_lsb": Plane(8, 24), "v": Plane(16, 24)}, 64)
    check_layout(SMALL, packed_layout(SMALL, 64, base=4088), 64)


def test_buffer_overflow_rule():
    kept = np.array([[1, 0, 1, 1, 1, 0, 1], [0, 0, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0, 0]], bool)
    stays, overflow = buffer_keep(kept, 2)
    assert stays.astype(int).tolist() == [[1, 0, 1, 0, 0, 0, 0], [0] * 7, [1, 1, 0, 0, 0, 0, 0]]
    assert overflow.tolist() == [3, 0, 0]


def reference(spec, q, k, v, thresholds, mult, kept_limit=None):
    """The §7 golden (attention_rows) on exact scores with an independent threshold + buffer rule."""
    parts = partial_sums(q, k, spec)
    hh, exact = parts["HH"], recombine(parts, spec.lsb_bits)
    if spec.threshold_mode == "absolute":
        kept = hh >= np.asarray(thresholds)[:, None]
    else:
        kept = hh >= hh.max(axis=1, keepdims=True) - np.asarray(thresholds)[:, None]
    if kept_limit is not None:
        for g in range(kept.shape[0]):
            idx = np.flatnonzero(kept[g])
            kept[g, idx[kept_limit:]] = False
    g = q.shape[0]
    return attention_rows(exact, kept, v, np.arange(g), mult, **spec.softmax)


@pytest.mark.parametrize("case", ["random", "zero_kept", "all_kept", "ties", "extremes"])
@pytest.mark.parametrize("mode", ["absolute", "relative"])
def test_equals_attention_without_overflow(case, mode):
    spec = SMALL_DESIGN.replace(threshold_mode=mode).decode_spec()
    q, k, v = rows(SEED + len(case), 3, 40, 6)
    if case == "ties":
        k[:] = k[0]        # every key ties: all kept or none
    if case == "extremes":
        q[:], k[::2], k[1::2], v[:] = -128, -128, 127, -128
    hh = partial_sums(q, k, spec)["HH"]
    absolute = {"random": [int(np.median(h)) for h in hh], "zero_kept": [int(h.max()) + 1 for h in hh],
                "all_kept": [-spec.dim * 64] * 3, "ties": [int(h[0]) for h in hh],
                "extremes": [int(h.max()) for h in hh]}
    relative = {"random": [20, 40, 60], "all_kept": [2 * spec.dim * 64] * 3}
    thresholds = absolute[case] if mode == "absolute" else relative.get(case, [0, 0, 0])
    mult = [300, 500, 900]
    got = decode_step(spec, q, k, v, thresholds, mult)
    want = reference(spec, q, k, v, thresholds, mult)
    for name in ("kept", "probs", "out"):
        assert np.array_equal(got[name], want[name]), name
    assert got["overflow"].tolist() == [0, 0, 0]
    if case == "zero_kept" and mode == "absolute":
        assert got["kept_count"].tolist() == [0, 0, 0] and not got["out"].any()
        assert got["bytes"]["k_lsb"] == 0 and got["bytes"]["v"] == 0


def test_overflow_drops_later_keys():
    spec = SMALL_DESIGN.replace(kept_buffer=5).decode_spec()
    q, k, v = rows(SEED + 7, 2, 40, 6)
    thresholds = [-1000, -1000]                 # every key passes: 35 dropped per row
    got = decode_step(spec, q, k, v, thresholds, [400, 400])
    want = reference(spec, q, k, v, thresholds, [400, 400], kept_limit=5)
    assert np.array_equal(got["out"], want["out"]) and np.array_equal(got["probs"], want["probs"])
    assert got["overflow"].tolist() == [35, 35] and got["kept"].sum(axis=1).tolist() == [5, 5]
    assert got["lsb_rows"].sum() == 5


def test_dense_equals_dense_attention():
    q, k, v = rows(SEED + 9, 2, 30, 6)
    got = decode_step(SMALL, q, k, v, [0, 0], [200, 700], engine="dense")
    parts = partial_sums(q, k, SMALL)
    want = dense_attention_rows(recombine(parts, 4), v, np.arange(2), [200, 700], **SMALL.softmax)
    assert np.array_equal(got["out"], want["out"])


def test_bytes_and_cycles_hand_computed():
    # d = 6, 8-bit, m = 4: MSB and LSB rows 3 bytes (1 beat of 8 B), V rows 6 bytes (1 beat).
    q = np.array([[16, 0, 0, 0, 0, 0], [0, 16, 0, 0, 0, 0]])
    k = np.zeros((4, 6), np.int64)
    k[0, 0], k[1, 1], k[2, 0] = 32, 32, 48          # HH: row 0 [2, 0, 3, 0], row 1 [0, 2, 0, 0]
    v = np.ones((4, 6), np.int64)
    got = decode_step(SMALL, q, k, v, [3, 2], [1 << 20, 1 << 20], bandwidth=4, latency=10)
    assert got["kept"].astype(int).tolist() == [[0, 0, 1, 0], [0, 1, 0, 0]]
    # MSB: 4 keys x 8 B; LSB: keys 1, 2 (union of the group) x 8 B; V: keys 1, 2 (p > 0) x 8 B
    assert got["bytes"] == {"k_msb": 32, "k_lsb": 16, "v": 16, "total": 64}
    # the design: 32 rows in flight, 32 bursts outstanding, 16 beats a burst; the memory takes 16 bursts ahead.
    # a row 2 cycles on the wire (8 B at 4 B/cycle); MSB requests of 16 rows. K phase: max(48 B / 4 = 12,
    # 3 bursts · 10 / 16 → 2, credit (4 MSB rows · (10 + 8.5 · 2) + 2 kept · (10 + 2)) / 32 → 5) + 10 = 22;
    # V walk: max(16 / 4 = 4, 2 · 10 / 16 → 2, 2 · (10 + 2) / 32 → 1) + 10 = 14;
    # SUM 2 entries + 2, DIVIDE B + 3; output G + 3
    prob_bits = SMALL.softmax["prob_bits"]
    assert got["cycles"]["total"] == 22 + 14 + (2 + 2) + (prob_bits + 3) + (2 + 3)
    assert got["cycles"]["bound"] == "memory"
    dense = decode_step(SMALL, q, k, v, [3, 2], [1 << 20, 1 << 20], engine="dense", bandwidth=4, latency=10)
    assert dense["bytes"] == {"k_msb": 32, "k_lsb": 32, "v": 32, "total": 96}
    relative = decode_step(SMALL_DESIGN.replace(threshold_mode="relative").decode_spec(), q, k, v, [0, 0],
                           [1 << 20, 1 << 20])
    assert relative["bytes"]["k_msb"] == 64          # two MSB passes: the row maximum first
