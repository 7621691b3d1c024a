"""The throughput and memory-traffic model of the score engines (docs/spec.md §3): the one place each
formula is written.

LATTE with the shared array (completion_lanes C = 0): phase 1 costs `beats` cycles per key; each kept
key costs three more passes (HL, LH, LL) of `beats` cycles on the same array. With a completion array
of C lanes (ratio r = lanes / C cycles per stored word) the estimate and the completion run at once:
the estimate costs `beats` cycles per key plus `beats` per kept key (the completion's LH pass reads the
single-port MSB bank first), the completion 3 · beats · r per kept key. Dense: `beats` cycles per key.
"""

from __future__ import annotations

import math

import numpy as np

# A measured LATTE score row may take up to CYCLE_SLACK × the model plus the q load (`beats`) and
# OVERHEAD_CYCLES (pipeline fill and drain of phase 1 and of the completion, the start of the scan,
# the end-of-row record; 14 since the dot product registers its products, and the dense engine its
# operands, in every top: a LATTE row of one key and one beat takes 16 cycles); the regression
# checks every row against `score_cycle_bound`.
CYCLE_SLACK = 1.15
OVERHEAD_CYCLES = 14
ROUND1_OVERHEAD_CYCLES = 8  # two rounds: a second pipeline drain and scan (rounds 2)
# Fixed hand-overs of an attention row: the stages, the read pipelines of softmax (4) and P·V (3), and
# the score datapath's product register.
ATTENTION_OVERHEAD = 20
# Overlapped rows (docs/spec.md §7): of ATTENTION_OVERHEAD, ATTENTION_BACK is after the score stage's
# record (the softmax's passes start, P·V's pipeline, the output beats, the top's record); the next
# row's first q beat is taken ATTENTION_HANDOVER cycles after the score stage's record; a LATTE score
# stage on the shared array (C = 0) takes it once the row's last completion token has read its q, 4
# cycles before its record (ATTENTION_SHARED_HANDOVER: its drain and record overlap the next row's start).
ATTENTION_BACK = 12
ATTENTION_HANDOVER = 2
ATTENTION_SHARED_HANDOVER = ATTENTION_HANDOVER - 4
# An attention top whose score stage overlaps rows (relative mode, C > 0; golden.score_overlap inside):
# the score stage sees a row's first q beat ATTENTION_OVERLAP_Q cycles after the top, the top takes the
# next row's first q beat ATTENTION_OVERLAP_NEXT cycles after the score stage's hand-over, the back end
# starts ATTENTION_OVERLAP_RECORD cycles after the score stage's record (fitted on the regression: within
# 5 cycles of every measured row).
ATTENTION_OVERLAP_Q = -3
ATTENTION_OVERLAP_NEXT = 2
ATTENTION_OVERLAP_RECORD = 8

# Rows overlapped (relative mode with a completion array, docs/spec.md §3): the estimate of row r+1 runs
# while row r completes. Fixed hand-overs, measured cycle-exact in amaranth.sim: the estimate of a row ends
# OVERLAP_FRONT cycles after beats · (1 + N + kept of the row before) from its first q beat (q load,
# phase-1 pipeline, the filter's last write); the record OVERLAP_BACK cycles after the completion's last
# pass (the completion pipeline's drain, RowEnd, row control); a row's scan starts at the earliest
# OVERLAP_HANDOVER cycles after the row before's record, and the next row's first q beat is taken then.
OVERLAP_FRONT = 5
OVERLAP_BACK = 7
OVERLAP_HANDOVER = 1

# The model's formulas as text (manifest, summaries, docs), written from the constants above.
CYCLE_MODEL = {
    "latte_score_engine": f"cycles(row) <= {CYCLE_SLACK} * beats * (N + 3 * kept) + beats + {OVERHEAD_CYCLES} "
                          "(shared array, completion_lanes 0; with rounds 2 N + S + 3 * kept, S the first round's "
                          f"survivors, and {ROUND1_OVERHEAD_CYCLES} more cycles); with C completion lanes, r = "
                          "lanes / C: relative mode beats * N + 3 * beats * r * kept, absolute mode "
                          "max(beats * (N + kept), c_kept) with c_k = max(c_(k-1), beats * (j_k + k)) + 3 * beats * "
                          "r over the kept keys j_1 < ... < j_kept (about max(estimate, completion)); same slack and "
                          "overhead. Relative mode with C > 0, rows back to back (the estimate of row r+1 overlaps "
                          "the completion of row r): golden.score_overlap, interval(row) ~= max(estimate(r+1), "
                          "completion(r))",
    "dense_score_engine": "cycles(row) ~= beats * N",
    "attention_engines": "cycles(row) ~= score stage + 2 * ceil(kept / softmax_lanes) + kept + prob_bits + "
                         "beats * lanes / pv_lanes * (V rows read + 1) + "
                         f"{ATTENTION_OVERHEAD} (golden.attention_cycles) through an empty pipeline; rows back to "
                         "back: interval(row) ~= max(score stage, softmax + P.V) (golden.attention_pipeline)",
}


