"""Cycles of one decode step of the decode tops in amaranth.sim (AR always ready, R beats back to back
`--latency` cycles after the AR; 0 by default) beside `golden.decode.decode_step`'s cycle model at the
same point, bit-exactness checked on the way (docs/spec.md §9).

    PYTHONPATH=. python benchmarks/decode_top_cycles.py [--dim 64] [--n 1024] [--group 3] [--keep 0.10]
        [--bus-bits 256] [--latency 0] [--max-outstanding 32] [--rows-in-flight 0] [--engines latte,dense]
"""

import argparse
import random
import time

import numpy as np

from latte_rtl.config import LatteConfig
from latte_rtl.golden.decode import decode_step, memory_image, packed_layout
from latte_rtl.golden.latte import partial_sums
from latte_rtl.tops.decode import DenseDecodeEngine, LatteDecodeEngine
from tests.hw.test_axi_read import ReactiveMemory
from tests.tops.test_decode_tops import register_writes, run_steps


class FlatMemory(ReactiveMemory):
    """ReactiveMemory over an image of any size (no wrap)."""

    def word(self, addr):
        return int.from_bytes(self.mem[addr:addr + self.bytes].ljust(self.bytes, b"\0"), "little")


def measure(top, design, q, k, v, thresholds, mult, comp, engine, latency=0, rows_in_flight=0):
    spec, n = design.decode_spec(), k.shape[0]
    layout = packed_layout(spec, n)
    lo, image = memory_image(spec, layout, k, v)
    memory = FlatMemory(random.Random(0), spec.bus_bytes, latency=latency, ar_busy=1.0, r_busy=1.0)
    memory.mem = bytes(image)
    want = decode_step(spec, q, k, v, thresholds, mult, comp, engine=engine, bandwidth=spec.bus_bytes,
                       latency=latency)
    started = time.time()
    dut = top(design.replace(group=len(q)), rows_in_flight=rows_in_flight)
    [(outs, record)] = run_steps(dut, memory, [(register_writes(layout, n, thresholds, mult, comp), q)],
                                 random.Random(0), out_busy=1.0, cycles=50 * n + 10000, max_burst=design.bus.max_burst)
    exact = outs == want["out"].tolist() and record["bytes"] == {p: want["bytes"][p] for p in ("k_msb", "k_lsb", "v")}
    print(f"{engine}: rtl {record['cycles']} cycles, golden.decode_cycles {want['cycles']['total']} "
          f"(k_memory {want['cycles']['k_memory']}, k_compute {want['cycles']['k_compute']}, v_memory "
          f"{want['cycles']['v_memory']}, v_compute {want['cycles']['v_compute']}); "
          f"kept {want['kept_count'].tolist()}, "
          f"V rows {int(want['v_rows'].sum()) if engine == 'latte' else n}, bytes {want['bytes']}, "
          f"{sum(record['bytes'].values()) / record['cycles']:.1f} bytes/cycle of {spec.bus_bytes}; bit-exact {exact}; "
          f"{time.time() - started:.0f} s of simulation")
    return record["cycles"], want


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--n", type=int, default=1024)
    p.add_argument("--group", type=int, default=3)
    p.add_argument("--keep", type=float, default=0.10)
    p.add_argument("--bus-bits", type=int, default=256)
    p.add_argument("--latency", type=int, default=0, help="cycles from an AR to its first R beat")
    p.add_argument("--max-outstanding", type=int, default=LatteConfig().decode.axi_outstanding,
                   help="AXI bursts in flight (axi_outstanding)")
    p.add_argument("--rows-in-flight", type=int, default=0, help="the decode top's rows_in_flight (0: automatic)")
    p.add_argument("--engines", default="latte,dense", help="which tops to measure")
    p.add_argument("--seed", type=int, default=20261130)
    args = p.parse_args()
    print(f"seed {args.seed}")
    rng = np.random.default_rng(args.seed)
    q, k, v = (rng.integers(-128, 128, (rows, args.dim)) for rows in (args.group, args.n, args.n))
    mult, comp = np.full(args.group, 288), np.zeros(args.group, np.int64)
    design = LatteConfig.from_params(kv_memory="axi", dim=args.dim, lanes=min(16, args.dim),
                                     axi_data_width=args.bus_bits, kept_buffer=args.n, max_keys=args.n,
                                     axi_outstanding=args.max_outstanding)
    hh = partial_sums(q, k, design.decode_spec())["HH"]
    thresholds = [int(np.floor(np.quantile(h, 1 - args.keep))) for h in hh]
    tops = {"latte": LatteDecodeEngine, "dense": DenseDecodeEngine}
    cycles = {e: measure(tops[e], design, q, k, v, thresholds, mult, comp, e, args.latency, args.rows_in_flight)[0]
              for e in args.engines.split(",")}
    if len(cycles) == 2:
        print(f"dense / latte cycles: {cycles['dense'] / cycles['latte']:.2f}")


if __name__ == "__main__":
    main()
