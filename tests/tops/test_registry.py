"""The registry's couplings: every top has a scoreboard class registered in sim/ (and every registered
scoreboard a top), and the hardware side of the registry imports nothing of sim/."""

import subprocess
import sys

import pytest

from latte_rtl.sim.scoreboards import SCOREBOARDS, scoreboard_class, scoreboard_for, scoreboards
from latte_rtl.tops import TOPS


def test_every_top_has_a_scoreboard_class():
    boards = scoreboards()
    assert set(boards) == set(TOPS)
    for name, top in TOPS.items():
        assert isinstance(scoreboard_class(top), type) and scoreboard_class(top) is boards[name]
        assert callable(getattr(boards[name], "run", None)), name


def test_one_top_takes_one_scoreboard():
    @scoreboard_for("some_top")
    class First:
        pass

    try:
        assert scoreboard_for("some_top")(First) is First  # the same class again (a reload): allowed

        class Second:
            pass
        with pytest.raises(ValueError, match="two scoreboards"):
            scoreboard_for("some_top")(Second)
        assert SCOREBOARDS["some_top"] is First
    finally:
        SCOREBOARDS.pop("some_top")


def test_an_unregistered_top_is_named():
    class Top:
        name = "no_such_top"

    with pytest.raises(LookupError, match="no_such_top has no scoreboard.*@scoreboard_for"):
        scoreboard_class(Top)


def test_hardware_never_imports_sim():
    code = ("import sys, latte_rtl.tops, latte_rtl.tops.decode, latte_rtl.tops.axis, latte_rtl.stages.score\n"
            "print(sorted(m for m in sys.modules if m.startswith('latte_rtl.sim')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
