"""The bibliography: every citation resolves, every entry is cited, every arXiv id is a checked one.

tests/content/primary_sources.yml holds the checked list: design §8's primary sources and the papers the
course cites beyond them, each with its arXiv id and first author.
"""
import json
import re
import unicodedata

import pytest
import yaml
from pybtex.database import parse_file

from tests.helpers import ROOT, book_config

BIB = ROOT / "references.bib"
SOURCES = yaml.safe_load((ROOT / "tests" / "content" / "primary_sources.yml").read_text(encoding="utf-8"))
TABLE = SOURCES["design_section_8"] + SOURCES["beyond_section_8"]
BY_ID = {row["arxiv"]: row for row in TABLE if row["arxiv"]}
ENTRIES = parse_file(str(BIB)).entries
ARXIV_ID = re.compile(r"(?<![\d.])(\d{4}\.\d{4,5})(?:v\d+)?(?![\d.])")
CITE = re.compile(r"\{cite(?::\w+)?\}`([^`]+)`")


def pages():
    """Every page of the book that can cite: the MyST pages and the labs' markdown cells."""
    for path in sorted(ROOT.glob("*.md")) + sorted(ROOT.glob("chapters/*.md")) + sorted(ROOT.glob("appendices/*.md")):
        if path.name != "README.md":
            yield path, path.read_text(encoding="utf-8")
    for path in sorted(ROOT.glob("notebooks/*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        yield path, "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def cited_keys():
    """{key: [pages citing it]} over the whole book."""
    cited = {}
    for path, text in pages():
        for group in CITE.findall(text):
            for key in group.split(","):
                cited.setdefault(key.strip(), []).append(path.relative_to(ROOT).as_posix())
    return cited


def plain(name: str) -> str:
    """A name without braces, LaTeX accents, case or punctuation: '{NLLB Team}' -> 'nllbteam'."""
    name = re.sub(r"\\.|[{}]", "", name)
    name = unicodedata.normalize("NFKD", name)
    return re.sub(r"[^a-z]", "", name.lower())


def first_author(entry) -> str:
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    assert persons, "the entry names no author"
    return plain(" ".join(persons[0].last_names))


def entry_text(key: str) -> str:
    """The raw text of one entry in references.bib (every field, however it is spelled)."""
    text = BIB.read_text(encoding="utf-8")
    start = re.search(rf"@\w+\s*\{{\s*{re.escape(key)}\s*,", text).start()
    following = re.search(r"^@", text[start + 1:], flags=re.M)
    return text[start:start + 1 + following.start()] if following else text[start:]


def test_every_citation_is_in_references_bib():
    cited = cited_keys()
    assert cited, "no {cite} found: the scan is broken"
    missing = {key: where for key, where in cited.items() if key not in ENTRIES}
    assert not missing, f"cited but not in references.bib: {missing}"


def test_every_entry_in_references_bib_is_cited():
    cited = cited_keys()
    unused = [key for key in ENTRIES if key not in cited]
    assert not unused, f"in references.bib but cited nowhere (cite it or remove it): {unused}"


@pytest.mark.parametrize("key", list(ENTRIES))
def test_arxiv_ids_are_the_checked_ones(key):
    entry = ENTRIES[key]
    ids = set(ARXIV_ID.findall(entry_text(key)))
    eprint = entry.fields.get("eprint")
    if eprint:
        assert ARXIV_ID.fullmatch(eprint), f"{key}: eprint {eprint!r} is not an arXiv id like 1706.03762"
        assert entry.fields.get("archiveprefix", entry.fields.get("archivePrefix", "")).lower() == "arxiv", (
            f"{key}: an eprint needs archiveprefix = {{arXiv}}")
    for arxiv in ids:
        assert arxiv in BY_ID, (f"{key}: arXiv {arxiv} is not in tests/content/primary_sources.yml — check the id and add "
                                "the paper to beyond_section_8 if the course really cites it")
        assert plain(BY_ID[arxiv]["first_author"]) == first_author(entry), (
            f"{key}: arXiv {arxiv} is {BY_ID[arxiv]['first_author']} et al., {BY_ID[arxiv]['title']!r}, "
            f"but the entry's first author is {first_author(entry)!r}: a wrong id?")
    if not ids:
        matches = [row for row in TABLE if row["arxiv"] is None and plain(row["first_author"]) == first_author(entry)
                   and str(row["year"]) == entry.fields.get("year")]
        assert matches, (f"{key}: no arXiv id, and no row of tests/content/primary_sources.yml without one matches its "
                         "first author and year")


def test_the_checked_list_is_design_section_8_and_has_no_duplicates():
    ids = [row["arxiv"] for row in TABLE if row["arxiv"]]
    assert len(ids) == len(set(ids)), "an arXiv id is listed twice"
    assert all(ARXIV_ID.fullmatch(i) for i in ids)
    # Design §8 names 23 arXiv ids and three papers without one (Nadaraya, Watson, Xia et al.).
    section_8 = SOURCES["design_section_8"]
    assert len([r for r in section_8 if r["arxiv"]]) == 23
    assert sorted(r["first_author"] for r in section_8 if not r["arxiv"]) == ["Nadaraya", "Watson", "Xia"]


def test_bibliography_page_renders_references_bib():
    assert "references.bib" in book_config()["bibtex_bibfiles"]
    page = (ROOT / "appendices" / "bibliography.md").read_text(encoding="utf-8")
    assert re.search(r"^```\{bibliography\}\s*$", page, flags=re.M)
