"""The built-in pipelines: the classic Keras tutorials' tasks, one module each (data plus model,
nothing about tracking). They are written with the public pipeline API, ``sweeps.pipeline``,
only, so each is an example of a pipeline of your own. Modules starting with ``_`` are their
shared helpers, not pipelines."""
