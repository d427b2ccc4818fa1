"""``python -m crossattn.tooling.grade``: the same as ``python -m crossattn.grade``."""
import sys

from .cli import main

sys.exit(main())
