"""The feature cache's public names, gathered from the modules that implement them.

* :mod:`ssft.features.layout`: the on-disk format (key, files, sizes, token reduction);
* :mod:`ssft.features.store`: :class:`FeatureStore` (opening, reading), listing and removal;
* :mod:`ssft.features.extract`: the extraction loop that fills an entry;
* :mod:`ssft.features.compile`: the best-effort ``torch.compile`` used by extraction.
"""

from ssft.features.layout import FORMAT_VERSION, as_cached, cache_key, default_cache_dir
from ssft.features.store import FeatureStore, list_caches, remove_cache

__all__ = [
    "FORMAT_VERSION",
    "FeatureStore",
    "as_cached",
    "cache_key",
    "default_cache_dir",
    "list_caches",
    "remove_cache",
]
