"""sweeps: declarative, tracked hyperparameter sweeps for the classic Keras tutorials.

A sweep is a YAML file in ``search_spaces/`` (what to try), a pipeline in ``pipelines/`` (how
to train), an engine (how to search) and MLflow (what happened). See README.md.
"""

__version__ = "0.1.0"
