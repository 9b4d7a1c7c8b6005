"""``python -m ssft`` is the ``ssft`` command (so ``torchrun -m ssft ...`` works too)."""

import sys

from ssft.cli import main

if __name__ == "__main__":
    sys.exit(main())