def score_cycles(beats: int, n_keys, kept, ratio: int = 0, mode: str = "relative", survived=0):
    """Model cycles of a LATTE row of N keys with `kept` kept (scalars or arrays). Shared array (ratio 0):
    beats · (N + 3 · kept), and with two rounds beats · (N + S + 3 · kept) (`survived` S: the first round's
    survivors, whose HH pass follows). Completion array (ratio r = lanes / C): relative mode beats · N + 3 · beats · r ·
    kept (the completion starts once the max is final); absolute mode max(beats · (N + kept), 3 · beats ·
    r · kept), kept keys spread over the row (`score_row_cycles` bounds any placement)."""
    if not ratio:
        return beats * (n_keys + survived + 3 * kept)
    if mode == "relative":
        return beats * n_keys + 3 * beats * ratio * kept
    return np.maximum(beats * (n_keys + kept), 3 * beats * ratio * kept)


def score_row_cycles(cfg, n_keys, kept, survived=None) -> np.ndarray:
    """Model cycles of each row [R] from its kept mask `kept` [R, N] (cfg: beats, completion_ratio,
    threshold_mode; `survived` [R, N]: a first round's survivors, shared array). Absolute mode with a
    completion array: the k-th kept key j_k has its HH after at most
    beats · (j_k + k) cycles (its own phase 1 and the LH reads of the k − 1 before it), the completion
    takes kept keys in order, 3 · beats · r each: c_k = max(c_(k−1), beats · (j_k + k)) + 3 · beats · r; the
    row ends at max(beats · (N + kept), c_kept)."""
    kept = np.asarray(kept, dtype=bool)
    count = kept.sum(axis=1, dtype=np.int64)
    beats, ratio = cfg.beats, getattr(cfg, "completion_ratio", 0)
    if not ratio or cfg.threshold_mode == "relative":
        survivors = 0 if survived is None else np.asarray(survived, dtype=bool).sum(axis=1, dtype=np.int64)
        return np.asarray(score_cycles(beats, np.asarray(n_keys, dtype=np.int64), count, ratio, cfg.threshold_mode,
                                       survivors))
    done = np.zeros(kept.shape[0], dtype=np.int64)
    seen = np.zeros(kept.shape[0], dtype=np.int64)
    for j in range(kept.shape[1]):
        col = kept[:, j]
        seen += col
        done = np.where(col, np.maximum(done, beats * (j + seen)) + 3 * beats * ratio, done)
    return np.maximum(beats * (np.asarray(n_keys, dtype=np.int64) + count), done)


def rows_overlap(cfg) -> bool:
    """Relative mode with a completion array: the estimate of row r+1 runs while row r completes."""
    return bool(getattr(cfg, "completion_ratio", 0)) and cfg.threshold_mode == "relative"


