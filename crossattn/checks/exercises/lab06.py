"""Lab 6, where are we? Positional choices — exercises 6.1–6.4 (checkers in crossattn/checks/lab06.py)."""
from ..registry import Exercise

ONE_SIDED = "A source token's key and value are rows of the SAME index: permute K and V together, K[p] with V[p]."
NOT_SCALAR = "return one number ({what}), got an array of shape {shape}."
OFF_BY_ONE = "off by one: offset −D is table[0] and offset 0 is table[D], so the index is offset + D, not "

EXERCISES = (
    Exercise(
        id="6.1", function="permutation_gap", checker="check_permutation_gap", title="the permutation test",
        hints={
            "not_scalar": NOT_SCALAR,
            "keys_only": "you reordered the keys but not the values. " + ONE_SIDED,
            "values_only": "you reordered the values but not the keys. " + ONE_SIDED,
            "queries": "you permuted the queries. That only reorders the rows of the output, which of course "
                       "changes O. The question is about the SOURCE: reorder the rows of K and V, keep Q as it is.",
            "signed": "take the ABSOLUTE value of the change before the maximum: a large negative change counts "
                      "too.",
            "one_ordering": "you tried one ordering (the reversal). Check them all: "
                            "itertools.permutations(range(n)).",
            "global_n": "your function reads `n` from the notebook, not from its inputs; the checker's source has "
                        "{n} rows. Take n from the input: n = K.shape[0] (or len(K)), then "
                        "itertools.permutations(range(n)).",
            "tuple_index": "itertools.permutations gives each order as a TUPLE, and NumPy reads K[(2, 0, 3, 1)] as "
                           "one index per AXIS. Index the rows with a list: p = list(p), then K[p] and V[p].",
            "rows_lost": "the position-aware attention adds a code to each of the {n} rows of K, and your K[p] had "
                         "fewer rows: an ordering p must list every source row. Loop over "
                         "itertools.permutations(range(n)) with n = K.shape[0] (not len(Q), which is m).",
            "compared_itself": "an attention that adds position codes to its keys DOES see the order, yet you "
                               "report 0. Did you compare an output with itself?",
            "blind_moves": "for plain cross-attention the output must not change at all (up to ~1e-15) when the "
                           "source rows K and V are reordered together; you found a change of {blind:.3g}. Compare "
                           "attend(Q, K[p], V[p]) with attend(Q, K, V).",
        },
        fallbacks={"wrong": "with order-aware attention the largest change over all {n}! orders is {want:.4f}: "
                            "return max over p of |attend(Q, K[p], V[p]) − attend(Q, K, V)|."},
    ),
    Exercise(
        id="6.2", function="sinusoidal", checker="check_sinusoidal", title="the sinusoidal encoding",
        solved_by=("crossattn.nn.positions.sinusoidal_positions",),
        hints={
            "transposed": "Your table is (d_model, length): one ROW per position, one column per feature.",
            "sines_only": "Your table has d_model/2 columns: each frequency gives TWO columns, a sine (even column) "
                          "and a cosine (odd column).",
            "swapped": "sines and cosines are swapped: EVEN columns (0, 2, ...) hold the sine, ODD columns the "
                       "cosine.",
            "k_over_d": "the exponent is 2k/d_model, where k counts the sine–cosine PAIRS (column 2k and 2k+1 share "
                        "it); you used k/d_model, so your wavelengths grow too slowly.",
            "per_column": "the cosine in column 2k+1 must use the SAME angle as the sine in column 2k: "
                          "pos / 10000^(2k/d_model). You gave each column its own exponent (column index / "
                          "d_model).",
            "from_one": "positions start at 0, not 1: the first row must be sin 0 = 0 and cos 0 = 1 alternating.",
            "halves": "you put all the sines first and then all the cosines (some libraries do, e.g. "
                      "tensor2tensor). Here, as in Vaswani et al., they are interleaved: sine in column 2k, cosine "
                      "in column 2k+1.",
            "twice_2k": "your exponent is 4k/d_model, twice too large. In a loop over the even columns "
                        "i = 0, 2, 4, ..., the column index i already IS 2k: use pos / 10000^(i/d_model) for both "
                        "column i and column i + 1, not 10000^(2i/d_model).",
            "int_division": "2 * k // d_model is INTEGER division: it is 0 for every pair, so all your columns turn "
                            "at the same speed. Use true division, 2 * k / d_model.",
            "multiplied": "divide the position by 10000^(2k/d_model); you multiplied, so the high columns spin "
                          "fastest.",
        },
        fallbacks={"wrong": "column 2k holds sin(pos / 10000^(2k/d_model)) and column 2k+1 the cosine of the same "
                            "angle, pos = 0, 1, ..., length − 1."},
    ),
    Exercise(
        id="6.3", function="relative_bias", checker="check_relative_bias", title="a relative bias lookup",
        solved_by=("crossattn.nn.layers.RelativePositionBias.forward",),
        hints={
            "no_clip": "with m={m}, n={n} and a table for offsets −{D}..{D}, an index fell outside the table. "
                       "Offsets i − j run from {top} down to {bottom}: clip them to [−D, D] first (np.clip), then "
                       "add D.",
            "transposed": "Your bias is (n, m): one ROW per query i, one column per key j.",
            "j_minus_i": "you looked up j − i; the offset is i − j (query position minus key position), so "
                         "table[D + 1] is for a key one step BEFORE the query.",
            "absolute": "the bias depends on the SIGNED offset i − j: a key one step before the query and one step "
                        "after it get different entries. Do not take abs().",
            "plus_one": OFF_BY_ONE + "offset + D + 1.",
            "minus_one": OFF_BY_ONE + "offset + D − 1.",
            "no_shift": "you forgot to shift by D: offset −D is table[0], offset 0 is table[D]. A negative index "
                        "silently wraps around in NumPy.",
            "int_output": "your lookup is right, but every entry lost its fractional part: you filled an INTEGER "
                          "array (np.zeros_like or np.empty_like of the integer offsets makes one). Start from a "
                          "float array, np.zeros((m, n)), or return table[index] directly.",
            "wraps": "offsets beyond ±D wrapped around the table: clip them to [−D, D] (np.clip) before adding D.",
        },
        fallbacks={"wrong": "entry (i, j) must be table[clip(i − j, −D, D) + D] with D = (len(table) − 1) // 2."},
    ),
    Exercise(
        id="6.4", function="multiset_accuracy", checker="check_multiset_accuracy",
        title="what the multiset allows",
        solved_by=("crossattn.experiments.order.multiset_accuracy", "crossattn.experiments.order.multiset_bound"),
        hints={
            "not_scalar": NOT_SCALAR,
            "no_eos": "count the EOS token too: the length is fixed, so it is always right, and token accuracy "
                      "averages over n + 1 tokens per pair.",
            "whole_source": "at each step only the tokens NOT yet written remain: remove the target prefix "
                            "target[:t] from the source multiset before guessing.",
            "eos_uncounted": "you added the EOS's 1 but did not count the EOS as a token: divide by n + 1 tokens per "
                             "pair, not n.",
            "fixed_k": "you divided by the length of the source. Divide by k, the number of tokens still to write "
                       "(n at the first step, 1 at the last): the best guess is right with probability "
                       "(its count)/k.",
            "nothing_left": "k, the number of remaining tokens, reached 0. At step t the decoder has written "
                            "target[:t], so target[t] is still among the k remaining: guess first, then remove "
                            "target[t]. The EOS needs no guess: it adds 1.",
            "uniform": "1/k is a uniform guess over the k remaining tokens. The best guess is the MOST FREQUENT "
                       "remaining token, right with probability (its count)/k.",
            "distinct": "1/(number of distinct remaining tokens) is a uniform guess over the kinds of token. The "
                        "best guess is the most frequent one, right with probability (its count)/k.",
            "argmax": "you scored the guess 0 or 1 against the actual next token. The question asks for the "
                      "EXPECTED accuracy: over the equally likely orders, the best guess is right with probability "
                      "(its count)/k — add that probability, not whether this sample happened to match.",
            "per_pair": "you averaged per pair (the mean of each pair's accuracy). Average per TOKEN: add up the "
                        "expected hits of all pairs and divide by the total number of target tokens, n + 1 per "
                        "pair, as token_accuracy does.",
            "source_order": "you removed the written tokens in SOURCE order. The decoder writes the TARGET: at step "
                            "t remove target[t] from the multiset (for reverse that is not source[t]).",
            "identical": "a source of three identical tokens leaves nothing to guess — the answer must be 1, got "
                         "{single:.4f}.",
        },
        fallbacks={"wrong": "at step t the remaining tokens are source − target[:t] (as a multiset); the best guess "
                            "is right with probability max count / k; EOS adds 1; average over all n + 1 tokens of "
                            "every pair."},
    ),
)
