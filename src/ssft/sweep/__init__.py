"""Sweeps: many single runs over a grid of overrides × seeds, each in its own run directory.

``grid`` plans the runs and trains them one after the other in this process; ``cluster`` sends
them to a scheduler as jobs through submitit, configured by ``launcher``; ``state`` records the
sweep folder (plan, jobs, each run's state) so ``ssft sweep --status`` reads it from any process;
``progress`` prints the in-process sweep's progress line. One run's training loop is not here: a
sweep only calls the single-run ``fit``.
"""
