"""What a sweep leaves in MLflow, and reading it back: the ``Tracker`` (the only code that talks
to MLflow), where the stores are, the Keras callback that logs epochs, and ``query``, the
notebook API over the recorded runs."""
