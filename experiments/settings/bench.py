"""Settings of the speed benchmarks (``conf/bench.yaml``; the job: ``experiments.bench``). Each suite's section is
passed to its function as keyword arguments, which checks them itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from experiments.schema import setting
from experiments.settings import Common


@dataclass(frozen=True)
class Settings(Common):
    suites: list[Literal["theory", "rnn", "sim", "ensemble", "lm"]] = setting("the suites to run (the CLI's --suite)")
    theory: dict[str, Any] = setting()
    rnn: dict[str, Any] = setting()
    sim: dict[str, Any] = setting()
    ensemble: dict[str, Any] = setting()
    lm: dict[str, Any] = setting()
