"""Static PNG figures for papers: plotly's kaleido when installed, else a headless Chromium.

The Chromium path renders each figure alone in a small offline page (plotly.js inlined, static
plot) and takes a screenshot with ``chromium --headless --screenshot``: no Python package
beyond plotly, only the browser binary (Debian's ``chromium``; ``OPTBASIN_CHROMIUM`` names
another).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import plotly.graph_objects as go

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--hide-scrollbars",
    "--disable-component-update",
    "--no-first-run",
    "--virtual-time-budget=5000",
]


def find_chromium() -> str | None:
    explicit = os.environ.get("OPTBASIN_CHROMIUM")
    return explicit if explicit and shutil.which(explicit) else next(filter(None, map(shutil.which, BROWSERS)), None)


def renderer() -> str | None:
    """'kaleido', 'chromium', or None when no way to write PNGs is available."""
    if importlib.util.find_spec("kaleido") is not None:
        return "kaleido"
    return "chromium" if find_chromium() else None


def write_png(fig: go.Figure, path: Path, width: int = 1100, height: int | None = None) -> None:
    height = height or int(fig.layout.height or 450)
    fig = go.Figure(fig)
    fig.layout.updatemenus = ()  # view buttons mean nothing on paper
    if renderer() == "kaleido":
        fig.write_image(path, width=width, height=height)
        return
    browser = find_chromium()
    if browser is None:
        raise RuntimeError("no PNG renderer: install kaleido, or a Chromium (Debian package 'chromium')")
    with tempfile.TemporaryDirectory(prefix="optbasin-png-") as tmp:
        page = Path(tmp) / "figure.html"
        fig.write_html(
            page,
            include_plotlyjs=True,
            full_html=True,
            default_width=width,
            default_height=height,
            config={"staticPlot": True},
        )
        subprocess.run(
            [
                browser,
                *FLAGS,
                f"--user-data-dir={tmp}/profile",
                f"--window-size={width},{height}",
                f"--screenshot={path.resolve()}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
