"""The documents stay true to the code: spec citations resolve, the parameter table (docs/cli.md) and the
cycle model come from their one source."""

import re
import subprocess
from pathlib import Path

from latte_rtl.config import STAGES
from latte_rtl.golden.cycles import ATTENTION_OVERHEAD, CYCLE_MODEL, CYCLE_SLACK, OVERHEAD_CYCLES
from latte_rtl.params import markdown_table, param_fields, spec_of

ROOT = Path(__file__).resolve().parents[2]
CITATION = re.compile(r"docs/spec\.md §(\d+)((?:/§\d+)*)")


def _tracked_text_files():
    """The repository's text files: tracked, and new ones not ignored (a page is checked before its commit)."""
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / f for f in out if f.endswith((".py", ".md", ".sh", ".ys", ".cpp", ".txt")) and (ROOT / f).is_file()]


def test_every_spec_citation_names_a_section():
    sections = set(re.findall(r"^## (\d+)\. ", (ROOT / "docs" / "spec.md").read_text(), re.M))
    assert sections >= {str(n) for n in range(1, 13)}
    cited = {}
    for path in _tracked_text_files():
        for match in CITATION.finditer(path.read_text(errors="replace")):
            for number in [match.group(1), *re.findall(r"\d+", match.group(2))]:
                cited.setdefault(number, []).append(path.relative_to(ROOT).as_posix())
    assert cited, "no citation found: the pattern is wrong"
    missing = {n: files for n, files in cited.items() if n not in sections}
    assert not missing, missing
    old_style = r"\bSPEC" + " §"  # split so that a search-and-replace of citations leaves it alone
    assert not [p for p in _tracked_text_files() if re.search(old_style, p.read_text(errors="replace"))]


def test_parameter_table_is_generated_from_the_specs():
    """docs/cli.md renders the table with the `latte-params` directive, which prints markdown_table(STAGES):
    no copy of it is kept by hand (the README and the pages link to it)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("cli_reference", ROOT / "docs" / "_ext" / "cli_reference.py")
    cli_reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli_reference)
    block = cli_reference.params_markdown()
    assert block == markdown_table(STAGES)
    assert "```{latte-params}" in (ROOT / "docs" / "cli.md").read_text()
    for cls in STAGES.values():
        for f in param_fields(cls):
            assert f"`--{f.name.replace('_', '-')}" in block
            assert spec_of(f).help in block
    assert "params:begin" not in (ROOT / "README.md").read_text()


def test_every_parameter_has_help_and_a_range():
    for cls in STAGES.values():
        for f in param_fields(cls):
            spec = spec_of(f)
            assert spec.help and "," not in spec.help[-1:]
            assert spec.choices or isinstance(f.default, bool) or (spec.lo is not None and spec.hi is not None), f.name


def test_cycle_model_text_matches_its_constants():
    assert str(CYCLE_SLACK) in CYCLE_MODEL["latte_score_engine"]
    assert f"+ {OVERHEAD_CYCLES} " in CYCLE_MODEL["latte_score_engine"]
    spec = (ROOT / "docs" / "spec.md").read_text()
    assert f"≤ `{CYCLE_SLACK} × model + beats + {OVERHEAD_CYCLES}`" in spec
    assert f"beats·r_pv·(V rows read + 1) + {ATTENTION_OVERHEAD}`" in spec
    assert "2 * ceil(kept / softmax_lanes) + kept" in CYCLE_MODEL["attention_engines"]
    assert f"+ {ATTENTION_OVERHEAD} (golden.attention_cycles)" in CYCLE_MODEL["attention_engines"]
