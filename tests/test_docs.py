"""The README fits a screen and a bit, and every link in it and in docs/ leads somewhere: a file
of the repository, or a heading of the page it names."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK_RE = re.compile(r"\]\(([^)\s]+)\)")


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    heads = re.findall(r"(?m)^#+ (.+)$", page.read_text(encoding="utf-8"))
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in heads}


def test_the_readme_is_at_most_250_lines():
    assert (REPO / "README.md").read_text(encoding="utf-8").count("\n") <= 250


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_link_leads_somewhere(page: Path):
    broken = []
    for target in LINK_RE.findall(page.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in anchors(linked)):
            broken.append(target)
    assert not broken, broken


def test_the_settings_reference_is_current():
    """docs/settings-reference.md is written from the Settings model: a key added or changed
    without regenerating it (`python -m app.settings_doc > docs/settings-reference.md`) fails here."""
    from app.settings_doc import reference

    assert (REPO / "docs" / "settings-reference.md").read_text(encoding="utf-8") == reference()
