"""Figure helpers shared by every stage: a headless pyplot and atomic PNG writing."""

from __future__ import annotations


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (safe on clusters without a display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, out_png, title: str | None = None) -> None:
    """Finish a figure (optional suptitle, tight layout) and write it atomically as PNG."""
    from symdistill.core.provenance import atomic_path

    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    pyplot().close(fig)
