"""The special tokens every task of chapters 4–10 shares, defined once.

Every vocabulary starts with the same three ids, then the task's own symbols:
0 = PAD (padding, never attended to), 1 = BOS (begins every decoder input),
2 = EOS (ends every target), FIRST_SYMBOL = 3 = the first real word.
"""
from __future__ import annotations

__all__ = ["PAD", "BOS", "EOS", "FIRST_SYMBOL"]

PAD, BOS, EOS = 0, 1, 2
FIRST_SYMBOL = 3
