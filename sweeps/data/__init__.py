"""Where a pipeline's data comes from: the ``Dataset`` it returns, the source chain (data dir,
Keras's loader, a labelled generated sample), the cache of encodings, and safe file readers."""
