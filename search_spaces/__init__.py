"""The built-in sweeps, one YAML file each (installed as package data of ``sweeps.search_spaces``)."""
