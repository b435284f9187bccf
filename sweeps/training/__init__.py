"""How one fit or several fits run: the request, the Keras loop, K folds and replicates, the
data feed, the per-process dataset cache. Never imports mlflow or optuna: whatever records a
fit is a Keras callback handed in by the runner."""
