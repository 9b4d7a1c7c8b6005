"""``ssft tune``: a hyper-parameter search on development data carved from the training pool.

* :mod:`ssft.tune.dev_split`: dev-train / dev-eval from the pool, the test part left out;
* :mod:`ssft.tune.spaces`: the search space of each method (one registry);
* :mod:`ssft.tune.trial`: one configuration trained and scored on the dev split, per seed;
* :mod:`ssft.tune.runner`: the Optuna study (TPE, stored in the search folder, resumable).

Optuna is an optional dependency (``pip install 'ssft[tune]'``), imported only when a search runs.
"""

from ssft.tune.dev_split import DevSplit, make_dev_split
from ssft.tune.runner import TuneResult, tune
from ssft.tune.spaces import SPACES, space_for

__all__ = ["SPACES", "DevSplit", "TuneResult", "make_dev_split", "space_for", "tune"]
