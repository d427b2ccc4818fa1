"""Lab 1, the library analogy: exercises 1.1–1.5 (checkers in crossattn/checks/lab01.py)."""
from ..registry import Exercise

NO_SCALE = "no √d yet: in lab 1 the librarian uses plain dot products (scaling comes in chapter 2)."
SCORES_SHAPES = "keys is (n, d) and query (d,): keys @ query (or np.dot(keys, query)) has shape (n,)."
BLEND_SHAPES = "weights has shape (n,) and values (n, d_v): weights @ values has shape (d_v,)."
ALIGN_SHAPES = "X is (m, d) and S is (n, d): the scores X @ S.T are (m, n)."

EXERCISES = (
    Exercise(
        id="1.1", function="relevance", checker="check_relevance", title="score every book",
        solved_by=("crossattn.attention_scores",),
        hints={
            "crash_shapes": SCORES_SHAPES,
            "no_sum": "You multiplied elementwise but did not sum over the d coordinates of each key.",
            "sum_over_keys": "You summed over the keys (axis 0). Sum over the d coordinates of each key instead "
                             "(axis=-1): one score per key.",
            "sum_everything": "You summed everything into one number. Return one score per key: keys @ query "
                              "has shape (n,).",
            "distance": "that is the distance from the query to each key. The librarian scores by dot product: "
                        "bigger means more relevant.",
            "minus_distance": "that is minus the distance. Use the dot product keys · query instead.",
            "cosine": "that is cosine similarity, which drops the lengths. Use the plain dot product, lengths "
                      "included.",
            "softmaxed": "those are already weights (you applied softmax). relevance returns the raw scores; "
                         "softmax is exercise 1.2.",
            "scaled": NO_SCALE,
        },
        fallbacks={"wrong": "score each key by its plain dot product with the query, scores[j] = keys[j] · query, "
                            "lengths included (nothing divided by a length, nothing normalised)."},
    ),
    Exercise(
        id="1.2", function="softmax", checker="check_softmax", title="scores become weights",
        solved_by=("crossattn.softmax", "crossattn.softmax_with_temperature"),
        hints={
            "no_keepdims": "keep the summed (or max) axis with keepdims=True, so that an (m, n) array can be "
                           "divided by an (m, 1) one.",
            "fixed_axis": "use axis=-1 (the last axis) rather than a fixed axis number, so the function works for "
                          "any number of dimensions.",
            "one_per_row": "You returned one number per row. Return a weight for every entry: exp(x) divided by "
                           "its row's sum.",
            "row_sums": "You returned the row sums. Divide exp(x) by them: weights = e / e.sum(axis=-1, "
                        "keepdims=True).",
            "columns": "each ROW must sum to 1 — normalise along the last axis (axis=-1, keepdims=True).",
            "whole_array": "you normalised over the whole array; each row (axis=-1) must sum to 1 on its own.",
            "no_exp": "exponentiate first: weights are exp(score) / sum of exp(scores).",
            "shift_numerator_only": "you subtracted the max in the numerator only. Subtract it once, then divide "
                                    "the shifted exps by THEIR sum.",
            "two_dims_only": "right for a 2-D array but wrong for an input of shape {shape}. Normalise along "
                             "axis=-1 (the last axis), whatever the number of dimensions.",
            "global_max": "a row whose scores are all far below the array's largest score gives nan. Subtract "
                          "each ROW's own max (axis=-1, keepdims=True), not the max of the whole array.",
            "subtract_min": "the row [-1000, 0, 1000] gives {row}, not [0, 0, 1]. Did you subtract each row's "
                            "MINIMUM? Then exp(2000) still overflows. Subtract each row's MAXIMUM "
                            "(np.max(scores, axis=-1, keepdims=True)): the largest exponent becomes e^0 = 1.",
            "overflow": "scores like 1000 overflow exp() and give nan. Subtract each row's max before exp — the "
                        "result is unchanged.",
        },
        fallbacks={"wrong": "weights[i, j] must be exp(x[i, j]) / sum over k of exp(x[i, k])."},
    ),
    Exercise(
        id="1.3", function="read", checker="check_read", title="the librarian reads",
        solved_by=("crossattn.attention", "crossattn.core.librarian.read_shelf"),
        hints={
            "crash_shapes": BLEND_SHAPES,
            "blends_keys": "Your result has the width of a key: blend the VALUES (the contents), not the keys.",
            "returns_weights": "You returned the weights; return their blend of the values: weights @ values.",
            "no_sum": "You weighted each value but did not add them up: sum over the n books, i.e. "
                      "weights @ values.",
            "hard_lookup": "you returned the single best book. The librarian blends all values, weighted by "
                           "softmax(scores).",
            "no_softmax": "turn the scores into weights with softmax before blending the values.",
            "plain_mean": "that is the plain average; weight each value by softmax(keys · query).",
            "scaled": NO_SCALE,
            "returns_both": "you returned a tuple of {n} items; return only the blended value, shape (d_v,), not "
                            "the weights as well.",
        },
        fallbacks={"wrong": "retrieved = softmax(keys @ query) @ values, with plain dot products as scores: no "
                            "division by √d and no normalising of the keys or the query (chapter 2 adds "
                            "the scaling)."},
    ),
    Exercise(
        id="1.4", function="attend", checker="check_attend", title="many readers at once",
        solved_by=("crossattn.attention",),
        hints={
            "crash_shapes": "check the shapes: scores = Q @ K.T is (m, n), one row per query; out = weights @ V "
                            "is (m, d_v).",
            "keys_first": "Your weights are (n, m): compute Q @ K.T (one row per query), not K @ Q.T.",
            "pair_swapped": "Your second result has the shape of out: return the pair in the order "
                            "(out, weights).",
            "blends_keys": "out has the width of a key: blend the VALUES, out = weights @ V, not the keys.",
            "columns": "your weights sum to 1 down each column; each query's ROW must sum to 1 (softmax over the "
                       "last axis).",
            "scaled": NO_SCALE,
            "raw_scores": "those are the raw scores Q @ K.T: turn them into weights with softmax over the last "
                          "axis.",
            "whole_matrix": "you normalised over the whole matrix; each query's row must sum to 1 on its own.",
            "wrong_out": "weights are right but out is not: out = weights @ V (blend the values, not the keys).",
        },
        fallbacks={"wrong": "weights = softmax(Q @ K.T) with each row summing to 1."},
        plumbing={"not_pair": "return a pair (out, weights), got {type}."},
    ),
    Exercise(
        id="1.5", function="alignment", checker="check_alignment",
        title="which source word does each target word read?",
        hints={
            "crash_shapes": ALIGN_SHAPES,
            "down_columns": "You found, for each SOURCE token, the target token that reads it most (the argmax "
                            "down the columns, or S reading X). Each target token is a ROW of A = softmax(X @ S.T): "
                            "take np.argmax(A, axis=-1), one index per row.",
            "returns_weights": "That is the weight matrix A, shape (m, n). Return where each row's largest weight "
                               "is: np.argmax(A, axis=-1), shape (m,).",
            "returns_output": "That is the blended output A @ S (the retrieved values), shape (m, d). Return the "
                              "indices of each row's largest weight instead: np.argmax(A, axis=-1), shape (m,).",
            "self_weights": "That is self-attention: X read itself. In cross-attention the keys come from S: "
                            "A = softmax(X @ S.T).",
            "no_axis": "np.argmax without an axis flattens the matrix into one number. Use axis=-1: one index per "
                       "target token.",
            "self_attention": "those are positions in X itself: that is self-attention (X read X). The keys come "
                              "from the source: A = softmax(X @ S.T).",
            "max_not_argmax": "those are the largest weights themselves. Return WHERE they are: np.argmax, not "
                              "np.max.",
            "max_of_scores": "those are the largest scores themselves. Return WHERE they are: np.argmax, not "
                             "np.max.",
            "argmin": "that is the source token each target token reads LEAST: use np.argmax.",
            "returns_both": "you returned a tuple of {n} items; return only the indices, one per target token, "
                            "shape (m,).",
        },
        fallbacks={"wrong": "for each target token (row i of A = softmax(X @ S.T)), return the column j of its "
                            "largest weight."},
    ),
)
