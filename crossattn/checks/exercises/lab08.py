"""Lab 8, beyond translation — exercises 8.1–8.5 (checkers in crossattn/checks/lab08.py)."""
from ..registry import Exercise

FLOAT = ("the right value, but as a float ({value!r}): a count of {what} is an exact integer, so return an int. Use "
         "integer arithmetic: `//` instead of `/`, no float literals like 2.0.")
COUNT_PLUMBING = {"not_number": "{what} should be a number, got {type}"}
RANKING = "your ranking is what "
PLAIN_IDF = " This exercise uses the plain idf, log(N / df), over the words that occur (df > 0)."
NO_LAYERS = "every layer keeps its own cache: multiply by layers."

EXERCISES = (
    Exercise(
        id="8.1", function="patchify", checker="check_patchify", title="cut an image into patches",
        solved_by=("crossattn.core.images.patchify",),
        hints={
            "keeps_grid": "you kept the grid as two axes (rows, cols): flatten it to one axis of P = rows·cols "
                          "patches.",
            "unflattened": "each patch must be flattened to one vector of p·p·C values.",
            "transposed": "your result is (B, patch_dim, P): one ROW per patch, (B, P, patch_dim).",
            "no_batch": "keep the batch axis: the result is (B, P, patch_dim).",
            "plain_reshape": "a plain reshape (B, H, W, C) -> (B, P, p·p·C) cuts the image into runs of consecutive "
                             "pixels along the rows, not into p × p squares. Split H into (rows, p) and W into "
                             "(cols, p), move the two grid axes next to each other with a transpose, then flatten.",
            "column_order": "your patches are numbered down the columns first. Number them row by row, like "
                            "reading a page: patch k is at grid row k // cols and grid column k % cols.",
            "columns_inside": "inside each patch you flattened column by column. Keep the order (pixel row, pixel "
                              "column, channel), so that patch.reshape(p, p, C) is the patch as a small image.",
            "channels_first": "inside each patch you put the channel first (C, p, p). Keep the order (pixel row, "
                              "pixel column, channel): channels last, as in the image.",
            "strided": "your 'patches' take every (H/p)-th pixel: strided samples spread over the whole image, not "
                       "contiguous p × p blocks. Reshape H as (H/p, p), the grid row first, then the pixel row "
                       "inside it.",
            "rgb_only": "Your function works for RGB images but not for these, of shape (3, 10, 15, 2): C = 2 "
                        "channels. Read B, H, W, C from images.shape; do not write 3.",
        },
        fallbacks={"wrong": "patch k must hold the pixels of grid row k // cols and grid column k % cols, flattened "
                            "in the order (pixel row, pixel column, channel)."},
    ),
    Exercise(
        id="8.2", function="retrieve", checker="check_retrieve", title="a TF-IDF retriever",
        solved_by=("crossattn.core.retrieval.retrieve", "crossattn.core.retrieval.tfidf_scores"),
        hints={
            "scores": "you returned one score per passage. Return the INDICES of the k best passages, best first "
                      "(np.argsort of the negated scores, then [:k]).",
            "wrong_count": "with k={k} return a list of {k} passage indices, got {what}.",
            "not_whole": "return passage indices (whole numbers), got {values}.",
            "not_indices": "{values} are not passage indices 0..{last}.",
            "duplicates": "{values} lists a passage more than once: return k DIFFERENT passages.",
            "no_df_guard": "a question word that NO passage contains has df = 0, and log(N / 0) = inf; tf = 0 times "
                           "inf is NaN, and NaN scores sort anywhere. Skip such words (they add nothing), e.g. "
                           "np.where(df > 0, np.log(N / np.maximum(df, 1)), 0).",
            "absent_word_crash": "your function runs once the question's word 0 is left out: word 0 occurs in NO "
                                 "passage, so its df is 0 (log(N / 0) divides by zero; a dict of df has no entry "
                                 "for it). Skip such words: they add nothing to any score.",
            "no_dedupe": "a word that occurs twice in the QUESTION counts once: the sum runs over the question's "
                         "distinct words (set(question)).",
            "no_idf": RANKING + "plain counts of matching words give, without weighting them. Multiply each word's "
                                "count by its idf, log(N / df): a word found in many passages tells little.",
            "binary_tf": RANKING + "'does the passage contain t' gives. tf(t, passage) is the NUMBER of times t "
                                   "occurs in the passage: a passage that repeats an asked word counts it every "
                                   "time.",
            "length_tf": RANKING + "tf divided by the passage's length gives: use the raw count of t in the passage, "
                                   "without dividing by its length.",
            "no_log": RANKING + "N / df without the logarithm gives: idf is log(N / df).",
            "occurrence_df": RANKING + "df counted as occurrences gives: df(t) counts the PASSAGES that contain t "
                                       "(each passage once), not how many times t occurs in the whole corpus.",
            "smooth_idf": RANKING + "the smoothed idf log((N + 1) / (df + 1)) gives." + PLAIN_IDF,
            "sklearn_idf": RANKING + "scikit-learn's default idf, log((N + 1) / (df + 1)) + 1, gives." + PLAIN_IDF,
            "vocab_idf": RANKING + "log(V / df), with V the vocabulary size, gives: N in idf is the number of "
                                   "PASSAGES, len(passages).",
            "cosine": RANKING + "cosine similarity of TF-IDF vectors gives: here the score is the plain sum "
                                "Σ tf(t, passage) · idf(t), not divided by the passage vector's length.",
            "worst_first": "you found the right passages but listed them worst first: sort by score from the "
                           "highest down (np.argsort(-scores)), best first.",
            "not_best_first": "you found the right passages, but not best first: with k={k} their scores in your "
                              "order are {picked}. Sort them by score, highest first (np.argsort(-scores)[:k]); a "
                              "set, sorted(...) of indices or np.argpartition do not keep that order.",
            "lowest": "you returned the k LOWEST scores: np.argsort sorts from small to large, so sort the negated "
                      "scores, np.argsort(-scores), or reverse.",
            "other_ranking": "with k={k} the best passages, best first, are {want}; you returned {got}. score = Σ "
                             "over the question's DISTINCT words t of tf(t, passage) · log(N / df(t)), N passages, "
                             "df(t) of which contain t; a word no passage contains adds nothing.",
        },
    ),
    Exercise(
        id="8.3", function="latent_score_entries", checker="check_latent_score_entries",
        title="count the score entries",
        solved_by=("crossattn.core.latent.latent_score_entries",),
        hints={
            "cross_only": "you counted the cross-attention (L × N) only: each of the latent_layers self-attentions "
                          "of the latents adds an L × L score matrix per head.",
            "latent_once": "the latent self-attention runs latent_layers times: latent_layers·L² per head, not L² "
                           "once.",
            "full": "N² per layer is what self-attention over the N INPUTS would hold. Here the L latents read the N "
                    "inputs once (L·N) and then attend among themselves (L²).",
            "reads_every_layer": "only the first step reads the inputs (L × N, once); the following latent_layers "
                                 "steps are latents reading latents, L × L each.",
            "counted_twice": "count each score matrix once: one L × N read, then latent_layers matrices of L × L.",
            "no_heads": "every head holds its own score matrix: multiply by h.",
            "h_on_read_only": "you multiplied only the read by h: every head also has its own L × L latent "
                              "self-attention scores, so multiply the WHOLE sum by h.",
            "joined": "(N + L)² is self-attention over the inputs and latents joined together. Here the latents are "
                      "the queries and the inputs only keys and values: L·N + latent_layers·L².",
            "latents_read_inputs": "the latent self-attention is L × L: the latents attend to the latents, not to "
                                   "the N inputs.",
            "float": FLOAT.replace("{what}", "score entries"),
        },
        fallbacks={"wrong": "for {args} expected {want}: h·(N·L + latent_layers·L²)."},
        plumbing=COUNT_PLUMBING,
    ),
    Exercise(
        id="8.4", function="latent_mixing", checker="check_latent_mixing", title="mixing through the latents",
        allowed=("crossattn.attention", "crossattn.softmax"),
        solved_by=("crossattn.core.latent.mixing_matrix", "crossattn.core.latent.perceiver_weights"),
        hints={
            "wrong_order": "an (L, L) result: you multiplied read @ write. The output tokens read the latents, which "
                           "read the inputs: M = write @ read, (N, L) @ (L, N).",
            "write_only": "an (N, L) result is the write weights alone: multiply by the read weights, "
                          "M = write @ read.",
            "read_only": "an (L, N) result is the read weights alone: the outputs then read the latents, "
                         "M = write @ read.",
            "rank": "your matrix has rank {rank} > L = {L}; through {L} latents it cannot.",
            "old_latents": "the outputs read the latents AFTER the latents have read the inputs: use "
                           "Z1 = read @ S (L, d) as the keys and values of the second attention, not the initial "
                           "latents Z.",
            "residual": "no residual here: the latents after reading are Z1 = read @ S alone, not Z + read @ S. (A "
                        "residual acts on each latent by itself; this exercise follows only what moves between "
                        "tokens.)",
            "read_columns": "the read weights must sum to 1 over the N inputs for each latent (softmax along the "
                            "last axis of the (L, N) scores), not over the latents.",
            "write_columns": "the write weights must sum to 1 over the L latents for each token (softmax along the "
                             "last axis of the (N, L) scores), not over the tokens.",
            "unscaled": "scale the scores by 1/√d before the softmax (crossattn.attention does it for you).",
            "by_d": "the scale is 1/√d, the square root of the width, not 1/d (crossattn.attention does it for "
                    "you).",
            "full": "that is full self-attention of the inputs, attention(S, S, S): no bottleneck, rank N. Route "
                    "through the latents: the latents read S, then S reads the latents.",
            "transposed": "your matrix is transposed: row i must say how much OUTPUT token i takes from each input "
                          "token, so each row sums to 1. M = write @ read.",
        },
        fallbacks={"wrong": "not the mixing through the latents. Check each step's shape and which axis each "
                            "softmax normalises: the latents read the inputs (weights (L, N), rows sum to 1), the "
                            "latents become weighted means of the inputs, the tokens read those latents (weights "
                            "(N, L)), and M combines the two weight matrices."},
    ),
    Exercise(
        id="8.5", function="kv_cache_values", checker="check_kv_cache_values", title="what the cache holds",
        solved_by=("crossattn.core.latent.kv_cache_values",),
        hints={
            "keys_only": "standard attention caches a key AND a value per head: 2·h·d_head per token and layer.",
            "one_head": "every head has its own key and value: 2·h·d_head per token and layer, not 2·d_head.",
            "no_layers": NO_LAYERS,
            "no_tokens": "the cache grows with the tokens: multiply by tokens.",
            "latent_per_head": "MLA caches ONE latent per token and layer, shared by all h heads: d_c, not h·d_c. "
                               "The heads' keys and values are rebuilt from it.",
            "two_latents": "the latent is shared by the keys AND the values (a joint compression): d_c once, not "
                           "2·d_c.",
            "no_rope": "add the decoupled RoPE key: MLA caches d_c + d_rope values per token and layer.",
            "rope_per_head": "the RoPE key is shared by all heads: d_rope once, not h·d_rope.",
            "full_kv": "with d_c given this is MLA: it caches the latent (d_c + d_rope per token and layer), not the "
                       "full keys and values (2·h·d_head).",
            "float": FLOAT.replace("{what}", "cached values"),
        },
        fallbacks={
            "wrong_mha": "for {args} expected {want}: tokens·layers·2·h·d_head.",
            "wrong_mla": "for {args} expected {want}: tokens·layers·(d_c + d_rope).",
        },
        plumbing=COUNT_PLUMBING,
    ),
)
