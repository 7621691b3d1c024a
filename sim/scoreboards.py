"""Scoreboards: drive one stimulus file through a top and compare every row with the top's
golden function (`Top.expected`). One class per kind of top; the registry names it."""

from __future__ import annotations

import numpy as np


def first_mismatch(name: str, r: int, got: np.ndarray, want: np.ndarray) -> list[str]:
    """"row r key j: name rtl=… golden=…" for the first differing key, or nothing."""
    bad = np.flatnonzero(np.asarray(got) != np.asarray(want))
    if not bad.size:
        return []
    j = bad[0]
    return [f"row {r} key {j}: {name} rtl={got[j]} golden={want[j]}"]


class ScoreScoreboard:
    """Score tops (`keys`, `query`, optional `thresholds` in; `scores`, `rows` out; optional
    `monitor`). Rows run grouped by head when every head has its own keys; results keep row
    order. `errors` lists mismatches; `result` holds what the RTL produced (SPEC §6 arrays)."""

    def __init__(self, tb, models: dict, cfg, top, inp):
        self.tb, self.m, self.cfg, self.inp = tb, models, cfg, inp
        self.expected = top.expected(inp, cfg)
        rows, n = inp.q.shape[0], inp.n_keys
        self.banks = list(self.expected["reads"]) if "monitor__reads" in models else []
        self.result = {"hh": np.zeros((rows, n), np.int64), "kept": np.zeros((rows, n), bool),
                       "scores": np.zeros((rows, n), np.int64), "cycles": np.zeros(rows, np.int64),
                       "measured_cycles": np.zeros(rows, np.int64),
                       **{f"reads_{b}": np.zeros(rows, np.int64) for b in self.banks}}
        self.errors: list[str] = []

    async def run(self) -> None:
        inp = self.inp
        if "thresholds" in self.m:
            await self.m["thresholds"].send([{"head": h, "value": int(t)} for h, t in enumerate(inp.thresholds)])
        groups = [(h, np.flatnonzero(inp.heads == h)) for h in np.unique(inp.heads)] if inp.k.ndim == 3 \
            else [(None, np.arange(inp.q.shape[0]))]
        for h, rows in groups:
            await self.load_keys(inp.k if h is None else inp.k[h])
            for r in rows:
                await self.row(int(r))

    def beats(self, vector) -> list[list[int]]:
        """`beats` beats of `lanes` elements; lanes past `dim` carry -1, which the engine must ignore."""
        lanes, beats = self.cfg.score.lanes, self.cfg.score.beats
        out = []
        for b in range(beats):
            chunk = [int(x) for x in vector[b * lanes:(b + 1) * lanes]]
            out.append(chunk + [-1] * (lanes - len(chunk)))
        return out

    async def load_keys(self, k) -> None:
        words = []
        for j, key in enumerate(k):
            beats = self.beats(key)
            words += [{"data": beat, "last": int(j == len(k) - 1 and b == len(beats) - 1)}
                      for b, beat in enumerate(beats)]
        await self.m["keys"].send(words)
        await self.tb.wait_cycles(1)
        n = int(self.tb.dut.n_keys.value)
        assert n == len(k), f"n_keys={n} after loading {len(k)} keys"

    def reads(self) -> dict:
        if not self.banks:
            return {}
        return self.m["monitor__reads"].read()

    async def row(self, r: int) -> None:
        before = self.reads()
        query = self.m["query"]
        first = len(query.accepted_at)
        await query.send([{"data": beat, "head": int(self.inp.heads[r]), "key_limit": int(self.inp.key_limit[r])}
                          for beat in self.beats(self.inp.q[r])])
        record, valid_at = await self.m["rows"].recv()
        scores = [self.m["scores"].queue.popleft()[0] for _ in range(len(self.m["scores"].queue))]
        estimates = list(self.m["monitor__estimate"].queue) if "monitor__estimate" in self.m else None
        if estimates is not None:
            self.m["monitor__estimate"].queue.clear()
        after = self.reads()
        out = self.result
        idx = [s["index"] for s in scores]
        if idx != sorted(set(idx)):
            self.errors.append(f"row {r}: kept indices not strictly ascending: {idx}")
            return
        out["kept"][r, idx] = True
        out["scores"][r, idx] = [s["score"] for s in scores]
        out["cycles"][r] = record["cycles"]
        out["measured_cycles"][r] = valid_at - query.accepted_at[first]
        for b in self.banks:
            out[f"reads_{b}"][r] = after[b] - before[b]
        if estimates is not None:
            seen, visible = [e["index"] for e in estimates], int(self.inp.key_limit[r])
            if sorted(seen) != list(range(visible)):
                self.errors.append(f"row {r}: estimates for keys {sorted(seen)}, expected each of 0..{visible - 1} once")
            out["hh"][r, seen] = [e["hh"] for e in estimates]
        else:
            out["hh"][r, idx] = [s["estimate"] for s in scores]
        self.compare(r, record, [s["estimate"] for s in scores], idx)

    def compare(self, r: int, record: dict, score_estimates: list[int], idx: list[int]) -> None:
        exp, out, errors = self.expected, self.result, self.errors
        errors += first_mismatch("kept", r, out["kept"][r], exp["kept"][r])
        errors += first_mismatch("score", r, out["scores"][r], exp["scores"][r])
        hh_mask = slice(None) if "monitor__estimate" in self.m else idx
        errors += first_mismatch("HH", r, out["hh"][r][hh_mask], exp["hh"][r][hh_mask])
        errors += first_mismatch("scores.estimate", r, np.array(score_estimates), exp["hh"][r][idx])
        want_kept = int(exp["kept"][r].sum())
        if record["summary.kept_count"] != want_kept:
            errors.append(f"row {r}: rows.kept_count rtl={record['summary.kept_count']} golden={want_kept}")
        if record["summary.max_estimate"] != exp["max_estimate"][r]:
            errors.append(f"row {r}: rows.max_estimate rtl={record['summary.max_estimate']} "
                          f"golden={exp['max_estimate'][r]}")
        for b in self.banks:
            if out[f"reads_{b}"][r] != exp["reads"][b][r]:
                errors.append(f"row {r}: {out[f'reads_{b}'][r]} {b}-bank word reads, golden {exp['reads'][b][r]}")
        if record["cycles"] != out["measured_cycles"][r]:
            errors.append(f"row {r}: rows.cycles={record['cycles']} but the testbench measured "
                          f"{out['measured_cycles'][r]}")
