"""`pairscore train` / `export`: clear errors for bad configs and missing data, and resuming from a checkpoint."""

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

from training import cli, export  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[2] / "training" / "configs"


def test_a_missing_data_file_is_named(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pairscore.cli",
            "train",
            "--config",
            str(CONFIGS / "entailment.yaml"),
            f"--data.data_dir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert str(tmp_path / "snli_cad" / "train.jsonl") in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "override,named",
    [
        ("--model.cell=transformer", "model.cell"),
        ("--model.nonsense=1", "nonsense"),
        ("--data.train=[nope/train]", "nope"),
        ("--trainer.max_epochs=many", "max_epochs"),
    ],
)
def test_a_bad_config_is_named(tmp_path, capsys, tiny_recipe, override, named):
    with pytest.raises(SystemExit) as exit_info:
        code = cli.main(tiny_recipe("entailment", tmp_path, override))
        raise SystemExit(code)
    assert exit_info.value.code != 0
    assert named in capsys.readouterr().err


def test_a_bad_config_file_is_named(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  pooling: attention\n")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--config", str(CONFIGS / "entailment.yaml"), "--config", str(bad)])
    assert exit_info.value.code != 0 and "pooling" in capsys.readouterr().err


def test_training_resumes_from_a_checkpoint(tmp_path, tiny_recipe):
    assert cli.main(tiny_recipe("paraphrase", tmp_path)) == 0
    last = next((tmp_path / "paraphrase").glob("version_0/checkpoints/last.ckpt"))
    assert (last.parent / "tokenizer.json").is_file()
    assert cli.main(tiny_recipe("paraphrase", tmp_path, "--trainer.max_epochs=2", f"--ckpt_path={last}")) == 0
    assert any("epoch=1" in p.name for p in (tmp_path / "paraphrase").glob("version_1/checkpoints/*.ckpt"))


def test_export_names_a_missing_checkpoint(tmp_path, capsys):
    assert export.main([str(tmp_path / "none.ckpt"), "--out", str(tmp_path / "out")]) != 0
    assert "none.ckpt" in capsys.readouterr().err
