"""Sphinx hooks for the course website (listed in ``_config.yml`` under ``extra_extensions``).

Fixes of what the theme and Jupyter Book 1 do by default:

Chapter pages are MyST text notebooks, so the book theme gives them launch buttons that would
open the ``.md`` source in Colab or Binder, which Colab cannot run. Here the rocket menu of
chapter ``chapters/NN_name`` launches its lab ``notebooks/NN_name.ipynb`` instead.

A page computed from other files (the instructor guide) is re-read and re-run when one of them
changes, not only when its own source does.

The ``{course-times}`` directive, placed right after a chapter's title, states how long the page
takes to read (its core path and its "Going further" sections) and how long its lab takes a learner,
computed by :mod:`crossattn.tooling.pagetimes` from the page and the lab themselves.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from .pagetimes import count_lab, count_page, times_sentence


class CourseTimes(SphinxDirective):
    """``{course-times}``: the reading time of this page and the working time of its lab, computed."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        source = Path(self.env.doc2path(self.env.docname))
        page = count_page(source.read_text(encoding="utf-8"))
        name = self.env.docname.rsplit("/", 1)[-1]
        lab_path = Path(self.env.srcdir) / "notebooks" / f"{name}.ipynb"
        lab = None
        if lab_path.exists():
            self.env.note_dependency(str(lab_path))
            lab = count_lab(lab_path)
        paragraph = nodes.paragraph(classes=["course-times"])
        paragraph += nodes.emphasis(text=times_sentence(page, lab))
        return [paragraph]


def _chapter_to_lab(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    if not pagename.startswith("chapters/"):
        return
    name = pagename.split("/", 1)[1]
    lab = Path(app.srcdir) / "notebooks" / f"{name}.ipynb"
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        if not lab.exists():
            context["header_buttons"].remove(group)
            return
        group["tooltip"] = f"Launch the lab of this chapter (notebooks/{name}.ipynb)"
        for button in group["buttons"]:
            if "url" in button:
                button["url"] = button["url"].replace(f"chapters/{name}.md", f"notebooks/{name}.ipynb")
        return


def _drop_duplicate_scripts(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    # Jupyter Book 1 registers sphinx-thebe's and sphinx-togglebutton's inline scripts twice;
    # the second `const THEBE_JS_URL` is a console error in every browser.
    seen, unique = set(), []
    for script in context.get("script_files", []):
        # An inline script has filename None or "" depending on who added it.
        key = (str(getattr(script, "filename", script) or ""), repr(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def _note_data_dependencies(app: Sphinx, docname: str, source: list[str]) -> None:
    # A page computed from other files (the instructor guide reads the chapters, the labs, the
    # checkers and the lab timings) lists them in its front matter, `depends_on: [glob, ...]`, and
    # sets `mystnb: {execution_mode: force}`. Sphinx then re-reads it, and myst-nb re-runs it,
    # whenever one of them changes, instead of showing what it computed before.
    import yaml

    text = source[0]
    if not text.startswith("---\n") or "\ndepends_on:" not in text.split("\n---\n", 1)[0]:
        return
    meta = yaml.safe_load(text[4:text.index("\n---\n", 4)]) or {}
    for pattern in meta.get("depends_on", []):
        for path in sorted(Path(app.srcdir).glob(pattern)):
            app.env.note_dependency(str(path))


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("course-times", CourseTimes)
    app.connect("source-read", _note_data_dependencies)
    # The theme adds its launch buttons at priority 501; rewrite them just after.
    app.connect("html-page-context", _chapter_to_lab, priority=502)
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
