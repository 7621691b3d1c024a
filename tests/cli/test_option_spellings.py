"""One spelling of the keep ratio on every command that takes one: `--keep-ratio R` in help and usage;
`--keep R` (the old spelling of calibrate and explore) parses to the same value everywhere, hidden."""

import pytest

from latte_rtl.commands import build_parser, main

COMMANDS = {  # the arguments each command needs to parse
    "synth": ["d"],
    "sweep": [],
    "explore": [],
    "calibrate": ["--qk", "qk.npz", "-o", "t.json"],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_both_spellings_parse_to_the_same_value(command):
    parser = build_parser()
    new = vars(parser.parse_args([command, *COMMANDS[command], "--keep-ratio", "0.25"]))
    old = vars(parser.parse_args([command, *COMMANDS[command], "--keep", "0.25"]))
    assert new == old
    assert 0.25 in new.values()
    assert new != vars(parser.parse_args([command, *COMMANDS[command], "--keep-ratio", "0.5"]))


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_only_keep_ratio(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "--keep-ratio R" in text
    assert "--keep " not in text.replace("--keep-ratio", "") and "[--keep]" not in text
    assert text.replace("--keep-ratio", "").count("--keep") == 0


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("option", ["--keep-ratio", "--keep"])
def test_an_error_names_the_spelling_given(command, option, capsys):
    assert main([command, *COMMANDS[command], option, "1.5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{option} must be a number" in err[0], err


def test_calibrate_takes_no_zero_keep_ratio(capsys):
    assert main(["calibrate", *COMMANDS["calibrate"], "--keep-ratio", "0"]) == 2
    assert "--keep-ratio must be a number 0 < R ≤ 1, not 0.0" in capsys.readouterr().err


@pytest.mark.parametrize("extra, words", [
    (["--round1-recall", "0.9"], "--round1-recall sets the first round of --rounds 2: add --rounds 2"),
    (["--rounds", "2", "--round1-recall", "1.5"], "--round1-recall must be a number 0 < R ≤ 1, not 1.5"),
    (["--rounds", "3"], "rounds=3 is out of range: rounds must be an integer 1 ≤ rounds ≤ 2, not 3"),
    (["--rounds", "2", "--bits", "4", "--msb-bits", "1"], "rounds 2 needs msb_bits ≥ 2 (the first round reads the top"),
])
def test_calibrate_rounds_errors(extra, words, capsys, tmp_path):
    out = tmp_path / "t.json"
    assert main(["calibrate", *COMMANDS["calibrate"], "--keep-ratio", "0.2", *extra, "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err
    assert not out.exists()



def test_evaluate_two_rounds_refuses_operand_widths(capsys):
    """evaluate's workloads are int8 with m = 4: --msb-bits would only relabel nothing, so it is refused."""
    assert main(["evaluate", "--workload", "vision", "--rounds", "2", "--msb-bits", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--msb-bits does not apply to evaluate --rounds 2" in err[0], err
