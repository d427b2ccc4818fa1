"""Lab 4, cross-attention inside the encoder–decoder — exercises 4.1–4.5 (checkers in crossattn/checks/lab04.py)."""
from ..registry import Exercise

ADDITIVE = ("that is an additive float mask (0 and -inf), the kind nn.Transformer.generate_square_subsequent_mask "
            "returns. Return a BOOLEAN mask, True = may attend.")
NOT_TENSOR = "return a torch tensor (the model's attention takes torch masks), got {type}. For example: "
NOT_BOOL = "the mask must be boolean (True = may attend), got dtype {dtype}. For example: "
CAUSAL_EXAMPLE = "torch.ones(m, m, dtype=torch.bool).tril()."
CROSS_EXAMPLE = "(src != PAD)[:, None, None, :]."
NOT_PAIR = "return a pair (out, weights), got {type}."

EXERCISES = (
    Exercise(
        id="4.1", function="causal_mask", checker="check_causal_mask", title="the decoder's causal mask",
        solved_by=("crossattn.causal_mask",),
        hints={
            "additive": ADDITIVE,
            "not_bool": NOT_BOOL + CAUSAL_EXAMPLE,
            "batched": "Return the plain (m, m) mask; the model broadcasts it over the batch and heads itself.",
            "upper": "that is the upper triangle: query i would read keys j ≥ i, the FUTURE. A decoder token may "
                     "read itself and the past, j ≤ i: use tril.",
            "inverted": "your mask is inverted: True here means 'may attend' (as in scaled_dot_product_attention). "
                        "nn.Transformer's boolean masks use True = blocked — the opposite.",
            "strict": "you blocked the diagonal: token i may read itself (j ≤ i, not j < i). With a strict triangle "
                      "the first query, <bos>, can read nothing at all.",
            "everything": "that mask lets every target token read the whole target — bidirectional, like the "
                          "encoder. The decoder must not read tokens it has not produced yet: keep j ≤ i.",
        },
        fallbacks={"wrong": "mask[i, j] must be True exactly when j <= i."},
        plumbing={"not_tensor": NOT_TENSOR + CAUSAL_EXAMPLE},
    ),
    Exercise(
        id="4.2", function="cross_mask", checker="check_cross_mask",
        title="the cross-attention mask for padded sources",
        allowed=("crossattn.nn.tokens.PAD",),
        hints={
            "additive": ADDITIVE,
            "not_bool": NOT_BOOL + CROSS_EXAMPLE,
            "target_length": "your mask has the target's length m = {m}: you masked the TARGET's padding. "
                             "Cross-attention's keys are the SOURCE tokens, so block the source padding "
                             "(src == PAD). Padded target positions are ignored by the loss instead.",
            "query_axis": "Your mask has the source on the QUERY axis. The keys are the last axis: (B, 1, 1, n), one "
                          "column per source token.",
            "flat": "Your mask is (B, n): add the head and query axes, mask[:, None, None, :], so it broadcasts to "
                    "the scores (B, h, m, n).",
            "three_axes": "A (B, 1, n) mask lines the batch up with the HEADS axis of the scores (B, h, m, n). Add "
                          "one more axis: (B, 1, 1, n).",
            "full": "The values may be right, but return (B, 1, 1, n): one row that every query and head shares by "
                    "broadcasting.",
            "source_second": "Your source axis comes second; the keys must be the LAST axis: (B, 1, 1, n).",
            "inverted": "your mask is inverted: True must mean 'may attend', so real source tokens are True and "
                        "padding False. (nn.MultiheadAttention's key_padding_mask uses the opposite, "
                        "True = padding.)",
            "no_padding": "every source position is True, padding included: block the positions where src == PAD.",
        },
        fallbacks={"wrong": "mask[b, 0, 0, j] must be True exactly when src[b, j] != PAD."},
        plumbing={"not_tensor": NOT_TENSOR + CROSS_EXAMPLE},
    ),
    Exercise(
        id="4.3", function="cross_attention", checker="check_cross_attention", title="wire the cross-attention",
        solved_by=("crossattn.nn.layers.MultiheadAttention.forward",),
        hints={
            "crash_shapes": "Q = x W_Q comes from the decoder: (B, h, m, d_head); K = memory W_K and V = memory W_V "
                            "both come from the encoder: (B, h, n, d_head). The scores Q Kᵀ are then (B, h, m, n) "
                            "and the mask (B, 1, 1, n) lines up with the key axis.",
            "nan_rows": "with a mask that blocks EVERY key of a query (row 0 of a streaming mask (1, 1, m, n)), your "
                        "weights are NaN: the softmax of a row of -inf is 0/0. Such a row must read nothing: "
                        "weights = torch.nan_to_num(weights, nan=0.0) gives zero weights and a zero output.",
            "uniform_rows": "with a mask that blocks EVERY key of a query (row 0 of a streaming mask (1, 1, m, n)), "
                            "your weights give 1/n to every key: the row reads the blocked keys uniformly. That is "
                            "what filling with -1e9 (the fill chapter 2 warns against) does to a row whose keys "
                            "are all blocked: every score is -1e9, so the softmax is uniform. Fill with float('-inf') and then "
                            "torch.nan_to_num(weights, nan=0.0), or keep -1e9 and zero the blocked weights after "
                            "the softmax (weights * mask).",
            "pair_swapped": "you returned (weights, out); return them in the order (out, weights).",
            "swapped": "Your weights are (B, h, n, m): the roles are SWAPPED — the encoder is asking the questions. "
                       "Queries come from the decoder states x, keys and values from memory.",
            "self_attention": "Your weights are (B, h, m, m): that is the decoder's SELF-attention. In "
                              "cross-attention the keys and values come from the encoder output (memory).",
            "encoder_self": "Your weights are (B, h, n, n): that is the encoder reading itself. Queries come from the "
                            "decoder states x; keys and values from memory.",
            "no_heads": "Your weights have no head axis: split the projections into h heads of width d_head = "
                        "d_model / h, shape (B, h, L, d_head).",
            "single_head": "You used one head of width d_model: split into attn.h heads of width d_head.",
            "heads_not_merged": "merge the heads back: (B, h, m, d_head) -> (B, m, h·d_head) = (B, m, d_model), "
                                "then apply attn.w_o.",
            "merge_heads": "merge all h heads back into (B, m, d_model), then apply attn.w_o.",
            "no_scale": "scale the scores by 1/√d_head (d_head = d_model / h, the width of one head's query) "
                        "before the softmax.",
            "scale_d_model": "you scaled by 1/√d_model; each head's queries have width d_head = d_model / h, so "
                             "scale by 1/√d_head.",
            "no_w_o": "you forgot the output projection: merge the heads back to (B, m, d_model), then apply "
                      "attn.w_o.",
            "v_from_w_k": "weights are right but the values are not: V = memory W_V (attn.w_v), not attn.w_k.",
            "bad_split": "viewing (B, L, d_model) directly as (B, h, L, d_head) mixes positions and features. "
                         "Reshape to (B, L, h, d_head) first, then .transpose(1, 2).",
            "softmax_queries": "your weights sum to 1 over the QUERIES (dim=-2); each query's row over the keys "
                               "must sum to 1: softmax(dim=-1).",
            "no_mask": "padded source keys got weight: fill the scores where mask is False with -inf before the "
                       "softmax.",
            "inverted_mask": "your mask is used inverted: True means 'may attend', so fill the scores where the "
                             "mask is FALSE (~mask) with -inf.",
            "batched_transpose": "On a 4-D tensor `.T` reverses ALL axes, (B, h, n, d_head) -> (d_head, n, h, B). "
                                 "Swap only the last two: k.transpose(-2, -1) (or k.mT).",
            "view_after_transpose": "after .transpose(1, 2) the heads are no longer in one block of memory, so "
                                    ".view cannot merge them. Use .reshape(B, m, d_model) (or .contiguous().view).",
            "merge_no_transpose": "weights are right but out is not: you merged (B, h, m, d_head) straight into "
                                  "(B, m, d_model), which mixes heads and positions. Move the heads back first, "
                                  ".transpose(1, 2) -> (B, m, h, d_head), then reshape and apply attn.w_o.",
        },
        fallbacks={
            "wrong_weights": "weights must equal softmax(Q Kᵀ/√d_head) with Q from x and K, V from memory, and out "
                             "the merged heads of weights @ V passed through attn.w_o.",
            "wrong_out": "weights are right but out is not: out = weights @ V, heads merged to (B, m, d_model), then "
                         "attn.w_o.",
        },
        plumbing={"not_pair": NOT_PAIR},
    ),
    Exercise(
        id="4.4", function="honest_loss", checker="check_honest_loss", title="the honest bound",
        hints={
            "per_symbol": "ln V is the bound per random SYMBOL. The training loss also averages in the EOS token, "
                          "which an honest model predicts for free (loss 0) because the length is fixed.",
            "bits": "that is in bits (log base 2); the training loss is in nats: use the natural log, math.log.",
            "bits_per_symbol": "that is bits per symbol; use nats (math.log) and count the EOS token in the mean.",
            "whole_vocabulary": "the honest model spreads its guess over the n_symbols symbols only, never over PAD, "
                                "BOS and EOS: use ln(n_symbols).",
            "probability": "1/V is the probability an honest guess gives the right symbol; the loss is minus its "
                           "log.",
            "zero": "0 is what a LEAKY model reaches. An honest model cannot predict a uniformly random symbol "
                    "better than chance.",
            "eos_upside_down": "the EOS token LOWERS the mean: L symbols cost ln V each and EOS costs 0, averaged "
                               "over L + 1 tokens.",
            "not_scalar": "return one number (nats per token), got an array of shape {shape}.",
        },
        fallbacks={"wrong": "L symbols cost ln(n_symbols) nats each, EOS costs 0: average over the L + 1 tokens."},
    ),
    Exercise(
        id="4.5", function="source_influence", checker="check_source_influence", title="a leakage detector",
        solved_by=("crossattn.experiments.diagnostics.future_influence",),
        hints={
            "changes_src": "your function changed the caller's src in place. Work on a copy, changed = src.clone(), "
                           "so the baseline prediction uses the original source.",
            "after": "you re-drew only positions j > i. The source token AT position i is also unseen when target "
                     "token i is predicted (target i may read j < i only): re-draw j ≥ i, src[:, i:].",
            "past": "you re-drew the PAST, positions j < i — those the model may read. Re-draw the future, j ≥ i: "
                    "src[:, i:] = fresh[:, i:].",
            "target": "you changed the target inputs tgt_in. The leak to detect is through the SOURCE: re-draw "
                      "src[:, i:], keep tgt_in as it is.",
            "logits": "you compared raw logits. Adding the same number to every logit changes no prediction: "
                      "compare log-probabilities, torch.log_softmax(logits, dim=-1).",
            "softmax": "you compared probabilities; compare log-probabilities (torch.log_softmax), which also show a "
                       "change of a tiny probability.",
            "all_positions": "you measured the change at every target position. Later positions k > i may "
                             "legitimately read source token i: measure position i only, [:, i].",
            "mean": "you averaged the change; a leak in one entry is a leak. Return the LARGEST absolute change, "
                    ".abs().max().",
            "signed": "take the absolute value of the change before the max: a log-probability that falls is as "
                      "much a leak as one that rises.",
            "never_changes": "your detector never sees a change. Predict twice — once with src, once with a copy "
                             "whose positions j ≥ i hold fresh[:, j] — and compare (if you changed src in place "
                             "before the first prediction, both calls see the same source).",
            "not_scalar": "return one number (the largest change), got an array of shape {shape}.",
        },
        fallbacks={"wrong": "re-draw src[:, i:] from fresh, predict again, and return the largest |Δ log_softmax| "
                            "at target position i."},
    ),
)
