"""One module per group of commands; ``sweeps.cli`` parses and dispatches to them."""
