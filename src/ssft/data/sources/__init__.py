"""Dataset sources, one module per source format; each registers its loaders in
:data:`ssft.data.base.DATASETS` when imported (:mod:`ssft.data` imports them all).

Each loader takes a :class:`~ssft.config.DataConfig` and returns a :class:`~ssft.data.base.Dataset`.
Nothing is fetched from the network unless ``data.download=true``; a missing file is a
:class:`~ssft.errors.DataError` that names it and says where to put it.
"""
