"""Running a sweep: the trial loop (ask the engine, train, record, tell), one tracked trial, the
progress display, ``--jobs`` worker processes, and keeping MLflow consistent after crashes."""
