"""Where the data sets live: ``data.root`` (an explicit argument), else ``$RNNMF_DATA_DIR``, else ``./data``.

Below the root the layout is fixed: ``MNIST/raw/`` (torchvision's raw layout) and ``ptb/`` (Mikolov's PTB files).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "RNNMF_DATA_DIR"
DEFAULT_ROOT = "data"


def resolve_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Return the data root as an absolute path (not required to exist).

    An explicit ``root`` wins; an unset or empty ``$RNNMF_DATA_DIR`` falls through to ``./data`` in the working
    directory. The path is made absolute so that error messages say exactly where files are expected.
    """
    if root is None or str(root) == "":
        root = os.environ.get(ENV_VAR) or DEFAULT_ROOT
    return Path(root).expanduser().absolute()
