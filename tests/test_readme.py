"""Every `rnnmf ...` command in the README runs as written (issue 14: its `theory critical` example was infeasible).

The commands are taken from the README's code blocks and inline code; synopses (with `|` alternatives or an upper-case
placeholder such as COMMAND) are not commands. The fast test runs the calculators and `--help` for real and checks
every job command up to the point of running it (its config composed, every rule and validation passed, its output
path accepted); the slow test runs each job at the smoke profile (the README's `profile=...` replaced by
`profile=smoke`) and `rnnmf report` after them.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app

README = Path(__file__).resolve().parents[1] / "README.md"
CALCULATORS = ("theory vanilla", "theory minimal", "theory critical", "theory gru", "theory lstm")


def readme_commands() -> list[str]:
    text = README.read_text()
    spans = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    lines = [line.split("#")[0].strip() for block in spans for line in block.splitlines()]
    inline = [" ".join(m.split()) for m in re.findall(r"`(rnnmf [^`]+)`", text)]
    commands = []
    for cmd in [*lines, *inline]:
        if not cmd.startswith("rnnmf ") or "|" in cmd or re.search(r"\b[A-Z]{3,}\b", cmd):
            continue
        if cmd not in commands:
            commands.append(cmd)
    return commands


COMMANDS = readme_commands()


def test_the_readme_has_the_commands_this_test_expects():
    assert len(COMMANDS) >= 15, COMMANDS
    assert "rnnmf theory critical --cell minimal --q-star 8 --mu-b 4 --R 0.46" in COMMANDS
    assert any(c.startswith("rnnmf sweep trainability profile=paper --executor submitit") for c in COMMANDS)


def at_smoke(cmd: str) -> list[str]:
    words = shlex.split(cmd)[1:]
    if words[:2] in (["report"], ["--help"]) or " ".join(words[:2]) in CALCULATORS:
        return words
    words = [w for w in words if not w.startswith("profile=")]
    return [*words, "profile=smoke", "run.quiet=true"]


@pytest.mark.parametrize("cmd", COMMANDS)
def test_readme_command_is_accepted(cmd, tmp_path, monkeypatch):
    """Calculators and --help for real; jobs up to the point of running (compose, rules, validation, output path)."""
    from experiments import runner
    from rnnmf.io import check_run_path

    def dry_run(job, overrides=(), *, out=None, fresh=False):
        _, cfg = runner.prepare(job, overrides)
        path = check_run_path(out if out is not None else runner.run_dir(cfg, job))
        if job == "bench":  # the command prints the table it would have written
            path.mkdir(parents=True, exist_ok=True)
            (path / "bench.md").write_text("# rnnmf bench\n")
        return {}, path

    monkeypatch.setattr(runner, "execute", dry_run)
    (tmp_path / "results").mkdir()  # rnnmf report needs an existing results folder
    words = at_smoke(cmd)
    result = CliRunner().invoke(app, words)
    assert result.exit_code == 0, f"{cmd}: {result.output}"
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_every_readme_command_runs_at_smoke_size(tmp_path, data_root):
    """The jobs for real at the smoke profile, then `rnnmf report` over what they wrote."""
    jobs = [c for c in COMMANDS if " ".join(shlex.split(c)[1:3]) not in CALCULATORS and "report" not in c]
    for cmd in [*jobs, *[c for c in COMMANDS if "report" in c]]:
        result = CliRunner().invoke(app, at_smoke(cmd))
        assert result.exit_code == 0, f"{cmd}: {result.output}"
