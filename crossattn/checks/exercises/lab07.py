"""Lab 7, weight tying — exercises 7.1–7.5 (checkers in crossattn/checks/lab07.py)."""
from ..registry import Exercise

NOT_WHOLE = (" You returned {odd:g}, not even a whole number: a count of parameters is an integer, so look for a "
             "division.")
FLOAT = ("the values are right, but return {what} as an integer (int), not {type}. Keep the arithmetic in integers: "
         "d_model * d_model or d_model ** 2, and // rather than / (math.pow and / always give floats).")
COUNT_TYPES = {
    "bool": "return {what} as an integer, got the bool {value!r}.",
    "not_scalar": "return one number ({what}), got an array of shape {shape}.",
}
COUNT_WRONG = ("for vocab_size={V}, d_model={d}, d_ff={d_ff}, {Le} encoder and {Ld} decoder layers the model holds "
               "{want} parameters (count them with sum(p.numel() for p in model.parameters())), you returned "
               "{got:g}. List the parts: embedding, output projection, per encoder layer (1 attention, "
               "feed-forward, 2 LayerNorms), per decoder layer (2 attentions, feed-forward, 3 LayerNorms), 2 final "
               "LayerNorms.")
SAVING_WRONG = ("with d_model={d}, {Le} encoder and {Ld} decoder layers tying saves {want} = 4·d_model² × {both} "
                "(depths with both layers) + 2·d_model² × {dec_only} (decoder-only depths) + 0 × {enc_only} "
                "(encoder-only depths).")
MEAN_STD = ("is not the range. The band runs from the LOWEST seed to the HIGHEST at each point (min and max over "
            "axis 0): every seed lies inside it.")
RANKS = ("use the values themselves, not their ranks: the question is about the difference of the MEANS of the "
         "numbers, and ranks hide how far an outlier lies (for these samples p = {want:.3f} on the numbers, "
         "{on_ranks:.3f} on their ranks).")

