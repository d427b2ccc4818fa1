"""Fixtures of the checker tests: every test starts from seeded random streams.

Some named mistakes are random on purpose (lab 7's unseeded shuffles); seeding Python's, NumPy's
and torch's global streams before each test makes their answers the same on every run and in any
test order.
"""
from __future__ import annotations

import random
import sys

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def seeded_streams():
    random.seed(0)
    np.random.seed(0)
    torch = sys.modules.get("torch")  # seeded once loaded; the NumPy labs' tests never load it
    if torch is not None:
        torch.manual_seed(0)
    yield
