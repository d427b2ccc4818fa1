"""Test-wide settings: one torch thread (tiny models run fastest so, and timings stay repeatable),
and a non-interactive matplotlib backend."""
import matplotlib

matplotlib.use("Agg")

import torch  # noqa: E402

torch.set_num_threads(1)
