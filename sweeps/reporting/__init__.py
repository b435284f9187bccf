"""Reading a sweep's answer: comparison tables and significance from the recorded runs, the
comparison plots, the nightly verdicts, and tables for the console. Nothing here imports
TensorFlow."""
