"""Lab 9, pictures from words — exercises 9.1–9.4 (checkers in crossattn/checks/lab09.py)."""
from ..registry import Exercise

WEIGHTS_AXIS = ("each image position's weights must sum to 1 over the T words: softmax over the LAST axis of the "
                "(B, P, T) scores, dim=-1.")

EXERCISES = (
    Exercise(
        id="9.1", function="image_reads_text", checker="check_image_reads_text",
        title="image positions read the prompt",
        # the package's attention (NumPy, batched) computes it; the layer's forward too (its class is the model's)
        solved_by=("crossattn.attention", "crossattn.nn.layers.MultiheadAttention.forward"),
        hints={
            "reversed": "your result has one row per WORD: the text read the image. In a text-to-image denoiser the "
                        "image positions are the queries, Q = x @ w_q (B, P, d_k), and the prompt gives the keys and "
                        "values, K = s @ w_k, V = s @ w_v (B, T, ·).",
            "softmax_over_queries": "your weights sum to 1 over the image positions. " + WEIGHTS_AXIS,
            "unscaled": "you forgot to divide the scores by √d_k (d_k = {d_k}, the width of a query and key).",
            "by_d_model": "you divided the scores by √{d_model}, the width of the states x and s; divide by √d_k = "
                          "√{d_k}, the width of the queries and keys after projection.",
            "keys_as_values": "you used the keys as values: V = s @ w_v, not s @ w_k.",
            "no_softmax": "you multiplied the raw scores by V: turn them into weights with a softmax over the words "
                          "first.",
            "batched_transpose": "On a 3-D tensor, `.T` "
                                 "reverses ALL axes, (B, T, d_k) → (d_k, T, B); swap only the last two: "
                                 "k.transpose(-2, -1) (or k.mT).",
        },
        fallbacks={"wrong": "O = softmax(Q Kᵀ / √d_k) V with Q = x @ w_q (B, P, d_k), K = s @ w_k (B, T, d_k), "
                            "V = s @ w_v (B, T, d_v), the softmax over the T words."},
    ),
    Exercise(
        id="9.2", function="guided_velocity", checker="check_guided_velocity",
        title="classifier-free guidance",
        solved_by=("crossattn.experiments.text_to_image.guide",),
        hints={
            "swapped": "you moved from the prompt's velocity TOWARD the null one: the guided velocity is "
                       "v_null + w·(v_prompt − v_null), which is v_null at w = 0 and v_prompt at w = 1.",
            "no_base": "you returned only the difference w·(v_prompt − v_null): add it to v_null, the velocity the "
                       "model predicts without the prompt.",
            "scaled_prompt": "you scaled the prompt's velocity, w·v_prompt: guidance extrapolates from the null "
                             "branch, v_null + w·(v_prompt − v_null).",
            "plus_one": "you wrote the form (1 + w)·v_prompt − w·v_null of Ho & Salimans' paper, where w = 0 means no "
                        "guidance. In this course w = 1 is the prompt's own velocity: v_null + w·(v_prompt − v_null) "
                        "(their w is our w − 1).",
            "average": "you averaged the two branches: the guidance scale w must set how far to go along "
                       "v_prompt − v_null.",
        },
        fallbacks={"wrong": "at w = {w} the guided velocity is v_null + w·(v_prompt − v_null)."},
    ),
    Exercise(
        id="9.3", function="word_attention_map", checker="check_word_attention_map",
        title="one word's map over the image",
        solved_by=("crossattn.experiments.text_to_image.word_map",),
        hints={
            "no_normalise": "your map does not sum to 1 over the image: divide each map by its sum over the "
                            "positions (the weights sum to 1 over the WORDS, not over the positions).",
            "by_max": "you divided by the largest weight: divide by the SUM over the positions, so that the map is "
                      "a distribution over the image and maps of different images compare.",
            "softmax": "you applied a softmax to weights that are already probabilities: divide by their sum "
                       "over the positions instead.",
            "one_head": "you kept one head: average weights over the h heads (axis 1) first.",
            "column_major": "your map is filled column by column: patch k sits at grid row k // cols and column "
                            "k % cols (row by row, as patchify numbers them): reshape(B, rows, cols).",
            "swapped_grid": "the grid is {rows} rows by {cols} columns: reshape to (B, rows, cols).",
        },
        fallbacks={"wrong": "the map of word j: weights[:, :, :, j] averaged over the heads, divided by its sum over "
                            "the P positions, reshaped to (B, rows, cols) row by row. In that order: average the "
                            "heads first, then divide once; dividing each head by its own sum first gives every "
                            "head the same say, whatever weight it gave the word."},
    ),
    Exercise(
        id="9.4", function="sample_cached", checker="check_sample_cached",
        title="the prompt's K and V, once per image",
        # the model it is given runs its blocks' MultiheadAttention.forward
        allowed=("crossattn.nn.cache.KVCache", "crossattn.nn.layers.MultiheadAttention.forward"),
        hints={
            "no_cache": "your images are right, but the prompt's keys and values were projected {count} times "
                        "({steps} steps × {layers} blocks): pass a list of static caches, one per block, to the "
                        "model at every step.",
            "cache_per_step": "you made new caches inside the loop, so the prompt was projected again at every step "
                              "({count} times): make the caches once, before the first step.",
            "shared_cache": "one cache for all blocks: block 2 then reads block 1's keys and values. Each block has "
                            "its own W_K, W_V, so make one KVCache(static=True) per block.",
            "growing_cache": "KVCache() without static=True is a GROWING cache: it appends the prompt's keys and "
                             "values again at every step (projected {count} times), so step i attends over i·T "
                             "copies of the same T keys. The pictures come out the same, the work and the memory "
                             "do not: use KVCache(static=True).",
            "wrong_time": "the Euler step i starts at time t = i / steps (0 at the noise, 1 at the image): your "
                          "times are off.",
        },
        fallbacks={"wrong": "x ← x + model(x, t, words, caches) / steps at t = i / steps, i = 0 … steps − 1, with "
                            "caches = one KVCache(static=True) per block, made once."},
    ),
)
