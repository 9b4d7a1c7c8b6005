"""``ssft predict`` on a corrupt image names the file to remove, not a training-only key."""

from __future__ import annotations

from PIL import Image

from ssft.cli import main


def test_corrupt_image_message_fits_predict(tmp_path, capsys):
    run = tmp_path / "run"
    fast = ["--set", "train.steps=2", "--set", "data.labels_per_class=2", "--set", "train.progress=false"]
    assert main(["fit", "--config", "demo", *fast, "--out", str(run)]) == 0
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    Image.new("L", (8, 8)).save(imgs / "good.png")
    (imgs / "bad.png").write_bytes(b"not a png at all")
    code = main(["predict", "--run", str(run), "--input", str(imgs), "--out", str(tmp_path / "p.csv")])
    err = capsys.readouterr().err
    assert code == 2 and "bad.png" in err and "remove it from the inputs" in err
    assert "skip_bad" not in err
