"""Scoreboards: drive one stimulus file through a top and compare every row with the top's
golden function (`Top.expected`). One class per kind of top, registered for its tops by name with
`@scoreboard_for` (the registry of tops lives in hardware code, which never imports sim/)."""

from __future__ import annotations

import numpy as np

SCOREBOARDS: dict[str, type] = {}  # top name -> scoreboard class (every module of sim/ that defines one)


def scoreboard_for(*tops: str):
    """Class decorator: the scoreboard of the tops named (a second class for one top is an error)."""
    def register(cls: type) -> type:
        for name in tops:
            known = SCOREBOARDS.setdefault(name, cls)
            if (known.__module__, known.__qualname__) != (cls.__module__, cls.__qualname__):
                raise ValueError(f"top {name} has two scoreboards: {known.__qualname__}, {cls.__qualname__}")
            SCOREBOARDS[name] = cls
        return cls
    return register


def scoreboards() -> dict[str, type]:
    """{top name: scoreboard class} of every scoreboard in sim/."""
    from . import decode_scoreboard  # noqa: F401  (registers DecodeScoreboard; it imports this module)

    return SCOREBOARDS


def scoreboard_class(top) -> type:
    """The scoreboard class registered for `top` (a tops.Top)."""
    board = scoreboards().get(top.name)
    if board is None:
        raise LookupError(f"top {top.name} has no scoreboard: register one in sim/ with @scoreboard_for")
    return board


def final_check(models: dict, mismatches: list[str]) -> None:
    """After the last row: no beat left unread on any model, no mismatch (AssertionError)."""
    leftovers = [name for name, model in models.items() if getattr(model, "queue", None)]
    assert not leftovers, f"beats left over on {', '.join(leftovers)} after the last row"
    assert not mismatches, "RTL differs from golden:\n" + "\n".join(mismatches[:20])


def first_mismatch(name: str, r: int, got: np.ndarray, want: np.ndarray, what: str = "key") -> list[str]:
    """"row r key j: name rtl=… golden=…" for the first differing key (or output element), or nothing."""
    bad = np.flatnonzero(np.asarray(got) != np.asarray(want))
    if not bad.size:
        return []
    j = bad[0]
    return [f"row {r} {what} {j}: {name} rtl={got[j]} golden={want[j]}"]


def estimate_of(beat: dict) -> int:
    """The estimate E of a monitor `estimate` beat: its centred E, else its HH (layouts.estimate)."""
    return beat.get("centred", beat["hh"])


