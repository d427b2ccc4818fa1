"""The PyTorch model of chapters 4–10: tokens, data, positions, caches, layers, model, training,
decoding and beam search. It imports the NumPy core and torch; later chapters switch on options
of these modules (ModelConfig's switches, a layer's cache) instead of copying them.
"""
