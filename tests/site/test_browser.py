"""The website in a real browser: Debian's Chromium, headless, driven by Playwright.

For every page: nothing is requested from outside 127.0.0.1, the console stays clean, all math
is typeset by MathJax, every image loads and has alt text, every solution is folded on load and
opens with one click. A full-page screenshot of each page goes to _build/screenshots/.
Without Chromium these tests are skipped, except in CI (CI set), where that is a failure.
"""
from __future__ import annotations

import functools
import http.server
import os
import shutil
import tempfile
import threading
from urllib.parse import urlparse

import pytest

from tests.site.build import SCREENSHOTS, build, toc_pages

pytestmark = pytest.mark.browser
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic"]
PAGES = toc_pages()


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    path = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        path = None
    if path is None:
        reason = "no Chromium or Playwright here (apt-get install chromium; pip install playwright)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests: {reason}")
        pytest.skip(reason)
    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        context = p.chromium.launch_persistent_context(profile, executable_path=path, headless=True,
                                                       args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900})
        yield context
        context.close()


@pytest.fixture(scope="module")
def site_url():
    html = build()
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def open_page(browser, url):
    """Open ``url``; return the page, the requests that left 127.0.0.1, and the console errors."""
    page = browser.new_page()
    outside, errors = [], []

    def route(r):
        if urlparse(r.request.url).hostname in ("127.0.0.1", None) or r.request.url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    return page, outside, errors


@pytest.mark.parametrize("name", PAGES)
def test_page_in_the_browser(browser, site_url, name):
    page, outside, errors = open_page(browser, f"{site_url}/{name}.html")
    try:
        # MathJax typesets asynchronously: wait for it to finish before looking.
        page.wait_for_function("() => !document.querySelector('.math') || (window.MathJax && MathJax.startup && MathJax.startup.promise)", timeout=20000)
        page.evaluate("async () => { if (window.MathJax && MathJax.startup) { await MathJax.startup.promise; } }")
        math = page.evaluate("""() => [...document.querySelectorAll('article .math')].map(
            el => ({typeset: !!el.querySelector('mjx-container') || el.tagName === 'MJX-CONTAINER', text: el.textContent.slice(0, 60)}))""")
        raw = page.evaluate("""() => { const a = document.querySelector('article').cloneNode(true);
            a.querySelectorAll('pre, code, mjx-container, .math, script, style').forEach(e => e.remove());
            return a.innerText; }""")
        images = page.evaluate("""() => [...document.querySelectorAll('article img')].map(
            img => ({src: img.getAttribute('src'), width: img.naturalWidth, alt: img.getAttribute('alt') || ''}))""")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / (name.replace("/", "__") + ".png")), full_page=True)

        assert not outside, f"requests left 127.0.0.1: {outside}"
        assert not errors, f"console errors: {errors}"
        untypeset = [m["text"] for m in math if not m["typeset"]]
        assert not untypeset, f"math not typeset: {untypeset}"
        for marker in ("$$", "\\frac", "\\sqrt", "\\top", "\\("):
            assert marker not in raw, f"raw LaTeX {marker!r} in the page text"
        for img in images:
            assert img["width"] > 0, f"image does not load: {img['src']}"
            alt = img["alt"].strip()
            assert alt and not alt.endswith((".png", ".jpg", ".svg")), f"image {img['src']} has no alt text (alt={alt!r})"
    finally:
        page.close()


@pytest.mark.parametrize("name", [p for p in PAGES if p.startswith("notebooks/")])
def test_solutions_are_folded_on_load_and_open_with_one_click(browser, site_url, name):
    page, _, _ = open_page(browser, f"{site_url}/{name}.html")
    try:
        cells = page.locator(".cell.tag_solution")
        assert cells.count() >= 4
        for i in range(cells.count()):
            cell = cells.nth(i)
            code = cell.locator(".cell_input")
            assert not code.is_visible(), f"solution {i} is visible on load"
            cell.locator("summary").first.click()
            code.wait_for(state="visible", timeout=5000)
    finally:
        page.close()


def test_search_finds_the_chapter(browser, site_url):
    # The chapter that owns the word: 'softmax' is chapter 2's until chapter 3 (entropy) exists.
    term, chapter = ("entropy", "chapters/03_") if any(p.startswith("chapters/03_") for p in PAGES) else ("softmax", "chapters/02_")
    page, outside, _ = open_page(browser, f"{site_url}/search.html?q={term}")
    try:
        page.wait_for_selector("#search-results ul.search li", timeout=20000)
        hrefs = page.eval_on_selector_all("#search-results ul.search li a", "els => els.map(e => e.getAttribute('href'))")
        assert any(chapter in h for h in hrefs), f"search for {term!r} did not find {chapter}*: {hrefs}"
        assert not outside
    finally:
        page.close()
