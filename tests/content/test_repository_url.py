"""The repository URL lives in one place, _config.yml; everything else agrees with it."""
import re

from crossattn.tooling.labs import SETUP_TAG, read_notebook, tags
from tests.helpers import LABS, ROOT, repo_url


def test_config_names_an_https_github_repository():
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", repo_url())


def test_every_setup_cell_installs_from_that_repository(monkeypatch):
    # The cell splits the URL over two lines to fit the code box, so run it on a stand-in Colab.
    from tests.content.test_setup_cell import run_setup_cell

    for path in LABS:
        setup = [c for c in read_notebook(path).cells if SETUP_TAG in tags(c)]
        assert len(setup) == 1, path.name
        (args, _), = run_setup_cell(monkeypatch, on_colab=True, source=setup[0].source)
        assert args[-1] == f"git+{repo_url()}", path.name


def test_no_other_file_types_a_repository_url():
    typed = []
    for path in [*ROOT.glob("*.md"), *ROOT.glob("chapters/*.md"), *ROOT.glob("crossattn/**/*.py"), *ROOT.glob("binder/*")]:
        typed += [f"{path.name}: {u}" for u in re.findall(r"https://github\.com/[\w./-]+", path.read_text()) if "cross-attention-course" in u]
    assert not typed, f"the repository URL must only live in _config.yml: {typed}"

