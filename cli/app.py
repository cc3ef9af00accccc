"""The typer application object and the one-line error policy shared by every command.

Bad input of any kind — an unknown command or option, a malformed override, an unknown config key, an invalid value —
prints ONE line on stderr and exits with status 2, without a traceback.
"""

from __future__ import annotations

import errno
import json
import math
import signal
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import typer
from typer import _click
from typer.core import TyperGroup

from rnnmf.errors import RnnmfError

EXIT_USAGE = 2


def fail(message: str, code: int = EXIT_USAGE) -> None:
    """Print one line on stderr and exit."""
    message = " ".join(str(message).split())  # one line, whatever the source said
    typer.echo(f"rnnmf: error: {message}", err=True)
    raise SystemExit(code)


class OneLineErrors(TyperGroup):
    """A click group whose ``main`` turns every user error into one stderr line and exit status 2."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra: Any):  # noqa: D401
        extra.pop("standalone_mode", None)
        try:
            rv = super().main(args=args, prog_name=prog_name or "rnnmf", standalone_mode=False, **extra)
        except _click.exceptions.UsageError as exc:
            fail(exc.format_message())
        except _click.exceptions.ClickException as exc:
            fail(exc.format_message())
        except RnnmfError as exc:
            fail(str(exc))
        except NotImplementedError as exc:
            fail(str(exc) or "not implemented yet", code=1)
        except typer.Exit as exc:
            raise SystemExit(exc.exit_code) from None
        except KeyboardInterrupt as exc:
            interrupted(exc)
        except OSError as exc:  # a path the checks could not foresee (a disk that filled up, a file that vanished)
            fail(f"{exc.strerror or type(exc).__name__}: {exc.filename or ''}".strip(": "),
                 code=EXIT_USAGE if exc.errno in _INPUT_ERRNOS else 1)
        except typer.Abort:
            typer.echo("rnnmf: aborted", err=True)
            raise SystemExit(1) from None
        raise SystemExit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx):
        """Ctrl-C (and SIGTERM, which the runner turns into one) caught here, before click turns it into a silent
        exit status 130: one line saying where the finished work is and that the same command resumes."""
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            interrupted(exc)


#: OS errors that mean the request named a bad path (exit 2), not that the machine failed (exit 1)
_INPUT_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ENOENT,
                 errno.ENAMETOOLONG}


def interrupted(exc: BaseException) -> None:
    """One line for a run stopped by Ctrl-C or SIGTERM: where its finished work is, and that the same command
    resumes; exit 130 (SIGINT) or 143 (SIGTERM), as a shell reports a process killed by that signal."""
    from rnnmf.errors import Interrupted

    term = isinstance(exc, Interrupted) and exc.signum == signal.SIGTERM
    folder = getattr(exc, "run_folder", None)
    where = (f"status 'interrupted' in {folder}/meta.json; finished work is kept: run the same command again to "
             "resume") if folder else "nothing was written; run the same command again to start"
    typer.echo(f"rnnmf: interrupted by {'SIGTERM' if term else 'SIGINT'}: {where}", err=True)
    raise SystemExit(143 if term else 130)


def jsonable(value: Any) -> Any:
    """Plain JSON: numpy scalars to Python, an infinite or undefined number to null."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def print_result(result: Mapping[str, Any], as_json: bool = False) -> None:
    """One JSON object, or an aligned two-column table for people."""
    if as_json:
        typer.echo(json.dumps(jsonable(result)))
        return
    width = max(len(k) for k in result) if result else 0
    for key, value in result.items():
        if hasattr(value, "item") and callable(value.item):
            value = value.item()
        text = f"{value:.10g}" if isinstance(value, float) else str(value)
        typer.echo(f"{key:<{width}}  {text}")


def print_summary(summary: Mapping[str, Any], path) -> None:
    if summary:
        print_result(summary)
    typer.echo(f"results: {path}")
    sys.stdout.flush()


app = typer.Typer(
    cls=OneLineErrors,
    name="rnnmf",
    help="Reproduce Chen, Pennington & Schoenholz (ICML 2018): mean-field theory, critical initialisation and "
    "dynamical isometry of vanilla RNNs and minimalRNNs. Job commands take friendly options plus trailing hydra "
    "overrides (key=value, e.g. profile=paper); results land in results/<job>/<profile>-<hash>/.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
