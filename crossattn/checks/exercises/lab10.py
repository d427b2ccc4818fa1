"""Lab 10, cross-attention or concatenation — exercises 10.1–10.4 (checkers in crossattn/checks/lab10.py)."""
from ..registry import Exercise

FLOAT = ("the right value, but as a float ({value!r}): a count of {what} is an exact integer, so return an int. Use "
         "integer arithmetic: `//` instead of `/`, no float literals like 2.0.")
COUNT_PLUMBING = {"not_number": "{what} should be a number, got {type}"}
MASK = "your mask is what "

EXERCISES = (
    Exercise(
        id="10.1", function="prefix_lm_mask", checker="check_prefix_lm_mask", title="the prefix-LM mask",
        solved_by=("crossattn.prefix_lm_mask", "crossattn.core.masks.prefix_lm_mask",
                   "crossattn.nn.decoder_only.prefix_mask"),
        allowed=("crossattn.causal_mask",),
        hints={
            "target_rows_only": "you returned the m target rows only: the mask covers the whole sequence [source; "
                                "target], one row per query of the n + m positions, (n + m, n + m).",
            "not_bool": "return a boolean array (True = may attend), got dtype {dtype}.",
            "causal": MASK + "a plain causal mask gives: a source position must also read the source positions "
                             "AFTER it. The source is read both ways, as an encoder reads it.",
            "full": MASK + "all True gives: then a target position reads the target tokens after it, the very "
                           "tokens it must predict. The target part stays causal.",
            "source_reads_target": "your source rows read the target. The source positions come first and never "
                                   "attend to the target (an encoder never sees the output), so rows 0..n−1 are "
                                   "True in columns 0..n−1 only.",
            "blocks": "your target rows do not read the source: block-diagonal is an encoder and a language model "
                      "side by side, with nothing between them. Every target position reads every source position.",
            "strict": "your target positions do not read themselves: target query i may attend to target keys "
                      "j ≤ i (the diagonal included), as in a causal mask.",
            "target_first": "you put the target first. The sequence is [source; target]: rows and columns "
                            "0..n−1 are the source, n..n+m−1 the target.",
            "transposed": "your mask is transposed: row i is QUERY i, column j key j, mask[i, j] = True when query "
                          "i may attend to key j.",
            "inverted": "your mask is inverted: here True means 'may attend' (as in scaled_dot_product_attention); "
                        "torch.nn.MultiheadAttention's True = 'blocked' is the opposite.",
            "no_source": "with n = {n} your mask is wrong though it works when n ≥ 1: with no source, the mask is "
                         "the causal mask of the m target positions.",
        },
        fallbacks={"wrong": "mask[i, j] is True when key j is a source position (j < n), or when j ≤ i; False "
                            "otherwise. Check the case n={n}, m={m}."},
    ),
    Exercise(
        id="10.2", function="gated_cross_attention", checker="check_gated_cross_attention",
        title="a tanh-gated cross-attention block",
        allowed=("crossattn.attention", "crossattn.softmax"),
        hints={
            "no_residual": "with alpha = 0 your block returns zeros: keep the residual, x + tanh(alpha)·(...). The "
                           "block must hand x through unchanged while the gate is closed.",
            "sigmoid": "with alpha = 0 your block changes x: a sigmoid gate is 0.5 at 0. Use tanh(alpha), which is "
                       "0 at 0 (closed) and at most 1 in size.",
            "gate_on_x": "the gate scales the NEW reading, not x: x + tanh(alpha) · attention(...) W_o.",
            "no_tanh": "right at alpha = 0, wrong at alpha = {alpha}: the gate is tanh(alpha), not alpha itself (tanh "
                       "keeps it between −1 and 1).",
            "self_attention": "your queries read x itself: keys and values come from the source s (s @ W_k, "
                              "s @ W_v), queries from x.",
            "no_out_proj": "multiply the attention output by W_o before the gate.",
            "unscaled": "scale the scores by 1/√d before the softmax (crossattn.attention does it for you).",
            "source_queries": "your result has one row per SOURCE position: the queries come from x (m rows), the "
                              "keys and values from s.",
        },
        fallbacks={"wrong": "out = x + tanh(alpha) · attention(x W_q, s W_k, s W_v) W_o, scaled by 1/√d with d the "
                            "width of W_q's output (check alpha={alpha})."},
    ),
    Exercise(
        id="10.3", function="step_flops", checker="check_step_flops", title="what one generated token costs",
        solved_by=("crossattn.experiments.wirings.step_flops",),
        hints={
            "prefix_no_source": "the prefix LM's new token reads the n cached SOURCE positions too, in every layer: "
                                "n + t + 1 keys, not t + 1.",
            "cross_no_source": "the cross-attention wiring's token also reads the n source positions through "
                               "cross-attention: 4·n·d per layer.",
            "cross_reprojects": "with the cross-attention cache the source's K, V are projected once, at step 0; "
                                "step t ≥ 1 does not pay 4·n·d² again.",
            "cross_no_wq_wo": "cross-attention has its own W_Q and W_O: 4·d² more per layer than the prefix LM.",
            "no_mlp": "add the feed-forward layer: 4·d·d_ff per layer and token.",
            "keys_off_by_one": "at step t the new token reads t + 1 target positions (BOS and the t tokens before "
                               "it, itself included), not t.",
            "per_layer": "every one of the L layers does this work: multiply by L.",
            "multiply_adds": "you counted multiply-adds: a FLOP count here is 2 per multiply-add (a (a×b)·(b×c) "
                             "product costs 2·a·b·c).",
            "swapped": "you swapped the two wirings: 'prefix LM' reads the source by self-attention, "
                       "'cross-attention' through a separate cross-attention.",
            "float": FLOAT.replace("{what}", "FLOPs"),
        },
        fallbacks={"wrong": "for {args} expected {want}. Per layer: self-attention 8·d² (W_Q, W_K, W_V, W_O) + 4·d "
                            "per key read, the MLP 4·d·d_ff, and for 'cross-attention' 4·d² (W_Q, W_O) + 4·n·d. The "
                            "cross-attention's W_K and W_V act on the source, once, at step 0: the new token pays "
                            "neither at step t."},
        plumbing={**COUNT_PLUMBING, "bad_wiring": "`{name}` must refuse a wiring it does not know with a ValueError "
                                                  "(raise ValueError(...) for {wiring!r}), got {got}."},
    ),
    Exercise(
        id="10.4", function="source_cache_bytes", checker="check_source_cache_bytes",
        title="cache bytes per source token with MQA and GQA",
        solved_by=("crossattn.experiments.wirings.source_bytes_per_token",),
        hints={
            "keys_only": "each layer caches a key AND a value per source token: the factor 2.",
            "all_heads": "with grouped-query attention only n_kv_heads key/value heads are cached, not all h query "
                         "heads.",
            "group_size": "h / n_kv_heads is how many query heads SHARE one key/value head; the cache holds "
                          "n_kv_heads heads.",
            "no_layers": "every layer that reads the source keeps its own K, V: multiply by layers.",
            "bits": "dtype_bytes is already in bytes (2 for bfloat16): do not multiply by 8.",
            "no_dtype": "you counted values: multiply by dtype_bytes to get bytes.",
            "float": FLOAT.replace("{what}", "bytes"),
        },
        fallbacks={"wrong": "for {args} expected {want}: 2 · layers · n_kv_heads · d_head · dtype_bytes."},
        plumbing=COUNT_PLUMBING,
    ),
)
