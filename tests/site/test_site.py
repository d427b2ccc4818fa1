"""The website as readers meet it: every page built, local assets only, launch buttons and
folded solutions as the course promises. The browser half lives in test_browser.py."""
import re
from urllib.parse import urljoin, urlparse

import pytest

from tests.helpers import book_config, repo_url
from tests.site.build import build, toc_pages

PAGES = toc_pages()


@pytest.fixture(scope="module")
def html():
    return build()


def page_html(html, page):
    return (html / f"{page}.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("page", PAGES)
def test_every_page_is_built(html, page):
    assert (html / f"{page}.html").exists()


@pytest.mark.parametrize("page", PAGES)
def test_page_loads_no_script_style_or_image_from_another_host(html, page):
    text = page_html(html, page)
    assets = re.findall(r'<(?:script|img)[^>]*\bsrc="([^"]+)"', text)
    assets += re.findall(r'<link[^>]*rel="(?:stylesheet|preload)"[^>]*href="([^"]+)"', text)
    remote = [a for a in assets if urlparse(a).scheme in ("http", "https") or a.startswith("//")]
    assert not remote, f"{page} loads assets from the network: {remote}"


def test_mathjax_is_served_by_the_site_itself(html):
    text = page_html(html, "chapters/02_qkv_math")
    src = re.search(r'<script[^>]*src="([^"]*mathjax[^"]*)"', text).group(1)
    assert not urlparse(src).scheme
    assert (html / "chapters" / src.split("?")[0]).resolve().exists()


@pytest.mark.parametrize("page", [p for p in PAGES if p.startswith(("chapters/", "notebooks/"))])
def test_launch_buttons_open_the_lab_in_the_configured_repository(html, page):
    lab = "notebooks/" + page.split("/", 1)[1] + ".ipynb"
    branch = book_config()["repository"].get("branch", "main")
    org_repo = urlparse(repo_url()).path.strip("/")
    links = set(re.findall(r'href="(https://(?:colab\.research\.google\.com|mybinder\.org)[^"]+)"', page_html(html, page)))
    assert f"https://colab.research.google.com/github/{org_repo}/blob/{branch}/{lab}" in links
    assert f"https://mybinder.org/v2/gh/{org_repo}/{branch}?urlpath=lab/tree/{lab}" in links


@pytest.mark.parametrize("page", [p for p in PAGES if p.startswith("notebooks/")])
def test_every_solution_is_folded_behind_a_toggle(html, page):
    text = page_html(html, page)
    cells = re.findall(r'<div class="cell [^"]*tag_solution[^"]*"[^>]*>(.*?)<div class="cell', text, flags=re.S)
    assert len(cells) >= 4
    for cell in cells:
        assert re.search(r'<details class="[^"]*\bhide above-input\b', cell), "a solution is shown unfolded"


@pytest.mark.parametrize("page", PAGES)
def test_page_with_its_images_weighs_at_most_2_mb(html, page):
    text = page_html(html, page)
    path = html / f"{page}.html"
    images = {urljoin(f"{page}.html", src) for src in re.findall(r'<img[^>]*\bsrc="([^"]+)"', text)}
    total = path.stat().st_size + sum((html / img).stat().st_size for img in images if (html / img).exists())
    assert total <= 2_000_000, f"{page}: {total / 1e6:.2f} MB with its images"


@pytest.mark.parametrize("page", PAGES)
def test_every_image_has_alt_text(html, page):
    # A figure cell sets its alt text in its metadata: `mystnb: {image: {alt: "..."}}`.
    for tag in re.findall(r"<img[^>]*>", page_html(html, page)):
        alt = re.search(r'\balt="([^"]*)"', tag)
        src = re.search(r'\bsrc="([^"]*)"', tag).group(1)
        assert alt and alt.group(1).strip() and alt.group(1) != src, f"{page}: image {src} has no alt text"


@pytest.mark.parametrize("page", PAGES)
def test_outputs_wrap_instead_of_scrolling(html, page):
    # _static/course.css makes a checker's long hint or success line wrap in the output box.
    assert "_static/course.css" in page_html(html, page)
    assert "pre-wrap" in (html / "_static" / "course.css").read_text()
