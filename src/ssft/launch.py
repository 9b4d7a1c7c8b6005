"""``python -m ssft.launch``: ``torchrun`` for ssft, with a clean stop.

    python -m ssft.launch --nproc-per-node 2 fit --config demo --out runs/ddp
    python -m ssft.launch --nproc-per-node 2 fit --resume runs/ddp

Everything before the ssft command (``fit`` or ``extract``) is passed to PyTorch's ``torchrun``
unchanged (``--nproc-per-node``, ``--nnodes``, ``--standalone``, ...); the command and its options
run as ``-m ssft ...`` on every process. The difference from calling ``torchrun -m ssft`` directly
is what a user sees when the job ends early: on SIGTERM or Ctrl-C torchrun's agent raises inside
itself and prints a long traceback with exit status 1, although the ranks stopped as asked after
writing their checkpoint. Here that ends with one line (the signal, and the command that resumes)
and the conventional status 128 + signal number; a failed rank ends with its own message (already
printed by ssft on that rank) and status 1, without torchrun's traceback.
"""

from __future__ import annotations

import os
import sys

#: The ssft commands that run under several processes.
COMMANDS = ("fit", "extract")

#: What ``resume_command`` names as the launcher (set for the ranks it starts).
LAUNCHER_ENV = "SSFT_LAUNCHER"


def split_argv(argv: list[str]) -> tuple[list[str], list[str]]:
    """(torchrun's options, the ssft command with its options)."""
    for i, arg in enumerate(argv):
        if arg in COMMANDS:
            return argv[:i], argv[i:]
    raise SystemExit(
        "usage: python -m ssft.launch [torchrun options, e.g. --nproc-per-node 2] "
        f"{{{','.join(COMMANDS)}}} [ssft options]; no ssft command ({', '.join(COMMANDS)}) was given"
    )


def main(argv: list[str] | None = None) -> int:
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    launcher, command = split_argv(list(sys.argv[1:] if argv is None else argv))
    os.environ[LAUNCHER_ENV] = "python -m ssft.launch " + " ".join(launcher)
    try:
        run(parse_args([*launcher, "-m", "ssft", *command]))
    except SignalException as e:
        print(
            f"ssft.launch: stopped by {e.sigval.name}; the ranks wrote their checkpoint (see above)",
            file=sys.stderr,
        )
        return 128 + int(e.sigval)
    except ChildFailedError as e:
        ranks = sorted(e.failures)
        print(f"ssft.launch: rank(s) {ranks} failed; their message is above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
