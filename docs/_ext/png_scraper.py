"""A sphinx-gallery image scraper for the examples, which save their plots as PNG files.

The examples write ``*.png`` into the current directory (the example's folder while the gallery
runs) with ``savefig`` and close the figure, so matplotlib's scraper sees nothing. This scraper
moves each new PNG into the gallery's image folder. It lives in a module (not in ``conf.py``)
so that Sphinx can pickle the configuration.
"""

from __future__ import annotations

import glob
import shutil
from pathlib import Path


class PNGScraper:
    """Collect the PNG files an example writes into the current directory (the examples save
    their plots with ``savefig`` and close the figure, so matplotlib's scraper sees nothing)."""

    def __repr__(self) -> str:  # a stable repr keeps Sphinx's environment cache valid
        return "PNGScraper"

    def __call__(self, block, block_vars, gallery_conf):
        from sphinx_gallery.scrapers import figure_rst

        folder = Path(block_vars["src_file"]).parent
        images = []
        for png in sorted(glob.glob(str(folder / "*.png"))):
            target = block_vars["image_path_iterator"].next()
            shutil.move(png, target)
            images.append(target)
        return figure_rst(images, gallery_conf["src_dir"])
