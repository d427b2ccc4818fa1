"""Test-wide settings: one torch thread (tiny models run fastest so, and timings stay repeatable),
and a non-interactive matplotlib backend."""
import matplotlib

matplotlib.use("Agg")

import torch  # noqa: E402

torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    """Schedule the suite for two workers (``--dist loadgroup``), longest work first.

    Every test file is one group, so a lab's nbval cells share one kernel and a module's fixtures run
    once, as under ``--dist loadfile``; the second-configuration runs (one lab or page each, tens of
    seconds apiece) are the exception and spread over both workers. The website build comes first: the
    site tests wait for it, and so does nothing else.
    """
    import pytest

    def weight(item):
        path = str(item.path)
        if "/tests/site/" in path:
            return 0
        if item.get_closest_marker("second_config"):
            return 1
        return 2

    for item in items:
        if not item.get_closest_marker("second_config"):
            item.add_marker(pytest.mark.xdist_group(str(item.path)))
    items.sort(key=weight)  # stable: the order inside each file is kept
