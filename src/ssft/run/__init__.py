"""One run of ``ssft fit``, composed of parts.

- :mod:`ssft.run.runner`: ``fit``, top to bottom: data and split, parts, phases, results;
- :mod:`ssft.run.directory`: the run directory, fresh or resumed;
- :mod:`ssft.run.sources`: the feature sources (the cache, or live encoding);
- :mod:`ssft.run.phases`: the model, and ``train_method`` (a trainer phase or a closed-form fit),
  shared with the scikit-learn estimator;
- :mod:`ssft.run.head_first`: the head-first phase of a trainable run;
- :mod:`ssft.run.results`: test accuracy, ``results.json``, ``model.safetensors``;
- :mod:`ssft.run.loaded`: a finished run loaded back (``load_run``) to predict;
- :mod:`ssft.run.extract`: ``ssft extract``, the cache filled without training.

The gradient loop itself is :class:`ssft.train.trainer.Trainer`.
"""
