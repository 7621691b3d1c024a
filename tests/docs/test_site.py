"""The documentation site stays buildable and true: Sphinx builds docs/ with warnings as errors, every
`latte-rtl` command the README and the pages show parses with the real parser, the README stays short
and its links resolve, and every figure and data file a page names exists."""

import importlib.util
import re
import shlex
import subprocess
import sys
from pathlib import Path

from latte_rtl.errors import UserError
from tests.conftest import _require

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SPHINX_HINT = "Sphinx missing: pip install -e '.[dev]' (sphinx, myst-parser, furo)"
README_MAX_LINES = 250


def _pages() -> list[Path]:
    """README.md and every Markdown page of the site (its build output left out)."""
    return [ROOT / "README.md", *sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts)]


def _build_parser():
    try:
        from latte_rtl.commands import build_parser
    except ImportError:
        from latte_rtl.cli import build_parser
    return build_parser()


FENCE = re.compile(r"^(```+|~~~+)(.*)$")


def fenced_lines(text: str):
    """(line number, line) of every line inside a fenced code block, `\\` continuations joined."""
    inside, fence, pending, start = False, "", "", 0
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE.match(line.strip())
        if match and (not inside or match.group(1) == fence):
            inside, fence = (not inside), match.group(1)
            continue
        if not inside:
            continue
        if pending:
            line = pending + " " + line.strip()
        else:
            start = number
        if line.rstrip().endswith("\\"):
            pending = line.rstrip()[:-1]
            continue
        pending = ""
        yield start, line


# The one rule for commands that are not meant to run as written: a token that is a placeholder, i.e.
# <something> in angle brackets, or an ellipsis (… or ...). Nothing else is skipped.
PLACEHOLDER = re.compile(r"<[^<>]+>|…|^\.\.\.$")
SEPARATORS = {"&&", "||", ";", "|"}


def shown_commands():
    """(page, line, argv) of every `latte-rtl` command in a fenced block (comments stripped, chains split)."""
    found = []
    for page in _pages():
        for number, line in fenced_lines(page.read_text()):
            if "latte-rtl" not in line:
                continue
            try:
                tokens = shlex.split(line, comments=True)
            except ValueError:  # not shell (e.g. a program's output quoting an unbalanced string)
                continue
            segment: list[str] = []
            for token in [*tokens, ";"]:
                if token not in SEPARATORS:
                    segment.append(token)
                    continue
                if segment and Path(segment[0]).name == "latte-rtl":
                    found.append((page.relative_to(ROOT).as_posix(), number, segment[1:]))
                segment = []
    return found


def test_every_shown_command_parses():
    commands = shown_commands()
    assert len(commands) > 40, "the extraction found too few commands: its pattern is wrong"
    parser = _build_parser()
    failed = []
    for page, number, argv in commands:
        if any(PLACEHOLDER.search(token) for token in argv):
            continue
        try:
            parser.parse_args(argv)
        except UserError as exc:
            failed.append(f"{page}:{number}: latte-rtl {shlex.join(argv)}: {exc}")
        except SystemExit as exc:  # --help / --version
            if exc.code:
                failed.append(f"{page}:{number}: latte-rtl {shlex.join(argv)}: exit {exc.code}")
    assert not failed, "\n".join(failed)


SCRIPT = re.compile(r"\b((?:benchmarks|examples/verilog_tb|training)/\w+\.py)\b(.*)")


def test_every_shown_script_command_names_real_options():
    """`python benchmarks/X.py --opt ...` in a fenced block: the script exists and defines each option."""
    bad, seen = [], 0
    for page in _pages():
        for number, line in fenced_lines(page.read_text()):
            match = SCRIPT.search(line.split(" #")[0])
            if not match:
                continue
            seen += 1
            script = ROOT / match.group(1)
            if not script.is_file():
                bad.append(f"{page.relative_to(ROOT)}:{number}: {match.group(1)} does not exist")
                continue
            source = script.read_text()
            for flag in re.findall(r"(?<!\S)(--[\w-]+)", match.group(2)):
                if f'"{flag}"' not in source:
                    bad.append(f"{page.relative_to(ROOT)}:{number}: {match.group(1)} has no {flag}")
    assert seen > 5, "the extraction found too few script commands: its pattern is wrong"
    assert not bad, "\n".join(bad)


