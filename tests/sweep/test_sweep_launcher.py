"""The ``launcher.*`` keys of ``ssft sweep``: where they come from, and the sbatch lines they become."""

from __future__ import annotations

import pytest
import yaml

from ssft.errors import ConfigError
from ssft.sweep.launcher import launcher_config, slurm_parameters


def write(path, data):
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_launcher_keys_come_from_the_preset_the_flags_and_overrides(tmp_path):
    preset = write(
        tmp_path / "g.yaml",
        {"base": "demo", "launcher": {"name": "submitit", "partition": "gpu", "gpus_per_job": 1}},
    )
    cfg = launcher_config(preset, ["launcher.time_min=90", "launcher.slurm_extra=constraint=a100"])
    assert (cfg.name, cfg.cluster, cfg.partition, cfg.gpus_per_job, cfg.time_min) == (
        "submitit",
        "slurm",
        "gpu",
        1,
        90,
    )
    assert launcher_config(preset, [], "submitit-local").cluster == "local"
    assert launcher_config(None, [], "local").name == "local"


def test_slurm_keys_reach_the_sbatch_script(tmp_path):
    pytest.importorskip("submitit")
    from submitit.slurm.slurm import _make_sbatch_string

    cfg = launcher_config(
        None,
        [
            "launcher.partition=gpu",
            "launcher.time_min=90",
            "launcher.gpus_per_job=2",
            "launcher.cpus_per_job=8",
            "launcher.mem_gb=32",
            "launcher.account=proj1",
            "launcher.slurm_extra=constraint=a100,exclude=node7",
            "launcher.setup=module load cuda; source .venv/bin/activate",
        ],
        "submitit",
    )
    script = _make_sbatch_string(command="python -m x", folder=tmp_path, **slurm_parameters(cfg))
    for line in (
        "#SBATCH --partition=gpu",
        "#SBATCH --time=90",
        "#SBATCH --gpus-per-node=2",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --mem=32768MB",
        "#SBATCH --account=proj1",
        "#SBATCH --constraint=a100",
        "#SBATCH --exclude=node7",
    ):
        assert line in script, line
    assert "module load cuda\nsource .venv/bin/activate" in script


def test_bad_launcher_keys_get_one_clear_message():
    with pytest.raises(ConfigError, match="unknown key launcher.partiton.*valid keys: .*partition"):
        launcher_config(None, ["launcher.partiton=gpu"], "submitit")
    with pytest.raises(ConfigError, match="slurm_extra entry 'a100' must look like key=value"):
        launcher_config(None, ["launcher.slurm_extra=a100"], "submitit")
