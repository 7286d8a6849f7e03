"""The HTML report of a tiny sweep in Chromium: every figure loaded, the tables there, the
table of contents pointing at real sections, nothing wider than the page at 1280 px (and at a
phone's 390 px, where wide tables scroll inside their own box), printable, and no request
beyond the file itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.browser import Browsing, TinyStore

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Elements whose right edge passes the viewport, ignoring those inside a box that scrolls
# horizontally (a wide table on a phone) as long as that box itself fits.
OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth;
  const scrolls = (el) => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const style = getComputedStyle(p);
      const scrollable = ['auto', 'scroll'].includes(style.overflowX);
      if (scrollable && p.scrollWidth > p.clientWidth) return true;
    }
    return false;
  };
  const wide = [];
  for (const el of document.querySelectorAll('body *')) {
    const box = el.getBoundingClientRect();
    if (box.width > 0 && box.right > width + 1 && !scrolls(el)) {
      wide.push(`${el.tagName.toLowerCase()}.${el.className} right=${Math.round(box.right)}`);
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, width, wide: wide.slice(0, 8)};
}"""

IMAGES = """() => Array.from(document.images).map(
  (img) => ({alt: img.alt, complete: img.complete, width: img.naturalWidth}))"""

CONTENTS = """() => {
  const links = Array.from(document.querySelectorAll('nav.nb-contents a'));
  const ids = Array.from(document.querySelectorAll('[id]')).map((el) => el.id);
  return {
    links: links.map((a) => a.getAttribute('href')),
    missing: links.map((a) => a.getAttribute('href').slice(1))
                  .filter((id) => !document.getElementById(id)),
    duplicates: ids.filter((id, i) => ids.indexOf(id) !== i),
  };
}"""


def _fits(page: object, label: str) -> None:
    layout = page.evaluate(OVERFLOWING)  # type: ignore[attr-defined]
    assert layout["scrollWidth"] <= layout["width"], f"{label}: the page scrolls sideways {layout}"
    assert not layout["wide"], f"{label}: wider than the page: {layout['wide']}"


def test_report_page_loads_fits_and_has_contents(
    tiny_report: TinyStore, browsing: Browsing, tmp_path: Path
) -> None:
    page = browsing.page
    page.goto(tiny_report.report_html.as_uri())
    page.wait_for_load_state("load")

    images = page.evaluate(IMAGES)
    assert len(images) >= 5, images
    assert all(img["complete"] and img["width"] > 0 for img in images), images

    tables = page.locator("main table")
    assert tables.count() >= 3  # environment + a final table per workload
    headers = " ".join(page.locator("main table th").all_inner_texts())
    for column in ("memory (MB)", "CPU %", "2 images (s)"):
        assert column in headers

    contents = page.evaluate(CONTENTS)
    assert len(contents["links"]) >= 8, contents
    assert not contents["missing"] and not contents["duplicates"], contents
    for section in ("#Environment", "#Conclusions"):
        assert section in contents["links"]
    page.click("nav.nb-contents a[href='#Conclusions']")
    assert page.evaluate("() => location.hash") == "#Conclusions"

    _fits(page, "1280 px")
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(200)
    _fits(page, "390 px")

    page.emulate_media(media="print")
    hidden = page.evaluate(
        "() => getComputedStyle(document.querySelector('a.anchor-link')).display"
    )
    assert hidden == "none"
    pdf = page.pdf(path=str(tmp_path / "report.pdf"), format="A4")
    assert pdf.startswith(b"%PDF") and len(pdf) > 20_000

    assert browsing.blocked == [], f"the report loaded from the network: {browsing.blocked}"
