"""One figure style for every plot: the same fonts, sizes, colour maps, and PNG + PDF output.

Figures are drawn from CSVs only, so a plot can be redrawn without re-running the job.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use(os.environ.get("MPLBACKEND", "Agg"))
import matplotlib.pyplot as plt  # noqa: E402

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 160,
    "savefig.bbox": "tight",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "lines.linewidth": 1.4,
    "image.cmap": "magma",
}
#: the colour map for accuracy heat maps (Fig. 2: higher accuracies in red) and for sequential curves
HEATMAP_CMAP = "RdYlBu_r"
SEQUENTIAL_CMAP = "viridis"
#: the four initialisation conditions of Fig. 3, coloured as in the paper
CONDITION_STYLE = {
    ("critical", "orthogonal"): {"color": "tab:blue", "linestyle": "-"},
    ("critical", "gaussian"): {"color": "tab:red", "linestyle": "-"},
    ("off_critical", "orthogonal"): {"color": "tab:green", "linestyle": ":"},
    ("off_critical", "gaussian"): {"color": "black", "linestyle": ":"},
}
THEORY_STYLE = {"color": "white", "linestyle": "--", "linewidth": 1.2}


def figure(nrows: int = 1, ncols: int = 1, *, width: float = 3.2, height: float = 2.6, **kwargs):
    """A new figure in the house style; ``width``/``height`` are per panel, in inches."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False,
                                 layout="constrained", **kwargs)
    return fig, axes


def panel_label(ax, label: str) -> None:
    """(a), (b), ... in the top-left corner, as in the paper's figures."""
    ax.set_title(f"({label})", loc="left", fontweight="bold")


def save(fig, stem: str | os.PathLike) -> list[Path]:
    """Save ``stem``.png and ``stem``.pdf (written to a temporary name, then renamed); returns the paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    with plt.rc_context(STYLE):
        for ext in ("png", "pdf"):
            final = stem.with_suffix(f".{ext}")
            tmp = final.with_name(f".{final.stem}.tmp{os.getpid()}.{ext}")
            fig.savefig(tmp, format=ext)
            os.replace(tmp, final)
            paths.append(final)
    plt.close(fig)
    return paths
