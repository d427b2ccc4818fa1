"""Lab 5, caching: compute the library once — exercises 5.1–5.5 (checkers in crossattn/checks/lab05.py).

5.2 and 5.3 build on the model: an answer works through the attention layer and the cache it is
given (their projections, ``project_kv`` and ``append`` / ``store``), but never runs the layer
itself with a cache, which is what the exercise asks to write.
"""
from ..registry import Exercise

FLOAT = ("the right value, but as a float ({value!r}): a count of {what} is an exact integer, so return an int. "
         "Use integer arithmetic: `//` instead of `/`, no float literals like 2.0, no math.pow.")
UNSCALED = "you forgot to scale the scores by 1/√d_head (attn.d_head)."
SCALE_D_MODEL = "scale the scores by 1/√d_head, the width of ONE head (attn.d_head), not by 1/√d_model."
NO_W_O = "you forgot the output projection: apply attn.w_o to the merged heads."
NOT_NUMBER = {"not_number": "{what} should be a number, got {type}"}
#: What 5.2 and 5.3 say about the output tensor (B, 1, d_model).
OUTPUT = {
    "returns_tuple": "your function returned a tuple of {n} items; return only the output tensor (B, 1, d_model).",
    "heads_not_merged": "your output is still split into heads, {shape}: merge them, (B, h, 1, d_head) -> "
                        "(B, 1, h·d_head), and apply attn.w_o.",
}
OUTPUT_PLUMBING = {
    "not_tensor": "return a torch tensor of shape {shape}, got {type}",
    "wrong_shape": "expected an output of shape {expected} (B, 1, d_model), got {got}",
}

