"""Derivation figures drawn with matplotlib's Agg renderer: PNG for the HTML (embedded), PDF for LaTeX.

Each `checkers.model.Figure` draws on one Axes of a fresh matplotlib Figure (no pyplot, no global
state). Output is byte-for-byte reproducible (no creation dates or software stamps in the files), so
an unchanged figure never triggers a LaTeX run. A figure whose `draw` raises is reported with the
error, never silently dropped.
"""

from __future__ import annotations

import io
import traceback
from dataclasses import dataclass

from checkers.model import Figure

__all__ = ["RenderedFigure", "render_figure"]

WIDTH_IN, HEIGHT_IN = 6.0, 3.4
PNG_DPI = 130


@dataclass(frozen=True)
class RenderedFigure:
    png: bytes
    pdf: bytes
    error: str = ""


def render_figure(figure: Figure) -> RenderedFigure:
    """Draw `figure` once and save it as PNG and PDF; on an exception, the error in one paragraph."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure as MplFigure

    with matplotlib.rc_context({"font.size": 9, "axes.grid": True, "grid.alpha": 0.3, "svg.hashsalt": "proofcheck",
                                "pdf.compression": 6}):
        fig = MplFigure(figsize=(WIDTH_IN, HEIGHT_IN), layout="constrained")
        ax = fig.add_subplot()
        png, pdf = io.BytesIO(), io.BytesIO()
        try:
            figure.draw(ax)
            # Drawing happens here too: a bad label (mathtext matplotlib cannot parse) fails in savefig.
            fig.savefig(png, format="png", dpi=PNG_DPI, metadata={"Software": None})
            fig.savefig(pdf, format="pdf", metadata={"CreationDate": None, "Producer": None, "Creator": None})
        except Exception as exc:  # a broken figure is shown in red in the report, not a crash of the build
            return RenderedFigure(b"", b"", _describe(exc))
    return RenderedFigure(png.getvalue(), pdf.getvalue())


def _describe(exc: Exception) -> str:
    """The exception in one line, with the innermost frame that lies outside matplotlib (the proof's code)."""
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if "site-packages" not in f.filename and "reporting" not in f.filename]
    where = (f" (in {own[-1].name}, {own[-1].filename.rsplit('/', 1)[-1]} line {own[-1].lineno})" if own else
             " (raised by matplotlib while laying out the figure, e.g. a label it cannot parse)")
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}{where}"