def score_overlap(cfg, n_keys, kept, groups) -> tuple[np.ndarray, np.ndarray]:
    """Latency and interval [R] of relative-mode rows with a completion array (cfg: beats, completion_ratio,
    widths.scan_width) when the rows of each group (index arrays, in order) come back to back; every cycle
    counted from a row's first q beat (s) to its record (D). Per row, N keys, kept mask [N]:
      front end    E = s + beats · (1 + N + kept of the row before) + OVERLAP_FRONT
                   (q load, phase 1; the completion's LH reads of the row before win the MSB bank),
      hand-over    T = max(E, D of the row before + OVERLAP_HANDOVER) (its scan starts; the next row's
                   first q beat is taken at T),
      completion   c_k = max(c_(k-1), T + j_k // scan_width) + 3 · beats · r over the kept keys j_k,
      record       D = max(c_kept, T + ceil(N / scan_width)) + OVERLAP_BACK.
    latency = D − s; interval = D − D of the row before (a group's first row: its latency)."""
    kept = np.asarray(kept, dtype=bool)
    n_keys = np.broadcast_to(np.asarray(n_keys, dtype=np.int64), kept.shape[:1])
    latency, interval = np.zeros(kept.shape[0], np.int64), np.zeros(kept.shape[0], np.int64)
    for rows in groups:
        start, before, record = 0, 0, None
        for r in rows:
            take, end = _overlap_row(cfg, kept[r, :int(n_keys[r])], start, before, record)
            latency[r] = end - start
            interval[r] = latency[r] if record is None else end - record
            start, before, record = take, int(kept[r, :int(n_keys[r])].sum()), end
    return latency, interval