def test_placeholder_rule_is_narrow():
    """Only angle-bracket placeholders and ellipses skip a command; concrete commands are all checked."""
    assert PLACEHOLDER.search("<head dim>") and PLACEHOLDER.search("…") and PLACEHOLDER.search("...")
    for token in ("build/d", "--dim", "64", "tcp://HOST:8786", "DIR", "lm", "a|b", "[x]", ".."):
        assert not PLACEHOLDER.search(token), token
    skipped = [c for c in shown_commands() if any(PLACEHOLDER.search(t) for t in c[2])]
    assert len(skipped) <= 3, skipped


def test_readme_is_short_and_keeps_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= README_MAX_LINES
    lines = [line for _, line in fenced_lines(readme)]
    assert any(line.startswith("bash scripts/demo.sh") and "main job" in line for line in lines)
    assert any(line.startswith("bash scripts/test.sh") and "the test command" in line for line in lines)
    assert (ROOT / "scripts" / "demo.sh").is_file() and (ROOT / "scripts" / "test.sh").is_file()
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text().splitlines()  # CI runs the test command


LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def test_relative_links_resolve():
    missing = []
    for page in _pages():
        for target in LINK.findall(page.read_text()):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            path = target.split("#")[0]
            if not (page.parent / path).exists():
                missing.append(f"{page.relative_to(ROOT)}: {target}")
    assert not missing, missing


def test_figures_and_data_named_exist_and_every_figure_is_shown():
    named = set()
    for path in [*_pages(), *ROOT.glob("benchmarks/*.py")]:
        named |= set(re.findall(r"docs/(?:img|data)/[\w.-]+\.\w+", path.read_text()))
    missing = sorted(n for n in named if not (ROOT / n).exists() and not n.endswith("fuzz_run.json"))
    assert not missing, missing
    shown = "\n".join(p.read_text() for p in _pages())
    unshown = [p.name for p in (DOCS / "img").glob("*.png") if f"img/{p.name})" not in shown]
    assert not unshown, unshown
    assert not list(DOCS.glob("*.png")) and not list(DOCS.glob("*.json")), "figures go to docs/img, data to docs/data"


def test_site_builds_without_warnings(tmp_path):
    _require("sphinx", "Sphinx", SPHINX_HINT)
    _require("myst_parser", "myst-parser", SPHINX_HINT)
    out = tmp_path / "html"
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                           "-d", str(tmp_path / "doctrees"), str(DOCS), str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-5000:]
    for page in ("index", "guide", "engine", "protocol", "decode", "workloads", "verification", "cli",
                 "architecture", "spec", "changelog", "results/index", "results/quality"):
        assert (out / f"{page}.html").is_file(), page
    cli = (out / "cli.html").read_text()
    from latte_rtl.config import STAGES
    from latte_rtl.params import cli_flag, param_fields

    for name, _, _ in _cli_reference().subcommands(_build_parser()):
        assert f"latte-rtl {name}" in cli, name
    for cls in STAGES.values():
        for f in param_fields(cls):
            assert cli_flag(f.name) in cli, f.name
    assert list((out / "_images").glob("*.png")), "no figure was copied"


def _cli_reference():
    """docs/_ext/cli_reference.py, the site's CLI directives, as a module."""
    spec = importlib.util.spec_from_file_location("cli_reference", DOCS / "_ext" / "cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_lists_every_option_of_every_command():
    ref = _cli_reference()
    parser = _build_parser()
    subs = ref.subcommands(parser)
    assert [name for name, _, _ in subs] == list(parser._subparsers._group_actions[0].choices)
    for name, _, sub in subs:
        listed = " ".join(inv for _, rows in ref.option_groups(sub) for inv, _ in rows)
        for action in sub._actions:
            if action.option_strings and "--help" not in action.option_strings:
                assert action.option_strings[-1] in listed, (name, action.option_strings)
