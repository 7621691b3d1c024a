"""On-chip SRAM: K and V stream into the tops' key and V stores (hw/keystore.py `VectorStore`); the score
and attention tops."""

from __future__ import annotations

from .base import COMMON_PROTOCOL, MemoryBus

PROTOCOL = {
    **COMMON_PROTOCOL,
    "keys": "beats = ceil(dim/lanes) per key, lane i of beat b is element b*lanes+i (lanes past dim "
            "ignored); last = 1 on the final beat of the final key of the set, which sets N",
    "query": "beats per row, lane order as keys; head on the first beat",
    "scores": "one beat per kept key, index ascending: exact score q.k and the estimate HH (0 in dense)",
    "rows": "score engines: one record per row after its scores: kept_count, max_estimate, head, cycles (first "
            "accepted q beat to the cycle the record becomes valid); attention engines: one record after the "
            "row's out beats: kept_count, prob_sum, v_reads, head, cycles",
    "key_limit": "on the query's first beat: the row sees keys j < min(N, key_limit); send N (or max_keys) for all",
    "values": "attention engines: V beats in the key format, last on the final beat of the set; accepted while "
              "busy is low (busy also covers the V means after a load with vmean)",
    "config": "attention engines: (reg, head, value) writes, always ready; reg THRESHOLD = 0 (value's low "
              "threshold_width bits, two's complement in absolute mode), SOFTMAX_MULT = 1 (M_h), DENOM_COMP = 2 (C_h)",
    "out": "attention engines: beats beats of lanes signed accumulators o_i (element b*lanes + i)",
}


class OnChipBus(MemoryBus):
    """K and V in on-chip SRAM: the score tops, and the attention tops with `attention`."""

    name = "onchip"
    help = "K and V in on-chip SRAM (score and attention tops)"

    def generates(self, top, cfg) -> bool:
        return not top.decode and (cfg.attention.attention or not top.attention)

    def protocol(self) -> dict:
        return PROTOCOL

    def regression_cases(self, cfg, seed: int, *, rows: int, keys: int | None) -> dict[str, dict]:
        import numpy as np

        from ..sim.stimulus import add_attention_arrays, regression_cases

        cases = regression_cases(cfg.score, seed, rows=rows, keys=keys)
        if cfg.attention.attention:
            add_attention_arrays(cfg, cases, np.random.default_rng(seed + 1))
        return cases

    def register_widths(self, cfg) -> dict[str, int]:
        from amaranth import Shape

        from ..hw import layouts

        write = layouts.config_write(cfg) if cfg.attention.attention else layouts.threshold_write(cfg.score)
        return {"M_h or C_h of this design": Shape.cast(write["value"].shape).width}