def _overlap_row(cfg, kept_row, start: int, before: int, record, handover: int = OVERLAP_HANDOVER):
    """One overlapped row (score_overlap): (T, D) from its first q beat `start`, the row before's kept
    count `before` and record cycle `record` (None: the first row)."""
    beats, ratio, width, n = cfg.beats, cfg.completion_ratio, cfg.widths.scan_width, len(kept_row)
    front = start + beats * (1 + n + before) + OVERLAP_FRONT
    take = front if record is None else max(front, record + handover)
    done = take
    for j in np.flatnonzero(kept_row):
        done = max(done, take + int(j) // width) + 3 * beats * ratio
    return take, max(done, take - (-n // width)) + OVERLAP_BACK


def overlap_interval(cfg, n_keys: int, kept: int) -> float:
    """Steady-state cycles between records of equal rows (N keys, `kept` kept, spread evenly) back to
    back: the interval of the last of eight such rows through `score_overlap`."""
    mask = np.zeros((8, n_keys), dtype=bool)
    if kept:
        mask[:, np.linspace(0, n_keys - 1, kept).round().astype(int)] = True
    return float(score_overlap(cfg, n_keys, mask, [np.arange(8)])[1][-1])


def score_cycle_bound(beats: int, model_cycles, rounds: int = 1):
    """The most cycles a measured row may take: floor(CYCLE_SLACK × model) + beats + OVERHEAD_CYCLES (+
    ROUND1_OVERHEAD_CYCLES with two `rounds`)."""
    overhead = beats + OVERHEAD_CYCLES + ROUND1_OVERHEAD_CYCLES * (rounds - 1)
    if isinstance(model_cycles, (int, float)):
        return math.floor(CYCLE_SLACK * model_cycles) + overhead
    return (CYCLE_SLACK * model_cycles) // 1 + overhead


def dense_cycles(beats: int, n_keys):
    """Model cycles of a dense row: beats · N."""
    return beats * n_keys


# Two rounds (rounds 2): the share of keys that pass a 2-bit first round at recall 0.99, measured on the embedded
# lm dump's rows (HH: its own T and T1; centred: bench_rounds.py, T at keep 0.12). The throughput model's S / N.
ROUND1_PASSED = {"hh": 0.51, "centred": 0.33}


def survived_fraction(cfg, keep_ratio: float) -> float:
    """S / N the throughput model charges a design (cfg: a ScoreConfig): 0 with one round, else ROUND1_PASSED
    of its estimate (at least the keep ratio: the survivors hold every kept key)."""
    if getattr(cfg, "rounds", 1) == 1:
        return 0.0
    return max(keep_ratio, ROUND1_PASSED[cfg.estimate])


def keys_per_cycle(beats: int, keep_ratio: float, *, dense: bool = False, ratio: int = 0,
                   mode: str = "relative", cfg=None) -> float:
    """Keys a row consumes per cycle at a keep ratio k: 1 / (beats (1 + 3 k)) on the shared array (two rounds,
    `cfg` given: 1 / (beats (1 + s + 3 k)), s = survived_fraction), 1 / beats dense; with a completion array
    (ratio r = lanes / C) N / score_cycles(beats, N, k N, r, mode); relative mode with a completion array and
    `cfg` given (rows overlapped): max_keys / overlap_interval."""
    if dense:
        return 1.0 / beats
    if cfg is not None and rows_overlap(cfg):
        n = cfg.max_keys
        return n / overlap_interval(cfg, n, max(1, round(keep_ratio * n)))
    survived = 0.0 if cfg is None else survived_fraction(cfg, keep_ratio)
    return 1.0 / float(score_cycles(beats, 1.0, keep_ratio, ratio, mode, survived))


def reads_lsb_once(cfg) -> bool:
    """Whether a kept key's k_L word is read once for its HL and LL passes: at one beat a key (cfg: a
    ScoreConfig), where LL multiplies the word HL read (LH between them reads k_H)."""
    return cfg.beats == 1


def score_reads(beats: int, n_keys, kept, lsb_once: bool = False, survived=0) -> dict:
    """Key-store word reads of a LATTE row: k_H in phase 1 and in the LH pass, k_L in HL and LL (once for
    both with `lsb_once`: reads_lsb_once); with two rounds k_H once more for each of the `survived` keys."""
    return {"msb": beats * (n_keys + survived + kept), "lsb": (1 if lsb_once else 2) * beats * kept}


def dense_reads(beats: int, n_keys) -> dict:
    """Key-store word reads of a dense row: every word of every key once."""
    return {"full": beats * n_keys}


def attention_back_cycles(kept, nonzero, beats: int, prob_bits: int, pv_ratio: int = 1, softmax_lanes: int = 1):
    """Model cycles of an attention row after its score stage, less the hand-overs: the softmax's
    max and sum passes (S = `softmax_lanes` scores a cycle) and emit pass over the kept scores and its
    B-step division, P·V over the keys with p > 0 and the output beats (`pv_ratio` = lanes / pv_lanes
    cycles per V word and per output beat)."""
    passes = 2 * kept if softmax_lanes == 1 else 2 * (-(-np.asarray(kept) // softmax_lanes))
    return passes + kept + prob_bits + beats * pv_ratio * (nonzero + 1)


def attention_cycles(score_cycles, kept, nonzero, beats: int, prob_bits: int, pv_ratio: int = 1,
                     softmax_lanes: int = 1):
    """Model cycles of an attention row: the score stage, the softmax's three passes over the kept
    scores and its B-step division, P·V over the keys with p > 0 (`beats` words each) and the
    output beats, plus the hand-overs between the stages, the read pipelines of the softmax (4 stages)
    and of P·V (3), and the score datapath's product register (ATTENTION_OVERHEAD)."""
    return (score_cycles + attention_back_cycles(kept, nonzero, beats, prob_bits, pv_ratio, softmax_lanes)
            + ATTENTION_OVERHEAD)


def hands_over_early(cfg) -> bool:
    """LATTE's shared array (cfg: its ScoreConfig; dense: None): the score stage takes the next row's first q
    beat once the row's last completion token has read its q, before its record (ATTENTION_SHARED_HANDOVER)."""
    return cfg is not None and not getattr(cfg, "completion_ratio", 0)


def attention_interval(score_cycles, back_cycles, early: bool = False):
    """Steady-state cycles between row completions, rows of equal cost back to back: the slower of
    the score stage (with its hand-over; `early`: hands_over_early) and the back end
    (golden.attention_pipeline's recurrence)."""
    handover = ATTENTION_SHARED_HANDOVER if early else ATTENTION_HANDOVER
    return np.maximum(np.asarray(score_cycles) + ATTENTION_OVERHEAD - ATTENTION_BACK + handover,
                      np.asarray(back_cycles) + ATTENTION_BACK)


def attention_pipeline(score_cycles, back_cycles, groups, overlap=None,
                       early: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Latency and interval of every row when the rows of each group (index arrays, in order) run
    back to back through the overlapped stages. Per row: front = score + ATTENTION_OVERHEAD −
    ATTENTION_BACK (first q beat to the score stage's record), back = back_cycles + ATTENTION_BACK.
    The score stage's record waits for a free buffer bank (two: the row two before must be done); the
    back end takes one row at a time. The score stage takes a row ATTENTION_HANDOVER cycles after the
    last one's record or, `early` (hands_over_early), ATTENTION_SHARED_HANDOVER cycles after the last
    one's front, once the record of the one before it was taken. latency = completion − first q beat;
    interval = completion − the previous row's completion (a group's first row: its latency). One row
    alone: latency = attention_cycles.
    `overlap` (cfg, n_keys [R], kept [R, N]): the score stage overlaps rows (attention_overlap_pipeline)."""
    if overlap is not None:
        return attention_overlap_pipeline(*overlap, back_cycles, groups)
    score, back = np.asarray(score_cycles, np.int64), np.asarray(back_cycles, np.int64)
    latency, interval = np.zeros_like(score), np.zeros_like(score)
    for rows in groups:
        done = [None, None]  # completions of the two rows before
        front, records = None, [None, None]  # the last row's front; the score records of the two rows before
        for r in rows:
            if records[1] is None:
                start = 0
            elif early:
                start = max(front + ATTENTION_SHARED_HANDOVER,
                            records[0] + ATTENTION_HANDOVER if records[0] is not None else 0)
            else:
                start = records[1] + ATTENTION_HANDOVER
            front = start + score[r] + ATTENTION_OVERHEAD - ATTENTION_BACK
            record = front if done[0] is None else max(front, done[0])
            complete = max(record, done[1] if done[1] is not None else 0) + back[r] + ATTENTION_BACK
            latency[r] = complete - start
            interval[r] = latency[r] if done[1] is None else complete - done[1]
            done, records = [done[1], complete], [records[1], record]
    return latency, interval


def attention_overlap_pipeline(cfg, n_keys, kept, back_cycles, groups) -> tuple[np.ndarray, np.ndarray]:
    """attention_pipeline with an overlapped score stage (score_overlap's rows; cfg: the ScoreConfig): the
    score stage's record of a row waits for a free buffer bank (the row two before done), the back end
    starts ATTENTION_OVERLAP_RECORD cycles after it, once the row before is done."""
    kept, back = np.asarray(kept, dtype=bool), np.asarray(back_cycles, np.int64)
    n_keys = np.broadcast_to(np.asarray(n_keys, dtype=np.int64), kept.shape[:1])
    latency, interval = np.zeros(kept.shape[0], np.int64), np.zeros(kept.shape[0], np.int64)
    for rows in groups:
        start, before, record, done = 0, 0, None, [None, None]
        for r in rows:
            row = kept[r, :int(n_keys[r])]
            take, end = _overlap_row(cfg, row, start + ATTENTION_OVERLAP_Q, before, record, handover=0)
            record = end if done[0] is None else max(end, done[0] - ATTENTION_OVERLAP_RECORD)
            complete = max(record + ATTENTION_OVERLAP_RECORD, done[1] or 0) + back[r] + ATTENTION_BACK
            latency[r] = complete - start
            interval[r] = latency[r] if done[1] is None else complete - done[1]
            start, before, done = take + ATTENTION_OVERLAP_NEXT, int(row.sum()), [done[1], complete]
    return latency, interval


def decode_reads(row_beats: dict, bus_bytes: int, n_keys: int, lsb_rows: int, v_rows: int, *,
                 msb_passes: int = 1) -> dict:
    """Bytes one decode step (one KV head, its G rows) reads, per plane and in total (docs/spec.md §9):
    every row fetched is whole bus beats (`row_beats[plane]` beats of `bus_bytes` bytes); the MSB plane
    `msb_passes` times for every key, the LSB plane for `lsb_rows` keys, V for `v_rows` keys."""
    reads = {"k_msb": msb_passes * n_keys * row_beats["k_msb"] * bus_bytes,
             "k_lsb": lsb_rows * row_beats["k_lsb"] * bus_bytes,
             "v": v_rows * row_beats["v"] * bus_bytes}
    return {**reads, "total": sum(reads.values())}


MEMORY_QUEUE = 16     # bursts a memory accepts ahead by default (the native engine's AXI memory model)


def _memory_phase(nbytes: int, bursts: int, credit: float, *, bandwidth: float, latency: int,
                  slots: int, in_flight: int) -> tuple[int, str]:
    """(cycles, what bounds them) of a phase reading `nbytes` in `bursts` bursts: the most of its bytes at the
    bandwidth ("memory"), its bursts through `slots` in flight, each waiting `latency`, and `credit` row-cycles
    (rows times the cycles each holds one of `in_flight` credits; both "latency"); plus the latency of the
    last."""
    wire = math.ceil(nbytes / bandwidth)
    waits = max(math.ceil(bursts * latency / slots), math.ceil(credit / in_flight))
    return max(wire, waits) + latency, "memory" if wire >= waits else "latency"


def _bus_bound(phase: tuple[int, str], clipped: bool) -> tuple[int, str]:
    """A memory-bound phase whose bandwidth is the bus's own (one beat a cycle) is bound by the datapath."""
    return (phase[0], "compute") if clipped and phase[1] == "memory" else phase


def decode_cycles(spec, reads: dict, *, n_keys: int, lsb_rows: int, v_rows: int, entries: int, group: int,
                  bandwidth: float, latency: int, queue: int = MEMORY_QUEUE, msb_passes: int = 1,
                  dense: bool = False) -> dict:
    """Model cycles of one decode step of the decode tops (tops/decode.py) at `bandwidth` bytes/cycle and
    `latency` cycles from a burst's request to its first beat, the memory taking `queue` bursts ahead.

    `spec` (a DecodeSpec) gives the bus width, plane row beats, rows in flight R, outstanding bursts and
    the burst cap; `reads` the bytes per plane (decode_reads); `entries` the kept-score buffer's entries
    (keys some row keeps; dense N). The tops take one bus beat a cycle, so the bandwidth is at most the
    bus width. Phases, each the most of bytes / bandwidth, bursts · latency / min(outstanding, queue),
    and the row credit (rows × cycles each holds a credit) / R, plus the latency:
    K (each MSB pass): the MSB plane in requests of c = min(max_burst / beats, R) rows, each row holding a
    credit for the latency and half its request's transfer; LATTE's LSB rows one burst each, a kept key
    holding a credit until its LSB row is in; dense's LSB rows in requests paired with the MSB ones;
    SUM: entries + 2; DIVIDE: prob_bits + 3; V walk: at least one entry a cycle, scattered V rows one burst
    each, dense's walk of every V row in requests of max_burst / beats rows; the output: G + 3.
    """
    beats = {p: spec.row_beats(p) for p in ("k_msb", "k_lsb", "v")}
    clipped, bandwidth = bandwidth >= spec.bus_bytes, min(bandwidth, spec.bus_bytes)
    in_flight, slots = spec.rows_in_flight, max(1, min(spec.outstanding, queue))
    mem = {"bandwidth": bandwidth, "latency": latency, "slots": slots, "in_flight": in_flight}
    k_beats = max(beats["k_msb"], beats["k_lsb"]) if dense else beats["k_msb"]
    chunk = max(1, min(spec.max_burst // k_beats, in_flight))
    msb_bursts = math.ceil(n_keys / chunk)
    pass_bytes = reads["k_msb"] // msb_passes
    transfer = {p: b * spec.bus_bytes / bandwidth for p, b in beats.items()}   # cycles of one row on the wire
    # a row's credit is held from its request until it leaves: the latency and, on average, half its request
    msb_hold = latency + (chunk + 1) / 2 * transfer["k_msb"]
    probe = [_memory_phase(pass_bytes, msb_bursts, n_keys * msb_hold, **mem) for _ in range(msb_passes - 1)]
    if dense:      # an MSB row's entry waits for its LSB row, in the request after its own
        credit = n_keys * (latency + chunk * transfer["k_msb"] + (chunk + 1) / 2 * transfer["k_lsb"])
    else:          # an MSB row, then a kept key's entry until its own LSB row
        credit = n_keys * msb_hold + lsb_rows * (latency + transfer["k_lsb"])
    score = _memory_phase(pass_bytes + reads["k_lsb"], 2 * msb_bursts if dense else msb_bursts + lsb_rows,
                          credit, **mem)
    v_chunk = max(1, spec.max_burst // beats["v"]) if dense and v_rows == n_keys else 1   # a walk of every V row
    v_hold = latency + (v_chunk + 1) / 2 * transfer["v"]
    walk = _memory_phase(reads["v"], math.ceil(v_rows / v_chunk), v_rows * v_hold, **mem) if v_rows else (0, "compute")
    score, walk = _bus_bound(score, clipped), _bus_bound(walk, clipped)
    if walk[0] < entries:
        walk = (entries, "compute")
    softmax = entries + 2 + spec.softmax["prob_bits"] + 3
    k_cycles = sum(p[0] for p in (*probe, score))
    total = k_cycles + walk[0] + softmax + group + 3
    return {"total": total, "k_cycles": k_cycles, "v_cycles": walk[0], "softmax": softmax,
            "bound": max((score, walk), key=lambda p: p[0])[1]}
