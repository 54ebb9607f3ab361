"""The administrator's documents: the README links the developer guide, every relative link and anchor of
README.md, docs/development.md and CHANGELOG.md resolves, the changelog has the plugin's version."""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


# --- README and its links ------------------------------------------------------------------------------

def _slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path):
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.*?)\s*#*$", text, re.M)}


def _links(path):
    """Link and image targets, outside code blocks, code spans and HTML comments."""
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```|<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    return [m.group(1) for m in re.finditer(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", text)]


DOCS = ("README.md", "docs/development.md", "CHANGELOG.md")


def test_the_readme_links_the_developer_guide_and_every_link_resolves():
    readme_links = _links(ROOT / "README.md")
    assert "docs/development.md" in {x.split("#")[0] for x in readme_links}
    assert any(x.startswith("../README.md") for x in _links(ROOT / "docs" / "development.md"))
    checked = 0
    for doc in DOCS:
        base = (ROOT / doc).parent
        for link in _links(ROOT / doc):
            if re.match(r"[a-z]+:", link):
                continue  # https:, mailto:
            file_part, _, anchor = link.partition("#")
            target = (base / file_part).resolve() if file_part else ROOT / doc
            assert target.exists(), "%s links %s, which does not exist" % (doc, link)
            if anchor:
                assert anchor in _anchors(target), "%s links %s: no such heading" % (doc, link)
            checked += 1
    assert checked > 10


def test_the_link_check_sees_a_broken_link_and_a_broken_anchor(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text("# A title / here\n[a](missing.md) [b](#a-title--here) `[c](code.md)` <!-- [d](d.md) -->\n")
    assert _links(doc) == ["missing.md", "#a-title--here"]
    assert "a-title--here" in _anchors(doc)


def test_the_changelog_has_the_plugin_version():
    version = json.loads((ROOT / "plugin.json").read_text())["version"]
    assert re.search(r"^## \[?%s\]?" % re.escape(version), (ROOT / "CHANGELOG.md").read_text(), re.M)
