"""`latte-rtl prove` equivalence on a small design with issue 32's features (the centred estimate, a window
key, row thresholds; absolute mode, where a row keeping one of its two keys by the window alone ends within
depth 20; a design computing E without its − (Q + S_j) term fails there at cycle 18): the reference of
latte_rtl/formal/properties.py knows E, the window and the query's T."""

from tests.cli_helpers import run_cli

SMALL = ["--bits", "4", "--msb-bits", "2", "--dim", "1", "--lanes", "1", "--heads", "1", "--max-keys", "2"]
FEATURES = ["--estimate", "centred", "--window-keys", "1", "--row-thresholds", "--threshold-mode", "absolute"]


def test_equivalence_with_the_centred_estimate_window_and_row_thresholds(tmp_path):
    design = tmp_path / "d"
    proc = run_cli("generate", *SMALL, *FEATURES, "-o", design)
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("prove", design, "--top", "latte_score_engine", "--proofs", "equivalence", "--depth", "20",
                   "-o", tmp_path / "out")
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert any(" equivalence " in line and " PASS " in line for line in proc.stdout.splitlines())
