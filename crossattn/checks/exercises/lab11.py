"""Lab 11, listening: cross-attention as alignment — exercises 11.1–11.4 (checkers in crossattn/checks/lab11.py)."""
from ..registry import Exercise

PATH = "a path is an integer array of shape (L, 2), one row (word, frame) per cell it visits, "

EXERCISES = (
    Exercise(
        id="11.1", function="dtw", checker="check_dtw", title="dynamic time warping over a cost matrix",
        solved_by=("crossattn.core.alignment.dtw",),
        hints={
            "total_matrix": "you returned a matrix of shape {shape}, the cost's own shape: that is the table of "
                            "cheapest totals. Walk it back from the last cell to (0, 0) and return the cells "
                            "visited, " + PATH.rstrip(", ") + ".",
            "reversed": "your path runs backwards, from the last cell to (0, 0): after walking the table back, "
                        "reverse the list (path[::-1]) so that it starts at (0, 0).",
            "transposed": "your path's rows are (frame, word): the cost has one row per WORD (N = {N}) and one "
                          "column per frame (M = {M}); write each cell as (word, frame).",
            "skips": "your path jumps over cells: it moves by {step}. A step moves to the next frame (0, 1), the "
                     "next word (1, 0), or both (1, 1), never further.",
            "backwards": "your path moves backwards by {step}: a monotone path never returns to an earlier word "
                         "or frame.",
            "wrong_start": "your path starts at {start}: every path starts at (0, 0), the first word on the first "
                           "frame.",
            "wrong_end": "your path ends at {end}: every path ends at ({N1}, {M1}), the last word on the last frame "
                         "(walk back from there, not from the cheapest cell of the last row).",
            "no_diagonal": "your path never moves diagonally: the diagonal step (1, 1), the next word on the next "
                           "frame, is allowed too, and it is often the cheapest.",
            "maximises": "your path is the most EXPENSIVE one: take the min of the three predecessors, not the max.",
            "greedy": "your path is greedy: at each cell it steps to the cheapest neighbour. A cheap step now can "
                      "lead to expensive cells later; fill the table of cheapest totals first, then walk back.",
        },
        fallbacks={"not_cheapest": "your path is a valid monotone path, but it costs {got:.4f} and the cheapest "
                                   "costs {want:.4f}. Check both halves: the table, total[i, j] = cost[i, j] + "
                                   "min(total[i−1, j−1], total[i−1, j], total[i, j−1]); and the walk back, which "
                                   "steps each time to the predecessor with the smallest TOTAL, not the smallest "
                                   "cost of a single cell."},
        plumbing={"not_pairs": PATH + "got shape {shape}."},
    ),
    Exercise(
        id="11.2", function="word_starts", checker="check_word_starts", title="where each word starts",
        allowed=("crossattn.core.alignment.dtw",),
        solved_by=("crossattn.core.alignment.word_starts",),
        hints={
            "ends": "you returned the LAST frame of each word on the path: a word starts on the frame where the "
                    "path first enters its row.",
            "previous_end": "off by one step of the path: you took the cell BEFORE each jump (the frame where the "
                            "previous word ends). np.diff(rows) has one entry fewer than the path: the jump into "
                            "word i is at path index k + 1 when rows[k + 1] ≠ rows[k].",
            "path_index": "you returned where each word starts in the PATH (an index into its L cells), not on "
                          "which frame: read the frame, path[k, 1].",
            "no_first": "you left out the first word: it starts too (at frame 0), so return n_words starts.",
            "float": "the starts are frame numbers: return an integer array (dtype int), got dtype {dtype}.",
        },
        fallbacks={"wrong": "for the path {path} expected {want}, got {got}: the frame of the first cell of each "
                            "row."},
    ),
    Exercise(
        id="11.3", function="attention_timestamps", checker="check_attention_timestamps",
        title="timestamps from cross-attention maps",
        allowed=("crossattn.core.alignment.dtw", "crossattn.core.alignment.word_starts"),
        solved_by=("crossattn.experiments.alignment.timestamps",),
        hints={
            "wrong_axis": "you standardised each word's row across the frames (axis=-1): Whisper standardises "
                          "each FRAME's column across the words (axis=-2, keepdims=True), which removes what all "
                          "words do on that frame.",
            "no_negation": "you ran dtw on the attention itself: DTW finds the CHEAPEST path, and high attention "
                           "should be cheap, so pass the negative, dtw(-matrix).",
            "no_standardise": "you did not standardise: a frame that every word attends to (here frame {sink}) pulls "
                              "the path through it. Subtract each frame's mean over the words and divide by its "
                              "standard deviation.",
            "averaged_first": "you averaged the heads before standardising: standardise each head's map first, "
                              "then average, so that a head with large attention weights does not outvote the "
                              "others.",
            "one_head": "you used only the first head: average the standardised maps of all {H} heads.",
            "returned_path": "you returned the DTW path (shape {shape}); return the first frame of each word, "
                             "shape ({N},).",
        },
        fallbacks={"wrong": "expected the starts {want}, got {got}: standardise each head's map per frame "
                            "(over the words), average the heads, dtw(-matrix), then the word starts."},
    ),
    Exercise(
        id="11.4", function="boundary_error", checker="check_boundary_error", title="the error of the timestamps",
        solved_by=("crossattn.experiments.alignment.boundary_error",),
        hints={
            "with_first": "you averaged over every word, the first included: the first word starts at frame 0 in "
                          "both, so it adds a 0 that makes every error look smaller. Average over words 1..N−1.",
            "signed": "you averaged the signed differences: an early start and a late one cancel. Take the "
                      "absolute value of each difference first.",
            "squared": "you averaged squared differences: the error is in frames, the mean of |predicted − true|.",
            "rmse": "you took the root mean square: the error here is the mean ABSOLUTE difference, in frames.",
            "summed": "you summed the differences: divide by the number of words after the first, so that "
                      "utterances of different lengths compare.",
        },
        fallbacks={"wrong": "for predicted {predicted} and true {true} expected {want:.4f}, got {got}: the mean of "
                            "|predicted − true| over the words after the first."},
        plumbing={"per_word": "you returned {n} numbers: return one, the mean over the words after the first.",
                  "not_number": "return a number (a float), got {type}."},
    ),
)
