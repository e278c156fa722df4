"""Writes the slide, sheet, CSV and scan samples in samples/ from real, freely licensed text on a
Debian machine (see samples/README.md). Run once, from the repository root, with the project's
environment; the outputs are committed, so users never run it.

    .venv/bin/python tests/make_samples.py
"""

from __future__ import annotations

import csv
import gzip
import re
import shutil
from pathlib import Path

from office_factory import write_pptx, write_scan, write_xlsx

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
APT_README = Path("/usr/share/doc/apt/README.md.gz")
DISTRO_INFO = Path("/usr/share/distro-info")
BC_README = Path("/usr/share/doc/bc/README")


def apt_slides() -> list[tuple[str, list[str], None, None]]:
    """APT's README, a slide a section: its heading as the title, its paragraphs as the lines."""
    text = gzip.decompress(APT_README.read_bytes()).decode("utf-8")
    sections = re.split(r"\n(?=[^\n]+\n[=-]{3,}\n|### )", text)
    slides = []
    for section in sections:
        lines = section.strip().splitlines()
        title = lines[0].lstrip("# ").strip()
        body = "\n".join(ln for ln in lines[1:] if not re.fullmatch(r"[=-]{3,}", ln.strip()))
        blocks = re.split(r"\n\s*\n|\n(?=\* )", body.replace("**", ""))  # paragraphs, and each list item alone
        paragraphs = [" ".join(p.split()).removeprefix("* ") for p in blocks if p.strip()]
        slides.append((title, paragraphs[:12], None, None))
    return slides


def main() -> None:
    write_pptx(SAMPLES / "apt-readme-slides.pptx", apt_slides())
    shutil.copyfile(DISTRO_INFO / "debian.csv", SAMPLES / "debian-releases.csv")
    with (DISTRO_INFO / "ubuntu.csv").open(encoding="utf-8") as f:
        ubuntu = list(csv.reader(f))
    write_xlsx(SAMPLES / "ubuntu-releases.xlsx", {"Ubuntu releases": ubuntu})
    lines = BC_README.read_text(encoding="utf-8").expandtabs(4).splitlines()[:26]
    write_scan(SAMPLES / "bc-readme-scan.pdf", [lines])


if __name__ == "__main__":
    main()