EXERCISES = (
    Exercise(
        id="7.1", function="count_parameters", checker="check_count_parameters", title="count the parameters",
        solved_by=("crossattn.experiments.parameters.predicted_parameters",
                   "crossattn.experiments.parameters.parameter_breakdown",
                   "crossattn.experiments.parameters.count_parameters"),
        hints={
            **COUNT_TYPES,
            "attn_bias": "the package's W_Q, W_K, W_V and W_O have no bias (nn.Linear(..., bias=False)): an "
                         "attention holds exactly 4·d_model² numbers.",
            "no_cross": "each decoder layer has TWO attentions: causal self-attention and cross-attention, "
                        "4·d_model² each.",
            "no_norms": "you left out the LayerNorms: each has a gain and a bias, 2·d_model numbers — two in each "
                        "encoder layer, three in each decoder layer, and one after each stack.",
            "no_final_norms": "almost: you forgot the two final LayerNorms, one after the encoder stack and one "
                              "after the decoder stack (2·d_model each).",
            "gain_only": "a LayerNorm has a gain AND a bias: 2·d_model numbers, not d_model.",
            "two_decoder_norms": "a decoder layer has three sub-layers (self-attention, cross-attention, "
                                 "feed-forward), each with its own LayerNorm: three per decoder layer.",
            "ff_no_bias": "the feed-forward layers have biases: d_model→d_ff→d_model holds 2·d_model·d_ff + d_ff + "
                          "d_model numbers.",
            "two_embeddings": "source and target share ONE vocabulary, so one N_voc×d_model embedding serves both "
                              "the encoder and the decoder.",
            "no_output": "you forgot the output projection: d_model → N_voc scores, an N_voc×d_model matrix "
                         "without bias (untied here).",
            "position_table": "positions add no parameters: the sinusoidal table of chapter 6 (max_len×d_model) is "
                              "computed, and the model keeps it as a buffer, not a parameter (model.buffers() lists "
                              "it, model.parameters() does not).",
            "swapped_depths": "you swapped the depths: n_encoder_layers encoder layers (one attention each) and "
                              "n_decoder_layers decoder layers (two attentions each).",
            "float": FLOAT,
        },
        fallbacks={"wrong": COUNT_WRONG, "wrong_not_whole": COUNT_WRONG + NOT_WHOLE},
    ),
    Exercise(
        id="7.2", function="kv_saving", checker="check_kv_saving", title="what tying $W_K$ and $W_V$ saves",
        allowed=("crossattn.experiments.parameters.count_parameters", "crossattn.nn.model.EncoderDecoder",
                 "crossattn.nn.model.ModelConfig"),
        solved_by=("crossattn.experiments.parameters.kv_tying_saving",),
        hints={
            **COUNT_TYPES,
            "decoder_only_full": "a depth with a decoder layer but no encoder layer has only two attentions "
                                 "(decoder self and cross): sharing keeps one W_K and one W_V of two, saving "
                                 "2·d_model², not 4·d_model².",
            "encoder_only_full": "a depth with an encoder layer but no decoder layer has a single attention: there "
                                 "is nothing to share there, it saves 0.",
            "per_depth": "count depth by depth: 4·d_model² where both stacks have a layer, 2·d_model² where only the "
                         "decoder does, 0 where only the encoder does.",
            "only_full": "you left out the depths where only the decoder has a layer: its self- and cross-attention "
                         "still share one W_K and one W_V, saving 2·d_model² each.",
            "encoder_depths_counted": "at a depth where only the ENCODER has a layer there is one attention and "
                                      "nothing to share (0); it is where only the DECODER has a layer that two "
                                      "attentions share (2·d_model²).",
            "all_three": "after tying one W_K and one W_V remain at each depth: three attentions keep 2 of 6 "
                         "matrices and save 4·d_model², not 6·d_model².",
            "off_by_one": "you skipped a depth: count every depth 1 … max(L_enc, L_dec), the last included — depth "
                          "l has an encoder layer when l <= L_enc and a decoder layer when l <= L_dec (<=, not <).",
            "keys_only": "both W_K AND W_V are shared: count both matrices that each removed copy held (2·d_model² "
                         "per copy).",
            "linear_in_d": "each of W_K and W_V is d_model × d_model: the saving grows with d_model², not d_model.",
            "float": FLOAT,
        },
        fallbacks={"wrong": SAVING_WRONG, "wrong_not_whole": SAVING_WRONG + NOT_WHOLE},
    ),
    Exercise(
        id="7.3", function="share_kv", checker="check_share_kv", title="a share, not a copy",
        hints={
            "encoder_changed": "the encoder's {label} changed. Keep enc_self's projections as they are (they may be "
                               "trained already) and make the decoder's two attentions use THEM: "
                               "dec_self.w_{w} = enc_self.w_{w}, not the other way round.",
            "mixed_up": "{who} got W_K and W_V mixed up: its w_k must be enc_self.w_k and its w_v enc_self.w_v.",
            "alias": "{who}.w_{w} reads the same memory as enc_self.w_{w} but is a different Parameter (.data = …, "
                     "or nn.Parameter(other.weight), makes an alias, not a share): model.parameters() lists it "
                     "twice, its gradient lands in its own .grad, and the optimiser keeps two states and updates "
                     "one tensor twice. Share the module itself: {who}.w_{w} = enc_self.w_{w}.",
            "copy_new_module": "{who}.w_{w} holds a COPY of enc_self.w_{w}: equal values today, but copy.deepcopy "
                               "(or any new module) makes a new tensor, so the two are trained apart and drift "
                               "after the first step, and nothing is saved. A share is one object: "
                               "{who}.w_{w} = enc_self.w_{w}.",
            "copy_values": "{who}.w_{w} holds a COPY of enc_self.w_{w}: equal values today, but load_state_dict, "
                           "copy_ and .data = w.clone() write the values into its own tensor, so the two are trained "
                           "apart and drift after the first step, and nothing is saved. A share is one object: "
                           "{who}.w_{w} = enc_self.w_{w}.",
            "keys_only": "you shared W_K but not W_V: the values are tied too, dec_self.w_v = cross.w_v = "
                         "enc_self.w_v.",
            "values_only": "you shared W_V but not W_K: the keys are tied too, dec_self.w_k = cross.w_k = "
                           "enc_self.w_k.",
            "no_cross": "the cross-attention still has its own W_K and W_V: it is one of the three attentions that "
                        "share them.",
            "no_decoder_self": "the decoder's self-attention still has its own W_K and W_V: it is one of the three "
                               "attentions that share them.",
            "queries_too": "you shared {label} too. Only W_K and W_V are tied; each attention keeps its own W_Q "
                           "(what it asks) and W_O (how it writes its answer back).",
            "extra_parameters": "the three attentions should hold 8·d_model² = {want} parameters once tied, they "
                                "hold {held}.",
        },
        fallbacks={"not_all_three": "all THREE attentions must use enc_self's W_K and W_V (the same objects): set "
                                    "w_k and w_v of both dec_self and cross; these are not shared yet: {unshared}."},
    ),
    Exercise(
        id="7.4", function="seed_band", checker="check_seed_band", title="a band over seeds",
        solved_by=("crossattn.experiments.stats.curve_band",),
        hints={
            "not_three": "return three arrays, (mean, low, high); got {type}{count}",
            "per_seed": "your {which} has one number per SEED, shape ({seeds},): summarise over the seeds (axis 0), "
                        "one number per point of the curve, shape ({points},).",
            "wrong_shape": "each of mean, low, high must have shape ({points},), one number per point; your {which} "
                           "has shape {shape}.",
            "torch_values": "your {which} is what torch's .min(dim=0) / .max(dim=0) return, a pair (values, "
                            "indices): take its .values (NumPy's curves.min(axis=0) gives the values alone).",
            "median": "that is the median; the band's centre line is the mean over seeds (np.mean(curves, axis=0)).",
            "swapped": "low and high are swapped: low is the smallest seed's value (min), high the largest.",
            "mean_std": "mean ± standard deviation " + MEAN_STD,
            "mean_sample_std": "mean ± standard deviation (ddof=1) is not the range: use the min and max over the "
                               "seeds, so every seed lies inside the band.",
            "standard_error": "mean ± standard error says how well the mean is known, not how far seeds spread: use "
                              "the min and max over the seeds.",
            "global_extremes": "take the min and max at EACH point (axis 0), not one number over the whole array.",
        },
        fallbacks={
            "wrong_mean": "the first array must be the mean over seeds, curves.mean(axis=0).",
            "wrong_band": "{which} must be the {extreme} seed's value at each point: curves.{reduce}(axis=0).",
        },
    ),
    Exercise(
        id="7.5", function="permutation_p", checker="check_permutation_p",
        title="does a difference exceed the spread?",
        solved_by=("crossattn.experiments.stats.permutation_p_value",),
        hints={
            "not_scalar": "return one number ({what}), got an array of shape {shape}.",
            "not_deterministic": "your answer changed between two calls ({got:.4f}, then {again:.4f}): random "
                                 "shuffles give an estimate (and even seeded, a sample of shuffles only estimates "
                                 "p). Enumerate every split exactly with itertools.combinations(range(len(a) + "
                                 "len(b)), len(a)).",
            "one_sided": "that is one-sided (it only counts differences in one direction). The question is whether "
                         "the means differ at all: compare |difference|.",
            "strict": "count the splits whose |difference| is AT LEAST the observed one (>=): the observed split "
                      "itself is one of them, so p is never 0.",
            "sums": "compare the difference of MEANS; with groups of different sizes a difference of sums ranks "
                    "the splits differently.",
            "count": "you returned a count: divide by the number of splits, C({pooled}, {size_a}) = {splits}, to "
                     "get a fraction.",
            "ranks": RANKS,
            "by_value": "you built the second group by VALUE (np.setdiff1d, or `not in`): when a number occurs more "
                        "than once in the pooled data, every copy of a number the first group holds leaves the "
                        "second (and np.setdiff1d also keeps one copy of each number), so the second group comes "
                        "out too small. Pick it by POSITION: the indices the combination left out (a boolean mask, "
                        "pooled[~mask]).",
            "tuple_index": "itertools.combinations gives each group as a TUPLE of positions, and NumPy reads "
                           "pooled[(0, 2, 5)] as one index per AXIS. Index with a list, pooled[list(group)], or "
                           "build a boolean mask from it for the other group.",
        },
        fallbacks={
            "sampled": "a sample of shuffles, even seeded, only estimates p; enumerate the splits: all {splits} of "
                       "them, with itertools.combinations(range(len(a) + len(b)), len(a)). (You returned {got:.4f}, "
                       "not a whole number of splits out of {splits}.)",
            "wrong": "for these samples the exact p-value is {want:.4f}: the fraction of all {splits} ways of "
                     "splitting the pooled numbers into groups of len(a) and len(b) whose |difference of means| is "
                     "at least the observed one.",
        },
    ),
)
