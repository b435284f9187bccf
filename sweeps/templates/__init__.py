"""Starting points that ``sweeps init NAME`` copies into a project, with ``__NAME__`` replaced."""
