"""Test-wide settings: one torch thread (tiny models run fastest so, and timings stay repeatable),
and a non-interactive matplotlib backend."""
import matplotlib

matplotlib.use("Agg")

import torch  # noqa: E402

torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    """Order the suite for two workers (``--dist loadfile``), longest work first.

    Each test file goes to one worker, so a lab's nbval cells share one kernel and a module's fixtures run
    once. The website build comes first, with the site tests that need only its files; then the
    second-configuration runs (tens of seconds per lab or page, in two files, one per worker), then the
    rest in collection order, the browser tests among them. Had the browser tests started at once too,
    their worker would have waited minutes for the build's lock, doing nothing. The order holds because
    pyproject's addopts say ``--no-loadscope-reorder`` (xdist otherwise sorts files by their item count).

    (Not ``--dist loadgroup``: under pytest 9 the group suffix pytest-xdist 3.8 writes into
    ``item._nodeid`` no longer reaches ``item.nodeid``, so groups silently fall apart and a lab's cells
    run on both workers; ``tests/test_test_setup.py`` runs a lab-like notebook on two workers to catch it.)
    """

    def weight(item):
        path = str(item.path)
        if path.endswith("/tests/site/test_site.py"):
            return 0
        if item.get_closest_marker("second_config"):
            return 1
        return 2

    items.sort(key=weight)  # stable: the order inside each file is kept
