"""The repository URL lives in one place, _config.yml; everything else agrees with it."""
import re

from crossattn.labs import SETUP_TAG, read_notebook, tags
from tests.helpers import LABS, ROOT, repo_url


def test_config_names_an_https_github_repository():
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", repo_url())


def test_every_setup_cell_installs_from_that_repository():
    for path in LABS:
        setup = [c for c in read_notebook(path).cells if SETUP_TAG in tags(c)]
        assert len(setup) == 1 and f"git+{repo_url()}" in setup[0].source, path.name


def test_no_other_file_types_a_repository_url():
    typed = []
    for path in [*ROOT.glob("*.md"), *ROOT.glob("chapters/*.md"), *ROOT.glob("crossattn/**/*.py"), *ROOT.glob("binder/*")]:
        typed += [f"{path.name}: {u}" for u in re.findall(r"https://github\.com/[\w./-]+", path.read_text()) if "cross-attention-course" in u]
    assert not typed, f"the repository URL must only live in _config.yml: {typed}"

