"""``ssft tune``: a hyper-parameter search on development data carved from the training pool.

* :mod:`ssft.tune.dev_split`: dev-train / dev-eval from the pool, the test part left out;
* :mod:`ssft.tune.spaces`: the search space of each method (one registry);
* :mod:`ssft.tune.trial`: one configuration trained and scored on the dev split, per seed;
* :mod:`ssft.tune.trial_suggest`: a space's questions answered by one Optuna trial;
* :mod:`ssft.tune.study`: the Optuna study (TPE, stored in the search folder, resumable);
* :mod:`ssft.tune.folder`: the search folder's guards (one search per folder, same settings);
* :mod:`ssft.tune.outputs`: the tables, best.yaml and log a search writes;
* :mod:`ssft.tune.runner`: the search itself, trial after trial until the budget is spent.

Optuna is an optional dependency (``pip install 'ssft[tune]'``), imported only when a search runs.
"""

from ssft.tune.dev_split import DevSplit, make_dev_split
from ssft.tune.runner import TuneResult, tune
from ssft.tune.spaces import SPACES, space_for

__all__ = ["SPACES", "DevSplit", "TuneResult", "make_dev_split", "space_for", "tune"]