EXERCISES = (
    Exercise(
        id="5.1", function="cache_bytes", checker="check_cache_bytes", title="how big are the caches?",
        solved_by=("crossattn.experiments.caching_cost.cache_bytes",
                   "crossattn.experiments.caching_cost.PublishedConfig.cache_bytes"),
        hints={
            "swapped": "your two numbers are swapped, or each cache holds the other's positions: the cross cache "
                       "holds the n SOURCE positions, the self cache the T positions fed to the decoder.",
            "only_keys": "each layer caches two tensors, K and V: count both (a factor 2).",
            "one_layer": "every decoder layer has its own cache (its own W_K, W_V): multiply by n_layers.",
            "counts_values": "you counted values, not bytes: multiply by dtype_bytes (2 for float16, 4 for "
                             "float32).",
            "cross_grows": "your cross cache grows with the steps. The source does not change while decoding: its "
                           "K, V are stored once, n rows per layer, whatever T is.",
            "self_off_by_one": "off by one: after T steps the self cache holds T rows, one per token fed in (BOS "
                               "and the first T − 1 generated tokens; the last one is not fed back yet).",
            "self_holds_source": "the self cache holds the target side, the T tokens fed so far, not the n source "
                                 "positions.",
            "float": FLOAT.replace("{what}", "bytes"),
        },
        fallbacks={"wrong": "for {args} expected ({cross:.0f}, {self_:.0f}) bytes: 2·L·n·d_model·dtype_bytes and "
                            "2·L·T·d_model·dtype_bytes."},
        plumbing={"not_pair": "return a pair (cross_bytes, self_bytes), got {type}", **NOT_NUMBER},
    ),
    Exercise(
        id="5.2", function="self_attention_step", checker="check_self_attention_step",
        title="one step of self-attention with a growing cache",
        allowed=("crossattn.nn.layers.MultiheadAttention.project_kv", "crossattn.nn.cache.KVCache.append"),
        solved_by=("crossattn.nn.layers.MultiheadAttention.forward", "crossattn.nn.layers.DecoderLayer.forward"),
        hints={
            "batched_transpose": "On a 4-D tensor `.T` reverses ALL axes, (B, h, t, d_head) -> (d_head, t, h, B). "
                                 "Swap only the last two: k.transpose(-2, -1) (or k.mT).",
            "width_concat": "your cache's K is {shape}: you concatenated along the width. Cached rows are "
                            "positions: concatenate along dim=-2 (cache.append does this).",
            "appends_twice": "at step {t} your function grew the cache from {before} to {after} rows, expected "
                             "{expected}: you appended the new K, V more than once. cache.append(k_new, v_new) "
                             "stores them AND returns all of K and V: call it once per step and use what it "
                             "returns.",
            **OUTPUT,
            "before_append": "off by one: the new query attended only to the rows cached BEFORE it. A token may "
                             "read itself: append its K, V first, then attend.",
            "overwrites": "the new query read only its own K, V: you replaced the cache by the new row. Append it "
                          "(along the position axis, dim=-2) and attend over all cached rows.",
            "mask_offset": "the new query read only the first cached row: a causal mask inside a step is off by "
                           "the offset. With a cache no mask is needed: the future is not in the cache yet.",
            "unscaled": "you forgot to scale the scores by 1/√d_head (d_head = attn.d_head, the width of one "
                        "head).",
            "scale_d_model": SCALE_D_MODEL,
            "no_w_o": NO_W_O,
            "softmax_queries": "your attention weights do not sum to 1 over the keys: take the softmax over the "
                               "last axis, the keys (dim=-1). Over dim=-2, the single query, every weight becomes 1.",
            "not_stored": "your output is right, but the cache holds {rows} rows after the step instead of "
                          "{expected}: store the grown K, V in the cache (cache.append does both), or the next "
                          "step will not see this token.",
            "wrong_rows": "the cache's rows are not the K, V of the tokens fed so far: append "
                          "attn.project_kv(x_new), nothing else, along dim=-2.",
            "empty_cache": "one step at a time from an empty cache, your outputs differ from causal self-attention "
                           "over the whole prefix. Does your function work when the cache is empty (step 0)?",
        },
        fallbacks={"wrong": "the output must equal causal self-attention at this position: append the new K, V to "
                            "the cache, then attend over all cached rows."},
        plumbing=OUTPUT_PLUMBING,
    ),
    Exercise(
        id="5.3", function="cross_attention_step", checker="check_cross_attention_step",
        title="one step of cross-attention with a static cache",
        allowed=("crossattn.nn.layers.MultiheadAttention.project_kv", "crossattn.nn.cache.KVCache.store"),
        solved_by=("crossattn.nn.layers.MultiheadAttention.forward", "crossattn.nn.layers.DecoderLayer.forward"),
        hints={
            "batched_transpose": "On a 4-D tensor `.T` reverses ALL axes, (B, h, n, d_head) -> (d_head, n, h, B). "
                                 "Swap only the last two: k.transpose(-2, -1) (or k.mT).",
            "mask_turned": "masked_fill grew your scores from {before} to {after}: the mask was turned the wrong "
                           "way. mask (B, 1, 1, n) has the source on its LAST axis, the key axis of the scores: "
                           "use it as given, scores.masked_fill(~mask, float('-inf')).",
            "uses_append": "you called append() on the cross-attention cache, which refused. A static cache is "
                           "filled with store(), never append(): at the first step (cache.k is None) call "
                           "cache.store(k, v) once; append() is for the growing self-attention cache.",
            "appends_source": "your cross cache grew to {rows} rows at step {t} (n = {n}): you appended the source "
                              "K, V again. The source does not change while decoding: store its K, V once, never "
                              "append.",
            **OUTPUT,
            "softmax_queries": "your output holds NaN: you took the softmax over dim=-2, the single query, where "
                               "each weight is exp(s − s) = 1 and a blocked score gives exp(-inf − (-inf)) = NaN. "
                               "Take the softmax over the keys, dim=-1.",
            "softmax_axis": "your output holds NaN: you took the softmax over dim={dim}, not over the keys. A padded "
                            "key has score -inf in every {axis}, and a softmax along that axis gives "
                            "exp(-inf − (-inf)) = NaN. Take the softmax over the keys, dim=-1.",
            "nan_inverted": "your output holds NaN: some query had every key blocked. Is your mask inverted? "
                            "True = may attend, so block where the mask is False: masked_fill(~mask, -inf).",
            "no_mask": "padded source positions got weight: apply the mask (True = may attend) to the scores, "
                       "masked_fill(~mask, -inf), before the softmax.",
            "inverted": "your mask is inverted: True means 'may attend', so block the keys where the mask is False.",
            "unscaled": UNSCALED,
            "scale_d_model": SCALE_D_MODEL,
            "no_w_o": NO_W_O,
            "never_cached": "your outputs are right, but the cross cache is still empty after {T} steps: you "
                            "projected the source at every step. Store its K, V in the cache at the first step "
                            "(cache.store) and reuse them.",
            "wrong_length": "your cross cache holds {rows} rows; it should hold the n = {n} source positions, once.",
            "reprojects": "your outputs are right, but W_K ran on the source at {calls} of the {T} steps: you "
                          "projected the source again although its K, V were cached. Project only when the cache "
                          "is empty; then reuse cache.k, cache.v.",
            "wrong_cache": "the cross cache should hold attn.project_kv(s), the source's K and V.",
            "needs_source": "with s=None after the cache was filled your function raised {detail}. Once the cache "
                            "is filled, read everything from it (K, V and their length n); the source is not "
                            "needed.",
            "ignores_cache": "with s=None and a filled cache your output is wrong: read K, V from the cache.",
        },
        fallbacks={"wrong": "at step {t} your output differs from cross-attention to the source: queries from "
                            "x_new, K and V from s, padding masked."},
        plumbing=OUTPUT_PLUMBING,
    ),
    Exercise(
        id="5.4", function="self_attention_flops", checker="check_self_attention_flops",
        title="counting the FLOPs of decoder self-attention",
        solved_by=("crossattn.experiments.caching_cost.decoding_flops",
                   "crossattn.experiments.caching_cost.step_flops"),
        hints={
            "no_factor_two": "a multiply-add is 2 FLOPs: an (a×b)·(b×c) product costs 2·a·b·c.",
            "off_by_one": "off by one: at step t the decoder holds t + 1 tokens (BOS and t generated ones).",
            "three_projections": "count all four projections, W_Q, W_K, W_V and W_O, each a d_model × d_model map.",
            "one_product": "the attention itself is TWO products, QKᵀ (the scores) and AV (the weighted values): "
                           "each costs 2·f·(t + 1)·d at step t; you counted one.",
            "swapped_cases": "you swapped the two cases: with the cache each step feeds only the newest token; "
                             "without it, the whole prefix.",
            "one_key": "with the cache, the new query still attends to all t + 1 cached keys, not just its own.",
            "reprojects_prefix": "with the cache only the new token's K and V are projected; you re-projected the "
                                 "whole prefix's K, V at every step.",
            "queries_one_key": "without the cache, each of the f prefix queries attends to all f keys of the "
                               "prefix, not to one.",
            "last_step": "return the total over all T steps, not the cost of the last step.",
            "float": FLOAT.replace("{what}", "FLOPs"),
        },
        fallbacks={"wrong": "Count, at each step t, the four projections of the f tokens fed (f = 1 with the "
                            "cache, t + 1 without) and the two attention products of their f queries over the "
                            "t + 1 positions so far; 2 FLOPs per multiply-add."},
        plumbing=NOT_NUMBER,
    ),
    Exercise(
        id="5.5", function="share_across_beams", checker="check_share_across_beams",
        title="one cross-attention cache for the beams of a source",
        solved_by=("crossattn.nn.cache.KVCache.expand_beams",),
        hints={
            "returns_k": "You returned k as it is, (1, h, n, d_head): give it a beam axis of size beams, "
                         "(beams, h, n, d_head).",
            "source_axis": "You stacked the beams along the SOURCE axis, so each query would read the source "
                           "several times: the beams go on axis 0.",
            "new_axis": "You added a new axis: k already has a batch axis of size 1 — give that axis size beams "
                        "instead of adding one.",
            "changed_k": "your function changed k; it must leave the cached keys as they are.",
            "wrong_values": "every beam must see exactly the source's keys: out[b] == k[0] for each beam b.",
            "copy": "the values are right, but your result is a copy: it holds {size} bytes of its own, {beams} "
                    "times k's {k_bytes}. You need a view of k with stride 0 along the beam axis, so that every "
                    "beam reads the same memory: look up Tensor.expand (repeat, cat and contiguous all copy).",
        },
        plumbing={"not_tensor": "return a torch tensor, got {type}"},
    ),
)
