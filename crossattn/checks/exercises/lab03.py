"""Lab 3, the spotlight — exercises 3.1–3.4 (checkers in crossattn/checks/lab03.py)."""
from ..registry import Exercise

REFUSED = "for {label} your function raised {error} — "
NO_UNIFORM = "for 6 keys of width d = 4 "

EXERCISES = (
    Exercise(
        id="3.1", function="entropy", checker="check_entropy", title="entropy, the width of the spotlight",
        solved_by=("crossattn.entropy",),
        hints={
            "nan_at_zero": "you got nan: 0·log 0 gives 0·(−inf) = nan in NumPy. Entries with p = 0 must contribute "
                           "0, e.g. logs = np.log(p, out=np.zeros(np.shape(p)), where=p > 0).",
            "wrong_axis": "You summed down the columns (axis 0). Each ROW is a distribution over the n keys: sum "
                          "over axis=-1.",
            "sum_everything": "You summed every entry into one number. Return one entropy per row: sum over "
                              "axis=-1 only.",
            "no_sum": "You returned −p·log p entry by entry. Add them up over the last axis (axis=-1).",
            "keepdims": "Drop the kept axis: sum over axis=-1 without keepdims.",
            "bits": "that is in bits (log base 2). The course measures entropy in nats: use np.log.",
            "log10": "that is log base 10. Use the natural logarithm np.log: entropy in nats.",
            "no_minus": "entropy is −Σ p log p: you lost the minus sign (an entropy is never negative).",
            "mean": "sum over the keys, don't average: the uniform row must give ln n, not ln(n)/n.",
            "normalised": "you divided by ln n (a normalised entropy). Return the entropy itself, in nats.",
            "fixed_axis": "use axis=-1 (the last axis) rather than a fixed axis number, so that any shape (..., n) "
                          "works.",
            "two_dims_only": "right for an (m, n) array but wrong for an input of shape {shape} (expected shape "
                             "{expected}). Sum over axis=-1, whatever the number of dimensions.",
        },
        fallbacks={"wrong": "entropy = −Σ_j p_j ln p_j over the last axis; rows: one key half (0.5, 0.25, 0.25, 0, "
                            "0) → 1.04, uniform → ln 5 = 1.61, one-hot → 0."},
    ),
    Exercise(
        id="3.2", function="softmax_temperature", checker="check_softmax_temperature",
        title="softmax with a temperature",
        solved_by=("crossattn.softmax_with_temperature", "crossattn.softmax"),
        hints={
            "one_per_row": "Return a weight for every score (shape (..., n)), not one number per row.",
            "package": "your function calls {name}, which already does what this exercise asks you to write, so "
                       "the grader would give it no points. Write the softmax yourself with NumPy (np.exp, .max, "
                       ".sum), as in lab 1; exercise 3.4 is where you may call crossattn.softmax.",
            "no_keepdims": "A row's max or sum has shape (m,) = ({m},), which does not line up with the (m, n) = "
                           "({m}, {n}) scores: keep the reduced axis, e.g. z.max(axis=-1, keepdims=True).",
            "whole_array": "your weights sum to 1 over the whole array, not row by row (your rows sum to {rows}). "
                           "Normalise each row: e / e.sum(axis=-1, keepdims=True).",
            "multiplied": "you MULTIPLIED the scores by T = {t}. Divide them: softmax(scores / T), so that a small "
                          "T sharpens the weights and a large T flattens them.",
            "ignored": "the temperature has no effect in your function: divide the scores by T before the "
                       "softmax.",
            "columns": "your weights sum to 1 down each column; each row (axis=-1) must sum to 1.",
            "after_softmax": "you divided the weights by T after the softmax, so rows no longer sum to 1. Divide "
                             "the SCORES by T, then take the softmax.",
            "squared": "divide by T, not by T².",
            "sqrt_t": "divide by T, not by √T.",
            "global_max": "at T = 0.01 your second row is nan. You subtracted the max of the WHOLE array (1000), "
                          "and that row's scores / T (at most 200) lie 800 or more below it: exp() underflows to 0 "
                          "in every entry, and 0/0 = nan. Subtract each row's own max: z.max(axis=-1, "
                          "keepdims=True).",
            "overflow": "at T = 0.01 the scores / T reach 1000 and exp() overflows to inf (inf/inf = nan). Subtract "
                        "each row's max of scores / T before np.exp — the weights do not change.",
            "wrong_small_t": "wrong at T = 0.01; the weights must be softmax(scores / T).",
        },
        fallbacks={"wrong": "weights = softmax(scores / T) along the last axis."},
    ),
    Exercise(
        id="3.3", function="uniform_query", checker="check_uniform_query",
        title="a nonzero query that lights every key equally",
        solved_by=("crossattn.uniform_query", "crossattn.core.spotlight.orthogonal_query"),
        hints={
            "refuses_identical": REFUSED + "but these {n} keys are identical, so their differences have rank 0 "
                                           "< d = {d} and any unit vector works. Test the rank of the differences, "
                                           "not n > d.",
            "refuses_spanning": REFUSED + "yet a uniform query exists: the {n_diffs} differences k_j − k_0 have "
                                          "rank {rank} < d = {d}. The keys themselves span all {d} directions, so "
                                          "no nonzero query is orthogonal to every key, but one IS orthogonal to "
                                          "every key DIFFERENCE, and that is all equal scores need.",
            "refuses_low_rank": REFUSED + "yet a uniform query exists: the {n_diffs} differences k_j − k_0 have "
                                          "rank {rank} < d = {d}. Raise ValueError only when the rank of the "
                                          "differences equals d.",
            "returns_scores": "You returned one number per key (the scores?). Return the query itself: a vector of "
                              "width d.",
            "per_difference": "You returned one number per key difference. Return the query itself: a vector of "
                              "width d.",
            "not_finite": "your query for {label} contains nan or inf.",
            "zero_query": "for {label} you returned the zero query. q = 0 does give uniform weights, but the "
                          "exercise asks for a NONZERO query: return a unit vector orthogonal to every key "
                          "difference.",
            "least_aligned": "for {label} you returned the direction least aligned with the keys (the last "
                             "right-singular vector of K). These keys span all {d} directions, so nothing nonzero "
                             "is orthogonal to every key. Equal scores need less: q orthogonal to every key "
                             "DIFFERENCE k_j − k_0.",
            "reduced_svd": "for {label} your query lies in the span of the {n_diffs} key differences, not orthogonal "
                           "to them. The first r = {rank} rows of Vt (r = the rank of D) span the differences, so "
                           "Vt[0] … Vt[r − 1] all fail; take Vt[r]. np.linalg.svd(D, full_matrices=False) returns "
                           "only {n_diffs} rows, none beyond the span; keep full_matrices=True (the default) to get "
                           "all {d}.",
            "reduced_svd_index": "For {label}, if that index is into Vt: np.linalg.svd(D, full_matrices=False) "
                                 "returns only {n_diffs} rows of Vt, all inside the span of the differences, and "
                                 "drops the rows beyond it, the ones you need. Keep full_matrices=True (the "
                                 "default) to get all {d} rows.",
            "unequal": "for {label} your query gives unequal scores K @ q = {scores}. Make q orthogonal to every key "
                       "difference k_j − k_0 (j = 1..n−1): take a row of Vt from np.linalg.svd(D) beyond the rank "
                       "of the (n−1, d) matrix D of differences.",
            "not_unit": "for {label} the scores are equal, but your query has length {norm:.3f}: divide it by its "
                        "norm to return a unit vector.",
            "other_error": NO_UNIFORM + "no uniform query exists, and the function should raise ValueError; it "
                                        "raised {error}",
            "never_raises": NO_UNIFORM + "the 5 differences span all 4 directions, so no nonzero query gives equal "
                                         "scores (yours spread over {spread:.3g}). Check the rank of the "
                                         "differences and raise ValueError when it equals d.",
        },
    ),
    Exercise(
        id="3.4", function="nadaraya_watson", checker="check_nadaraya_watson",
        title="attention as kernel regression",
        allowed=("crossattn.softmax",),
        solved_by=("crossattn.nadaraya_watson", "crossattn.kernel_as_attention"),
        hints={
            "crash_shapes": "x_query[:, None] - x_train[None, :] has shape (m, n): one row per query, one column "
                            "per training point.",
            "per_training_point": "You returned one number per training point. Return one prediction per QUERY: "
                                  "softmax over the training points (axis=-1), then weights @ y_train.",
            "returns_weights": "You returned the weights. Return their blend of the values: weights @ y_train.",
            "transposed_scores": "Your scores are (n, m): build them as x_query[:, None] - x_train[None, :], one "
                                 "row per query.",
            "nan": "you got nan: did exp() overflow or underflow, or did you take the log of a negative y? Use a "
                   "stable softmax (crossattn.softmax) and blend the y values with the weights as they are.",
            "squared_twice": "you squared the bandwidth twice: the score is −(x − x_j)² / (2λ²), with "
                             "λ² = bandwidth**2, not bandwidth**4.",
            "not_squared": "divide by 2λ², not by 2λ: the bandwidth is squared once (2 * bandwidth**2).",
            "no_factor_two": "the Gaussian kernel has a 2 in it: −(x − x_j)² / (2λ²).",
            "sign_flipped": "the sign is flipped: your weights favour the FARTHEST points. The score is "
                            "−(x − x_j)² / (2λ²).",
            "laplace": "you used the distance |x − x_j| itself (a Laplace kernel). The Gaussian kernel scores by "
                       "minus the SQUARED distance: square the distance, −(x − x_j)² / (2λ²), i.e. "
                       "-diff**2 / (2 * bandwidth**2).",
            "dot_product": "you used the dot product x·x_j as the score, which favours large x_j, not NEAR ones. "
                           "Nadaraya–Watson scores by closeness: minus the squared distance, −(x − x_j)² / (2λ²), "
                           "i.e. -diff**2 / (2 * bandwidth**2).",
            "wrong_axis": "your weights sum to 1 over the queries (axis 0). Each query's weights over the n "
                          "training points must sum to 1: softmax over axis=-1.",
            "unnormalised": "normalise the kernel weights: divide by their sum (softmax), so each row sums to 1.",
            "plain_mean": "you returned the plain mean of y_train: weight each y_j by its kernel score.",
            "nearest_neighbour": "that is the nearest neighbour's y. Blend all y_j with Gaussian-kernel weights.",
            "far_nan": "with λ = 0.02 a query at x = 4 has scores below −2000 for every training point: exp() "
                       "underflows to 0 and 0/0 = nan. Subtract each row's max score first (crossattn.softmax "
                       "does): the weights then go to the nearest point.",
            "wrong_narrow": "right at λ = {lam} but wrong at λ = 0.02; use the same formula for every λ.",
        },
        fallbacks={"wrong": "prediction = softmax(−(x_query[:, None] − x_train[None, :])² / (2λ²), axis=-1) @ "
                            "y_train, with λ = bandwidth."},
    ),
)
