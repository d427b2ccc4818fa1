"""The NumPy core of the course: it imports NumPy and nothing else.

numerics (softmax, entropy), dot_product (attention, the reference of the whole course), masks,
heads, cost (chapter 2); librarian (chapter 1); spotlight and kernel_regression (chapter 3);
latent, images and retrieval (the NumPy side of chapter 8). The names a lab uses most are
re-exported by :mod:`crossattn` itself.
"""
