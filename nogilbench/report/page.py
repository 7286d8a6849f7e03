"""The report's HTML page: the nbconvert template (self-contained, readable on a phone and in
print, see templates/nogilbench-report) and the table of contents added to the rendered page.

nbconvert gives every Markdown heading an id (its text, spaces as dashes) and an anchor link;
`add_contents` makes those ids unique (two workloads may share a sub-heading) and puts a
contents list of the h2/h3 sections after the title.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bs4 import BeautifulSoup, Tag

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE_NAME = "nogilbench-report"
CONTENTS_LEVELS = ("h2", "h3")


@dataclass
class Section:
    """One heading of the page: its text, its (unique) id and the sub-sections below it."""

    text: str
    anchor: str
    children: list[Section] = field(default_factory=list)


def _heading_text(heading: Tag) -> str:
    parts = [
        str(piece)
        for piece in heading.find_all(string=True)
        if not (piece.parent and "anchor-link" in (piece.parent.get("class") or []))
    ]
    return " ".join("".join(parts).split())


def _unique_ids(headings: list[Tag]) -> None:
    """Give each heading a unique id (suffix -2, -3, ...) and point its anchor link at it."""
    seen: dict[str, int] = {}
    for heading in headings:
        base = str(heading.get("id") or "section")
        seen[base] = seen.get(base, 0) + 1
        anchor = base if seen[base] == 1 else f"{base}-{seen[base]}"
        heading["id"] = anchor
        link = heading.find("a", class_="anchor-link")
        if isinstance(link, Tag):
            link["href"] = f"#{anchor}"


def sections(soup: BeautifulSoup) -> list[Section]:
    """The h2 sections of the page with their h3 sub-sections, ids made unique."""
    main = soup.find("main") or soup
    headings = [h for h in main.find_all(["h1", "h2", "h3", "h4"]) if isinstance(h, Tag)]
    _unique_ids(headings)
    tree: list[Section] = []
    for heading in headings:
        if heading.name not in CONTENTS_LEVELS:
            continue
        section = Section(_heading_text(heading), str(heading["id"]))
        if heading.name == "h2" or not tree:
            tree.append(section)
        else:
            tree[-1].children.append(section)
    return tree


def _contents_list(soup: BeautifulSoup, items: list[Section]) -> Tag:
    listing = soup.new_tag("ol")
    for item in items:
        entry = soup.new_tag("li")
        link = soup.new_tag("a", href=f"#{item.anchor}")
        link.string = item.text
        entry.append(link)
        if item.children:
            entry.append(_contents_list(soup, item.children))
        listing.append(entry)
    return listing


def add_contents(html: str) -> str:
    """`html` (an nbconvert page) with unique heading ids and a table of contents."""
    soup = BeautifulSoup(html, "html.parser")
    tree = sections(soup)
    if not tree:
        return str(soup)
    nav = soup.new_tag("nav", attrs={"class": "nb-contents", "aria-label": "Contents"})
    title = soup.new_tag("p", attrs={"class": "nb-contents-title"})
    title.string = "Contents"
    nav.append(title)
    nav.append(_contents_list(soup, tree))
    main = soup.find("main") or soup
    first_title = main.find("h1")
    cell = first_title.find_parent(class_="jp-Cell") if isinstance(first_title, Tag) else None
    if isinstance(cell, Tag):
        cell.insert_after(nav)  # right below the report's title
    elif isinstance(main, Tag):
        main.insert(0, nav)
    return str(soup)
