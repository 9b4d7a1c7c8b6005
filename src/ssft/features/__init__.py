"""The feature cache: a frozen backbone's features, extracted once, memory-mapped from disk."""

from ssft.features.cache import (
    FORMAT_VERSION,
    FeatureStore,
    as_cached,
    cache_key,
    default_cache_dir,
    list_caches,
    remove_cache,
)

__all__ = [
    "FORMAT_VERSION",
    "FeatureStore",
    "as_cached",
    "cache_key",
    "default_cache_dir",
    "list_caches",
    "remove_cache",
]
