"""One module per chapter idea, each naming its chapter: what the labs and pages measure.

diagnostics, leakage and bottleneck (chapter 4), caching_cost (chapter 5), order (chapter 6), parameters and
tying (chapter 7), patch_reader and passage_reader (chapter 8), text_to_image (chapter 9), wirings and
contrastive (chapter 10); seeds (one seed-grid runner) and
stats (summaries and tests over seeds) are shared. They import the core, the model and torch,
never matplotlib: figures are drawn by :mod:`crossattn.viz`.
"""