@scoreboard_for("latte_score_engine", "dense_score_engine")
class ScoreScoreboard:
    """Score tops (`keys`, `query`, optional `thresholds` in; `scores`, `rows` out; optional
    `monitor`). Rows run grouped by head when every head has its own keys; results keep row
    order. `errors` lists mismatches; `result` holds what the RTL produced (docs/spec.md §6 arrays).
    One row at a time (the next q after the record), except where golden models overlapped rows
    (an `interval`): then the rows of a group come back to back (every q beat queued at once), each
    row takes its kept_count scores and key_limit estimates in arrival order, `interval` is the
    cycles from the group's previous record, and SRAM word reads are checked per group (as the
    attention scoreboard does)."""

    def __init__(self, tb, models: dict, cfg, top, inp):
        self.tb, self.m, self.cfg, self.inp = tb, models, cfg, inp
        self.expected = top.expected(inp, cfg)
        self.overlap = "interval" in self.expected
        rows, n = inp.q.shape[0], inp.n_keys
        self.banks = list(self.expected["reads"]) if "monitor__reads" in models else []
        self.result = {"hh": np.zeros((rows, n), np.int64), "estimate": np.zeros((rows, n), np.int64),
                       "kept": np.zeros((rows, n), bool),
                       "scores": np.zeros((rows, n), np.int64), "kept_count": np.zeros(rows, np.int64),
                       "cycles": np.zeros(rows, np.int64),
                       "measured_cycles": np.zeros(rows, np.int64),
                       **{f"reads_{b}": np.zeros(rows, np.int64) for b in self.banks}}
        if self.overlap:
            self.result["interval"] = np.zeros(rows, np.int64)
        if "monitor__estimate" not in models and cfg.score.estimate != "hh":
            del self.result["estimate"]  # not observable: the scores carry HH, not E
        self.errors: list[str] = []

    async def run(self) -> None:
        inp = self.inp
        for port, values in (("thresholds", inp.thresholds), ("round1_thresholds", inp.round1_thresholds)):
            if port in self.m:
                await self.m[port].send([{"head": h, "value": int(t)} for h, t in enumerate(values)])
        groups = [(h, np.flatnonzero(inp.heads == h)) for h in np.unique(inp.heads)] if inp.k.ndim == 3 \
            else [(None, np.arange(inp.q.shape[0]))]
        for h, rows in groups:
            await self.load_keys(inp.keys_of_head(h))
            if self.overlap:
                await self.stream_score_rows([int(r) for r in rows])
                continue
            for r in rows:
                await self.row(int(r))

    async def stream_score_rows(self, rows: list[int]) -> None:
        """Queue every q beat of `rows`; take each row's scores, estimates and record in order."""
        query, before, previous = self.m["query"], self.reads(), None
        starts, beats = [], []
        for r in rows:
            starts.append(len(query.accepted_at) + len(beats))
            beats += self.query_beats(r)
        await query.send(beats)
        for r, start in zip(rows, starts):
            record, valid_at = await self.m["rows"].recv()
            scores = self._take(self.m["scores"].queue, record["summary.kept_count"])
            scores = [s[0] for s in scores]
            estimates = None
            if "monitor__estimate" in self.m:
                estimates = self._take(self.m["monitor__estimate"].queue, len(self.compared_keys(r)))
            self.finish_row(r, record, scores, estimates, valid_at - query.accepted_at[start])
            self.result["interval"][r] = self.result["measured_cycles"][r] if previous is None \
                else valid_at - previous
            previous = valid_at
        after = self.reads()
        for b in self.banks:
            self.result[f"reads_{b}"][rows[-1]] = after[b] - before[b]
            got, want = int(after[b] - before[b]), int(self.expected["reads"][b][rows].sum())
            if got != want:
                self.errors.append(f"rows {rows[0]}..{rows[-1]}: {got} {b}-bank word reads, golden {want}")

    def compared_keys(self, r: int) -> list[int]:
        """The keys whose estimate row r's filter compares: those it sees (two rounds: the survivors)."""
        return np.flatnonzero(self.expected["seen"][r]).tolist()

    @staticmethod
    def _take(queue, n: int) -> list:
        return [queue.popleft() for _ in range(min(n, len(queue)))]

    def beats(self, vector) -> list[list[int]]:
        """`beats` beats of `lanes` elements; lanes past `dim` carry -1, which the engine must ignore."""
        lanes, beats = self.cfg.score.lanes, self.cfg.score.beats
        padded = np.full(beats * lanes, -1, np.int64)
        padded[:len(vector)] = vector
        return padded.reshape(beats, lanes).tolist()

    def rebind(self, tb, models: dict) -> None:
        """Run the same stimulus again on other models (the native engine's replay): golden's
        expectation is kept, the result and the errors start afresh."""
        self.tb, self.m = tb, models
        self.result = {name: np.zeros_like(arr) for name, arr in self.result.items()}
        self.errors = []

    async def load(self, port: str, vectors, count_port: str) -> None:
        """Load a vector set (keys or values): `beats` beats each, `last` on the set's final beat."""
        words = []
        for j, vector in enumerate(vectors):
            beats = self.beats(vector)
            words += [{"data": beat, "last": int(j == len(vectors) - 1 and b == len(beats) - 1)}
                      for b, beat in enumerate(beats)]
        await self.m[port].send(words)
        await self.tb.wait_cycles(1)
        n = int(getattr(self.tb.dut, count_port).value)
        if n != len(vectors):
            self.errors.append(f"{count_port}={n} after loading {len(vectors)} vectors")

    async def load_keys(self, k) -> None:
        await self.load("keys", k, "n_keys")

    def reads(self) -> dict:
        if not self.banks:
            return {}
        return self.m["monitor__reads"].read()

    def query_beats(self, r: int) -> list[dict]:
        """Row r's q beats, the head and key limit (and with row_thresholds the row's T) on each."""
        fields = {"head": int(self.inp.heads[r]), "key_limit": int(self.inp.key_limit[r])}
        if self.inp.row_thresholds is not None:
            fields["threshold"] = int(self.inp.row_thresholds[r])
        return [{"data": beat, **fields} for beat in self.beats(self.inp.q[r])]

    async def send_query(self, r: int) -> int:
        """Send row r's q beats; return the index of its first beat in the query source's `accepted_at`."""
        query = self.m["query"]
        first = len(query.accepted_at)
        await query.send(self.query_beats(r))
        return first

    async def row(self, r: int) -> None:
        before, start = self.reads(), await self.send_query(r)
        record, valid_at = await self.m["rows"].recv()
        scores = [self.m["scores"].queue.popleft()[0] for _ in range(len(self.m["scores"].queue))]
        estimates = list(self.m["monitor__estimate"].queue) if "monitor__estimate" in self.m else None
        if estimates is not None:
            self.m["monitor__estimate"].queue.clear()
        after = self.reads()
        for b in self.banks:
            self.result[f"reads_{b}"][r] = after[b] - before[b]
        self.finish_row(r, record, scores, estimates, valid_at - self.m["query"].accepted_at[start])

    def finish_row(self, r: int, record: dict, scores: list, estimates: list | None, measured: int) -> None:
        """Row r's scored keys, estimates (monitor) and record into the result; compare with golden."""
        out = self.result
        idx = [s["index"] for s in scores]
        if idx != sorted(set(idx)):
            self.errors.append(f"row {r}: kept indices not strictly ascending: {idx}")
            return
        out["kept"][r, idx] = True
        out["scores"][r, idx] = [s["score"] for s in scores]
        out["kept_count"][r] = record["summary.kept_count"]
        out["cycles"][r] = record["cycles"]
        out["measured_cycles"][r] = measured
        if estimates is not None:
            seen, want = [e["index"] for e in estimates], self.compared_keys(r)
            if sorted(seen) != want:
                self.errors.append(f"row {r}: estimates for keys {sorted(seen)}, expected each of {want} once "
                                   "(every key the row sees; with two rounds the first round's survivors)")
            out["hh"][r, seen] = [e["hh"] for e in estimates]
            out["estimate"][r, seen] = [estimate_of(e) for e in estimates]
        else:  # the scores carry HH: E of the kept keys where E is HH
            out["hh"][r, idx] = [s["estimate"] for s in scores]
            if "estimate" in out:
                out["estimate"][r, idx] = out["hh"][r, idx]
        self.compare(r, record, [s["estimate"] for s in scores], idx)

    def compare(self, r: int, record: dict, score_estimates: list[int], idx: list[int]) -> None:
        exp, out, errors = self.expected, self.result, self.errors
        errors += first_mismatch("kept", r, out["kept"][r], exp["kept"][r])
        errors += first_mismatch("score", r, out["scores"][r], exp["scores"][r])
        hh_mask = self.compared_keys(r) if "monitor__estimate" in self.m else idx
        errors += first_mismatch("HH", r, out["hh"][r][hh_mask], exp["hh"][r][hh_mask])
        if "estimate" in out:
            errors += first_mismatch("estimate", r, out["estimate"][r][hh_mask], exp["estimate"][r][hh_mask])
        errors += first_mismatch("scores.estimate", r, np.array(score_estimates), exp["hh"][r][idx])
        want_kept = int(exp["kept"][r].sum())
        if record["summary.kept_count"] != want_kept:
            errors.append(f"row {r}: rows.kept_count rtl={record['summary.kept_count']} golden={want_kept}")
        if record["summary.max_estimate"] != exp["max_estimate"][r]:
            errors.append(f"row {r}: rows.max_estimate rtl={record['summary.max_estimate']} "
                          f"golden={exp['max_estimate'][r]}")
        self.compare_reads_and_cycles(r, record)

    def compare_reads_and_cycles(self, r: int, record: dict) -> None:
        """The word reads of each SRAM bank against golden; the record's cycles against the
        testbench's own count."""
        out, exp = self.result, self.expected
        for b in [] if self.overlap else self.banks:  # overlapped rows: per group (stream_score_rows)
            if out[f"reads_{b}"][r] != exp["reads"][b][r]:
                self.errors.append(f"row {r}: {out[f'reads_{b}'][r]} {b}-bank word reads, golden {exp['reads'][b][r]}")
        if record["cycles"] != out["measured_cycles"][r]:
            self.errors.append(f"row {r}: rows.cycles={record['cycles']} but the testbench measured "
                               f"{out['measured_cycles'][r]}")


