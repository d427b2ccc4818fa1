"""Lab 2, queries, keys and values: the math — exercises 2.1–2.6 (checkers in crossattn/checks/lab02.py)."""
from ..registry import Exercise

QUERY_WIDTH = "where d = Q.shape[-1] is the width of a query."


def _scale(before: str) -> dict[str, str]:
    """The hints for scores scaled by something other than 1/√d (2.2, 2.4); ``before`` ends the first."""
    return {
        "unscaled": f"you forgot to scale the scores by 1/√d{before}.",
        "by_sqrt_n": "you scaled by 1/√n (n = number of keys); scale by 1/√d, the width of a query.",
        "by_sqrt_m": "you divided the scores by √m = √{m}, the number of queries; divide by √d, d = Q.shape[-1], "
                     "the width of a query.",
        "wrong_scale": "your scores are QKᵀ/{divisor:.4g}; divide by √d = √{d} ≈ {sqrt_d:.4g}, " + QUERY_WIDTH,
        "rounded_sqrt": "your scores are QKᵀ/{divisor:.4g}; divide by √d = √{d} ≈ {sqrt_d:.4g}, " + QUERY_WIDTH
                        + " A hard-coded 2 or a rounded √d only works when d is a perfect square; use "
                          "np.sqrt(Q.shape[-1]).",
    }


NO_KEEPDIMS = ("A row's max or sum has shape (m,), which does not line up with the (m, n) scores: keep the reduced "
               "axis, e.g. s.max(axis=-1, keepdims=True).")
PACKAGE = ("your function calls {name}, which already does what this exercise asks you to write ({why}). Write it "
           "yourself with NumPy (np.exp, .max, .sum); after the exercise the lab uses the package.")
MATMUL = ("Two products, and each must line up: Q @ K.T is (m, d) @ (d, n) -> (m, n) scores = ({m}, {n}), one row "
          "per query; weights @ V is (m, n) @ (n, d_v) -> (m, d_v) = ({m}, {d_v}). Here Q is ({m}, {d}), K ({n}, "
          "{d}), V ({n}, {d_v}).")
NOT_PAIR = {"not_pair": "return a pair (out, weights), got {type}."}

