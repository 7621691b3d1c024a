"""External memory energy of the decode tops (latte_rtl/synth/dram.py) and a decode step's energy in the
synth report: DRAM pJ by hand, the bytes from golden's decode step on the activity input, the report rows."""

import numpy as np
import pytest

from latte_rtl.golden.decode import decode_step
from latte_rtl.synth.asic import decode_step_energy
from latte_rtl.synth.dram import DEFAULT_DRAM, DRAM_CLASSES, dram_energy, dram_pj
from latte_rtl.synth.report import _decode_step_rows
from tests.decode_helpers import decode_design


def test_dram_energy_by_hand():
    assert dram_pj(1000, "LPDDR4") == 8 * 1000 * 13.0
    assert dram_pj(64, "HBM2") == 64 * 8 * 7.0
    e = dram_energy(4096)
    assert e["pj_per_step"] == {name: 4096 * 8 * c.pj_per_bit for name, c in DRAM_CLASSES.items()}
    assert DEFAULT_DRAM in DRAM_CLASSES and all(c.source for c in DRAM_CLASSES.values())


@pytest.mark.parametrize("engine", ["latte", "dense"])
def test_decode_step_energy_reads_golden_bytes(engine, tmp_path):
    """The step's bytes are golden's decode_step bytes of the activity input's steps (G rows of a KV head);
    on chip is pJ per row × G; the totals add the DRAM of each class."""
    from latte_rtl.npzio import decode_steps, load_qk
    from latte_rtl.sim.stimulus import decode_cases
    from latte_rtl.synth.activity import ACTIVITY_SEED

    cfg = decode_design(group=3, heads=3, dim=8, lanes=8, max_keys=256, kept_buffer=256, axi_data_width=64)
    spec = cfg.decode_spec()
    arrays = decode_cases(cfg, ACTIVITY_SEED, keys=192)["random"]
    np.savez(tmp_path / "in.npz", **arrays)
    inp = load_qk(tmp_path / "in.npz", cfg.score)
    thresholds, mult, comp = (np.asarray(arrays[n]) for n in ("thresholds", "softmax_mult", "denominator_comp"))
    steps = []
    for rows in decode_steps(inp, 3):
        h = inp.heads[rows]
        steps.append(decode_step(spec, inp.q[rows], inp.keys_of_head(int(h[0])), np.asarray(arrays["v"])[0],
                                 thresholds[h], mult[h], comp[h], engine=engine)["bytes"]["total"])
    got = decode_step_energy(cfg, f"{engine}_decode_engine", {"pj_per_row": 100.0})
    assert got["bytes_per_step"] == pytest.approx(np.mean(steps))
    assert got["onchip_pj"] == 300.0
    for name, c in DRAM_CLASSES.items():
        assert got["total_pj"][name] == pytest.approx(300.0 + 8 * np.mean(steps) * c.pj_per_bit, abs=0.1)
    rows = _decode_step_rows(got, got)
    assert [r[0] for r in rows][:2] == ["ihp130: decode step: pJ on chip", "ihp130: decode step: bytes read"]
    assert any("LPDDR4 (13 pJ/bit)" in r[0] and r[3] == "1.000" for r in rows)


def test_read_onchip_per_key_and_its_errors(tmp_path):
    """`--onchip` of the decode benchmarks: pJ per key of a step = pJ per row × G / the run's keys, from the
    saved d 64 report; a missing file, a non-JSON file or another report is one ValueError line, before any run."""
    import json
    from pathlib import Path

    from latte_rtl.synth.dram import read_onchip

    path = Path(__file__).resolve().parents[2] / "docs" / "data" / "decode_d64_ihp130.json"
    report = json.loads(path.read_text())
    tops = {"latte": "latte_decode_engine", "dense": "dense_decode_engine"}
    got = read_onchip(path, tops)
    for name, top in tops.items():
        energy = report["tops"][top]["ihp130"]["energy"]
        assert got[name] == pytest.approx(energy["pj_per_row"] * 3 / 192)
    (tmp_path / "not.json").write_text("x")
    (tmp_path / "other.json").write_text(json.dumps({"tops": {}}))
    for bad, words in ((tmp_path / "none.json", "cannot read it"), (tmp_path / "not.json", "cannot read it"),
                       (tmp_path / "other.json", "not a `synth --target ihp130` report")):
        with pytest.raises(ValueError, match=words) as exc:
            read_onchip(bad, tops)
        assert "\n" not in str(exc.value)
