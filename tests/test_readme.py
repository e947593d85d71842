"""README is the front door: it opens with the set-up commands, fits on one screen, and every file and anchor it
links to exists. Its commands and sweeps are exercised with the docs' (tests/test_docs.py)."""

import re
from pathlib import Path

from markdown.extensions.toc import slugify

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
MAX_WORDS = 1500


def test_readme_opens_with_the_setup_commands():
    first_block = re.search(r"```sh\n(.*?)```", README, flags=re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()]
    assert README.index("```sh") < README.index("\n## ")
    assert commands[:2] == ["make demo", "make test"]


def test_readme_fits_on_one_screen():
    prose = re.sub(r"```.*?```", " ", README, flags=re.S)  # what a newcomer reads; the examples are extra
    assert len(README.split()) < MAX_WORDS, f"README: {len(README.split())} words"
    assert len(prose.split()) < MAX_WORDS


def _links() -> list[str]:
    targets = re.findall(r"\]\(([^)\s]+)\)", README)
    return [t for t in targets if "://" not in t]


def test_every_relative_link_in_readme_exists():
    local = [t.split("#")[0] for t in _links()]
    assert local, "README links no file"
    missing = [t for t in local if not (ROOT / t).exists()]
    assert missing == []


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    headings = re.findall(r"^#{1,6} (.+)$", text, flags=re.M)
    return {slugify(re.sub(r"[`*]", "", heading), "-") for heading in headings}


def test_readme_links_into_the_docs_resolve():
    """mkdocs --strict checks the links between docs pages; this checks README's into them, anchors too."""
    into_docs = [t for t in _links() if t.startswith("docs/")]
    assert into_docs, "README links no docs page"
    for target in into_docs:
        path, _, anchor = target.partition("#")
        assert path.endswith(".md") and (ROOT / path).is_file(), target
        if anchor:
            assert anchor in _anchors(ROOT / path), f"{target}: no such heading"
