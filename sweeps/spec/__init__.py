"""Sweep files: a search space read, checked against its pipeline, and frozen as a ``SweepSpec``;
the nightly schedule; where named sweeps are found. Nothing here imports TensorFlow, MLflow or
Optuna."""