@scoreboard_for("latte_attention_engine", "dense_attention_engine")
class AttentionScoreboard(ScoreScoreboard):
    """Attention tops: keys and values per head, per-head config (T, M_h, C_h), then the rows of a
    head back to back (every q beat queued at once, so the stages overlap), and per row, in order,
    the `out` beats and the end-of-row record; scores, probabilities and estimates from the monitor,
    each row taking its own count of them (kept_count, kept_count, key_limit) in arrival order.
    `interval`: cycles from the previous record of the same head group (its first row: its latency);
    SRAM word reads are counted per head group (rows in flight share the counters; read before the
    group's first q beat and after its last record, when no row is in flight) and checked against
    golden's sum; `reads_<bank>` holds a group's total on its last row (0 on the others), so sums and
    means over rows are exact."""

    REG = {"THRESHOLD": 0, "SOFTMAX_MULT": 1, "DENOM_COMP": 2, "ROUND1_THRESHOLD": 3}

    def __init__(self, tb, models: dict, cfg, top, inp):
        from latte_rtl.npzio import load_attention

        super().__init__(tb, models, cfg, top, inp)
        self.arrays = load_attention(inp, cfg)
        rows, d = inp.q.shape[0], cfg.score.dim
        self.result.update({"probs": np.zeros((rows, inp.n_keys), np.int64), "out": np.zeros((rows, d), np.int64),
                            "prob_sum": np.zeros(rows, np.int64), "v_reads": np.zeros(rows, np.int64),
                            "interval": np.zeros(rows, np.int64)})
        for name in () if "monitor__scores" in models else ("hh", "estimate", "kept", "scores", "probs"):
            self.result.pop(name, None)  # without the monitor port these are not observable: not in the result
        self.banks = self.banks + (["v"] if self.banks else [])
        self.expected["reads"] = {**self.expected["reads"],
                                  "v": cfg.score.beats * self.expected["v_reads"]}
        for b in self.banks:
            self.result.setdefault(f"reads_{b}", np.zeros(rows, np.int64))

    async def run(self) -> None:
        inp, a = self.inp, self.arrays
        writes = [("THRESHOLD", inp.thresholds), ("SOFTMAX_MULT", a.mult), ("DENOM_COMP", a.comp)]
        if inp.round1_thresholds is not None:
            writes.append(("ROUND1_THRESHOLD", inp.round1_thresholds))
        await self.m["config"].send([{"reg": self.REG[reg], "head": h, "value": int(x)}
                                     for reg, values in writes for h, x in enumerate(values)])
        from latte_rtl.tops.registry import attention_row_groups

        per_head = inp.k.ndim == 3 or a.v.ndim == 3
        for rows in attention_row_groups(inp, a.v):
            h = int(inp.heads[rows[0]]) if per_head else None
            await self.load_keys(inp.keys_of_head(h))
            await self.load("values", a.v if a.v.ndim == 2 else a.v[h], "n_values")
            await self.tb.wait_low("busy")  # vmean: the means of the new V set
            await self.stream_rows([int(r) for r in rows])

    async def stream_rows(self, rows: list[int]) -> None:
        """Queue every q beat of `rows`, then take each row's out beats and record in order."""
        query, before = self.m["query"], self.reads()
        starts, beats = [], []
        for r in rows:
            starts.append(len(query.accepted_at) + len(beats))
            beats += self.query_beats(r)
        await query.send(beats)
        previous = None
        for r, start in zip(rows, starts):
            previous = await self.row(r, start, previous)
        after = self.reads()
        for b in self.banks:
            self.result[f"reads_{b}"][rows[-1]] = after[b] - before[b]
        self.compare_group_reads(rows)

    async def row(self, r: int, start: int, previous: int | None) -> int:
        """Row r's out beats and record; returns the cycle its record was valid."""
        out = []
        for _ in range(self.cfg.score.beats):
            beat, _ = await self.m["out"].recv()
            out += beat["data"]
        record, valid_at = await self.m["rows"].recv()
        res = self.result
        res["out"][r] = out[:self.cfg.score.dim]
        res["kept_count"][r] = record["kept_count"]
        res["cycles"][r] = record["cycles"]
        res["measured_cycles"][r] = valid_at - self.m["query"].accepted_at[start]
        res["interval"][r] = res["measured_cycles"][r] if previous is None else valid_at - previous
        res["prob_sum"][r], res["v_reads"][r] = record["prob_sum"], record["v_reads"]
        self._observed(r, record["kept_count"])
        self.compare_attention(r, record)
        return valid_at

    def compare_reads_and_cycles(self, r: int, record: dict) -> None:
        """The record's cycles against the testbench's own count (reads: per head group)."""
        if record["cycles"] != self.result["measured_cycles"][r]:
            self.errors.append(f"row {r}: rows.cycles={record['cycles']} but the testbench measured "
                               f"{self.result['measured_cycles'][r]}")

    def compare_group_reads(self, rows: list[int]) -> None:
        """The word reads of each SRAM bank over a head group's rows against golden's sum."""
        for b in self.banks:
            got, want = int(self.result[f"reads_{b}"][rows].sum()), int(self.expected["reads"][b][rows].sum())
            if got != want:
                self.errors.append(f"rows {rows[0]}..{rows[-1]}: {got} {b}-bank word reads, golden {want}")

    def _observed(self, r: int, kept: int) -> None:
        """Scores, probabilities and estimates of row r from the monitor (when the top has one): the
        first `kept` scores and probabilities, the first key_limit estimates (later rows' follow)."""
        res = self.result
        for name, key in (("monitor__scores", "scores"), ("monitor__probs", "probs")):
            if name in self.m:
                beats = self._take(self.m[name].queue, kept)
                idx = [b["index"] for b in beats]
                res[key][r, idx] = [b["score" if key == "scores" else "prob"] for b in beats]
                if key == "scores":
                    res["kept"][r, idx] = True
        if "monitor__estimate" in self.m:
            est = self._take(self.m["monitor__estimate"].queue, len(self.compared_keys(r)))
            res["hh"][r, [e["index"] for e in est]] = [e["hh"] for e in est]
            res["estimate"][r, [e["index"] for e in est]] = [estimate_of(e) for e in est]

    def compare_attention(self, r: int, record: dict) -> None:
        exp, res, errors = self.expected, self.result, self.errors
        errors += first_mismatch("out", r, res["out"][r], exp["out"][r], "element")
        if "monitor__scores" in self.m:
            errors += first_mismatch("kept", r, res["kept"][r], exp["kept"][r])
            errors += first_mismatch("score", r, res["scores"][r], exp["scores"][r])
            errors += first_mismatch("prob", r, res["probs"][r], exp["probs"][r])
        if "monitor__estimate" in self.m:
            seen = self.compared_keys(r)
            errors += first_mismatch("HH", r, res["hh"][r][seen], exp["hh"][r][seen])
            errors += first_mismatch("estimate", r, res["estimate"][r][seen], exp["estimate"][r][seen])
        for field, want in (("kept_count", exp["kept"][r].sum()), ("prob_sum", exp["prob_sum"][r]),
                            ("v_reads", exp["v_reads"][r])):
            if record[field] != want:
                errors.append(f"row {r}: rows.{field} rtl={record[field]} golden={want}")
        self.compare_reads_and_cycles(r, record)
