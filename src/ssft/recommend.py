"""Which method to use: the recommendation shown by ``ssft methods``, ``ssft --help`` and the README.

It states what BENCHMARKS.md measured ("Win honestly": every method at its shipped defaults against
tuned baselines, 3 seeds, AG News / MNIST / CIFAR-10 at 1, 4 and 10 labels per class).
``tests/test_recommend.py`` reads that table and fails when the recommendation stops being true.
"""

from __future__ import annotations

#: The method ``method.name`` defaults to, and the one recommended.
RECOMMENDED = "fixmatch"
#: Quick baselines every user should run beside it (seconds each on cached features).
BASELINES = ("label_spreading", "linear_probe")

RECOMMENDATION = (
    f"Recommended: {RECOMMENDED} (the default). At its shipped defaults it was the best or within "
    "a point of the best ssft method at 1, 4 and 10 labels per class on AG News, MNIST and CIFAR-10, "
    'ahead of tuned label spreading and a tuned linear probe (BENCHMARKS.md, "Win honestly"). '
    f"Run {' and '.join(BASELINES)} beside it: seconds each, and on small or very clean data they "
    "can win (the demo's 8x8 digits)."
)


def short_help(doc: str) -> str:
    """A method's one-liner: the first paragraph of its docstring, joined onto one line."""
    return " ".join((doc or "").strip().split("\n\n")[0].split())
