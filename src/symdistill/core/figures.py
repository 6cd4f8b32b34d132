"""Figure helpers shared by every stage: a headless pyplot and atomic writing of each figure as a
150 dpi PNG (screens, the HTML report) and a vector PDF beside it (print, papers)."""

from __future__ import annotations

from pathlib import Path


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (safe on clusters without a display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


DPI = 150


def save(fig, out_png, title: str | None = None) -> None:
    """Finish a figure (optional suptitle, tight layout) and write it atomically as ``out_png``
    and as the same name with .pdf."""
    from symdistill.core.provenance import atomic_path

    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(Path(out_png).with_suffix(".pdf")) as tmp:
        fig.savefig(tmp, format="pdf", metadata={"CreationDate": None})  # no timestamp: same bytes each run
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=DPI, format="png")
    pyplot().close(fig)
