"""The report page: nbconvert with the project's template (self-contained, phone and print
CSS) and the table of contents with unique section anchors (nogilbench.report.page)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
from bs4 import BeautifulSoup
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from nogilbench.report import page, render


def _notebook(path: Path) -> Path:
    book = new_notebook(
        cells=[
            new_code_cell("setup()", metadata={"tags": [render.HIDE_TAG]}),
            new_markdown_cell("# The title\n\nIntro."),
            new_markdown_cell("## Environment"),
            new_markdown_cell("## The final table"),
            new_code_cell(
                "show()",
                outputs=[
                    new_output("display_data", {"text/markdown": "### pillow: 2 workers"}),
                    new_output("display_data", {"text/markdown": "### pillow: 2 workers"}),
                ],
            ),
            new_markdown_cell("## Conclusions\n\nText."),
        ]
    )
    nbformat.write(book, path)
    return path


def test_rendered_page_has_contents_unique_anchors_and_no_network(tmp_path: Path) -> None:
    html = render.render_html(_notebook(tmp_path / "r.ipynb"), tmp_path / "r.html").read_text()
    soup = BeautifulSoup(html, "html.parser")

    nav = soup.select_one("nav.nb-contents")
    assert nav is not None
    links = [a["href"] for a in nav.select("a")]
    assert links == [
        "#Environment", "#The-final-table", "#pillow:-2-workers", "#pillow:-2-workers-2",
        "#Conclusions",
    ]  # fmt: skip
    assert [a["href"] for a in nav.select("ol ol a")] == links[2:4]  # h3 under their h2
    ids = [tag["id"] for tag in soup.select("[id]")]
    assert len(ids) == len(set(ids))
    for link in links:
        heading = soup.find(id=link[1:])
        assert heading is not None and heading.find("a", class_="anchor-link")["href"] == link
    # Right after the title cell, before the first section.
    assert html.index("<nav") < html.index('id="Environment"')
    assert html.index('id="The-title"') < html.index("<nav")

    assert 'name="viewport"' in html
    assert "@media print" in html and "@media (max-width: 700px)" in html
    external = re.findall(r"""<(?:script|link)[^>]+(?:src|href)=["'](?:https?:)?//[^"']+""", html)
    assert external == []
    assert "setup()" not in html and "show()" not in html  # no code, hidden cell gone


def test_a_page_without_sections_is_left_as_it_is() -> None:
    html = "<html><body><main><p>nothing</p></main></body></html>"
    assert "nb-contents" not in page.add_contents(html)