EXERCISES = (
    Exercise(
        id="2.1", function="scores", checker="check_scores", title="the score matrix",
        solved_by=("crossattn.attention_scores", "crossattn.attention"),
        hints={
            "transposed": "Your scores are (n, m): that is K @ Q.T. Put the queries first: one row per query.",
            "no_transpose": "Q is (m, d) = ({m}, {d}) and K is (n, d) = ({n}, {d}): each query meets each key in "
                            "a dot product over the d columns, so transpose K: Q @ K.T is (m, d) @ (d, n) -> "
                            "(m, n).",
            "query_with_itself": "Your scores are (m, m): did you multiply Q by itself? Queries meet KEYS: Q @ K.T.",
            "unscaled": "you forgot to divide by √d (d = the width of a query).",
            "by_d": "divide by √d, not by d.",
            "multiplied": "divide by √d; you multiplied.",
            "by_sqrt_n": "you divided by √n, the number of keys; divide by √d, the width of a query (Q.shape[-1]).",
            **{key: text for key, text in _scale("").items() if key in ("by_sqrt_m", "wrong_scale", "rounded_sqrt")},
        },
        fallbacks={"wrong": "scores = Q @ K.T / sqrt(d)."},
    ),
    Exercise(
        id="2.2", function="attention", checker="check_attention", title="attention",
        solved_by=("crossattn.attention", "crossattn.softmax"),
        hints={
            "no_keepdims": NO_KEEPDIMS,
            "package": PACKAGE.replace("{why}", "with it, the large-score test below would test the package, not "
                                                "your softmax"),
            "pair_swapped": "you returned (weights, out); return them in the order (out, weights).",
            "matmul_shapes": MATMUL,
            "keys_first": "Your weights are (n, m): compute Q @ K.T, one row per query.",
            "columns": "your weights sum to 1 down each column; softmax over the last axis so each query's row "
                       "sums to 1.",
            "whole_matrix": "your weights sum to 1 over the whole matrix; normalise each row on its own: divide by "
                            "e.sum(axis=-1, keepdims=True).",
            "raw_scores": "these are the raw scores: turn them into weights with a softmax over each row.",
            **_scale(" before the softmax"),
            "blends_keys": "Your out has width d: blend the values V, not the keys K.",
            "wrong_out": "weights are right but out is not: out = weights @ V.",
            "overflow": "with large scores (Q multiplied by 1000) your weights are wrong or NaN: exp overflows. "
                        "Subtract each row's maximum score before np.exp — the softmax is unchanged.",
            "global_max": "with large scores (Q multiplied by 1000) your weights are wrong or NaN: in a row whose "
                          "scores are all far below the largest score of the whole matrix, exp underflows to 0 and "
                          "the row becomes 0/0. Subtract each ROW's own maximum, s.max(axis=-1, keepdims=True), not "
                          "the maximum of the whole matrix.",
        },
        fallbacks={"wrong": "weights = softmax(Q @ K.T / sqrt(d)) row by row."},
        plumbing=NOT_PAIR,
    ),
    Exercise(
        id="2.3", function="padding_mask", checker="check_padding_mask", title="a source padding mask",
        solved_by=("crossattn.padding_mask",),
        hints={
            "n_by_m": "Your mask is (B, n, m): build it with one ROW per query and one COLUMN per key, (B, m, n).",
            "not_repeated": "Your mask is (B, n): repeat it for each of the m queries to get (B, m, n).",
            "broadcast_shape": "Your mask is (B, 1, n): it broadcasts, but the exercise asks for the full (B, m, n) "
                               "— repeat it for each of the m queries.",
            "batch_as_queries": "every sentence got the same mask, whose row i is sentence i's: NumPy lines up the "
                                "LAST axes, so broadcasting the (B, n) array of real keys to (B, m, n) made the "
                                "batch axis the query axis (it only fits because B = m here). Give it a query axis "
                                "first, real[:, None, :] of shape (B, 1, n), then broadcast to (B, m, n).",
            "not_bool": "the mask must be boolean (True = may attend), got dtype {dtype}.",
            "off_by_one": "off by one: the real keys are j = 0 … length − 1, so use j < length, not j <= length.",
            "inverted": "your mask is inverted: here True means 'may attend' (as in scaled_dot_product_attention), "
                        "so real tokens are True and padding False.",
            "masks_queries": "you masked query rows; padding is in the SOURCE, so mask key columns j >= length.",
            "all_false": "your mask is False everywhere, so no query may read anything: changing a REAL source "
                         "token does not move the output, which stays zero. Real keys, j < lengths[b], are True.",
            "blocks_last_real": "off by one the other way: you blocked the last real key, j = length − 1, so "
                                "changing that real token does not move the output. The real keys are "
                                "j = 0 … length − 1: use j < length.",
            "reads_padding": "changing the PADDED source token at position {j} of sentence {b} (length {length}) "
                             "moves the output of query {i}: your mask lets it read padding. Block every key "
                             "j >= lengths[b].",
            "ignores_real": "changing the REAL source token at position {j} of sentence {b} (length {length}) does "
                            "not move the output of query {i}: your mask blocks it, so that query can never read it. "
                            "Every key j < lengths[b] must be True. A mask must pass the perturbation test both "
                            "ways: padding never moves the output, and every real token does.",
        },
    ),
    Exercise(
        id="2.4", function="masked_attention", checker="check_masked_attention",
        title="masked attention, and a query with nothing to read",
        solved_by=("crossattn.attention", "crossattn.softmax"),
        hints={
            "no_keepdims": NO_KEEPDIMS,
            "package": PACKAGE.replace("{why}", "zero weights for a fully masked row included"),
            "matmul_shapes": MATMUL,
            "nan_rows": "a fully masked row gave NaN: its max is -inf, and -inf - (-inf) and 0/0 are NaN. Give such "
                        "a row zero weights: shift it by 0 instead of its max, and divide only where the row sum is "
                        "> 0.",
            "fill_minus_1e9": "filling with -1e9 gives a fully masked row UNIFORM weights over keys it must not "
                              "see. Such a row must get zero weights.",
            "zero_after_softmax": "you zeroed the masked weights after the softmax, so rows no longer sum to 1. "
                                  "Mask the SCORES (with -inf) before the softmax.",
            "inverted": "your mask is inverted: True means 'may attend', so block the keys where mask is False.",
            "transposed_operand": "An (n, m) array met an (m, n) one. The scores Q @ K.T and the mask are both "
                                  "(m, n), one row per query: did you compute K @ Q.T, or transpose the mask?",
            "add_minus_1e9": "adding -1e9 to blocked scores leaves a fully masked row with the softmax of its own "
                             "scores: it still reads keys it must not see. Such a row must get zero weights.",
            "fill_zero": "filling blocked scores with 0 does not block them (exp(0) = 1). Use -inf, so that their "
                         "weight is exactly 0.",
            **_scale(" before the softmax, as in exercise 2.2"),
            "wrong_out": "weights are right but out is not: out = weights @ V (a fully masked row gives a zero "
                         "output).",
            "blocked_max": "when a BLOCKED key has a huge score (2000 for query 0, key 3), your weights for query 0 "
                           "are wrong: that score set the row's maximum (or won the softmax before you masked), so "
                           "exp underflowed to 0 for every key the query may see. Mask first (-inf where mask is "
                           "False), then subtract the largest score the query MAY see.",
            "warns": "your numbers are right, but NumPy reports '{complaint}' on the fully masked row: the task "
                     "asks for no warning. Cleaning up afterwards (np.nan_to_num) hides the NaN, not the 0/0 or "
                     "-inf - (-inf) that made it. Shift an all-blocked row by 0, and divide only where the row sum "
                     "is > 0: e / np.where(total > 0, total, 1).",
        },
        fallbacks={"wrong": "blocked keys must get weight exactly 0, other weights sum to 1 per row, and a fully "
                            "masked row is all zeros."},
        plumbing=NOT_PAIR,
    ),
    Exercise(
        id="2.5", function="split_heads", checker="check_split_heads", title="split the width into heads",
        solved_by=("crossattn.split_heads",),
        hints={
            "not_one_array": "return one NumPy array of shape (h, L, d_head), got a {type}{count}. Reshape to "
                             "(L, h, d_head) and transpose, instead of collecting the heads one by one.",
            "no_transpose": "You reshaped to (L, h, d_head); now move the head axis first: (h, L, d_head).",
            "full_transpose": "Your heads are (d_head, h, L): .T on a 3-D array reverses ALL its axes. Swap only "
                              "the first two of (L, h, d_head): .transpose(1, 0, 2) or np.swapaxes(x, 0, 1).",
            "wrong_transpose": "Your heads are (h, d_head, L): positions and features are swapped. Transpose "
                               "(L, h, d_head) with axes (1, 0, 2).",
            "bare_reshape": "a plain reshape to (h, L, d_head) mixes positions across heads. Reshape to "
                            "(L, h, d_head), then transpose to (h, L, d_head).",
            "strided": "head j must own the CONTIGUOUS columns j·d_head … (j+1)·d_head − 1: reshape to "
                       "(L, h, d_head).",
            "hard_coded": "it passed for X of shape {first_shape} with h = {first_h}, but not for X of shape {shape} "
                          "with h = {h}: is a size hard-coded? Take L and the width from X.shape, and "
                          "d_head = width // h.",
        },
        fallbacks={"wrong": "head j, position i must hold x[i, j*d_head:(j+1)*d_head]."},
    ),
    Exercise(
        id="2.6", function="attention_flops", checker="check_attention_flops", title="counting FLOPs",
        solved_by=("crossattn.attention_flops",),
        hints={
            "scores_only": "you counted Q @ K.T only; A @ V costs another 2·m·n·d_v.",
            "no_factor_two": "a multiply-add is 2 FLOPs: each product of a (p×r) and an (r×c) matrix costs 2·p·r·c.",
            "assumes_d_v_is_d": "4·m·n·d assumes d_v = d; here d_v differs, so count 2·m·n·d + 2·m·n·d_v.",
            "assumes_d_is_d_v": "4·m·n·d_v assumes d = d_v; here they differ, so count 2·m·n·d + 2·m·n·d_v.",
            "float": "the count {count} is right, but it is a {type}; return an integer, as the task asks (FLOPs are "
                     "a count). Use integer arithmetic: no `/` and no float factors like 2.0.",
            "hard_coded": "it passed for (m, n, d, d_v) = {first} but not for {second}: is a number hard-coded? "
                          "Compute the count from the arguments.",
            "not_int_type": "return the count as a single integer, got {type}.",
        },
        fallbacks={"wrong": "QKᵀ costs 2·m·n·d and AV costs 2·m·n·d_v."},
    ),
)
