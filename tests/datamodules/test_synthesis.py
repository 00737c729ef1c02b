"""Synthesis shards carry the settings that made them: a rerun with others is refused (issue 11, item 6)."""

from __future__ import annotations

import dataclasses
import json

import lightning as L
import pytest

from datamodules.synthesis import SETTINGS_FILE, SynthesisDataModule, read_shards, write_shard
from datamodules.transforms.token_editing import EditSettings
from zoo.errors import ZooError

SAMPLER = {"model": "base-lm-tiny", "max_new_tokens": 24, "seed": 0}


def plan(out, **kwargs) -> SynthesisDataModule:
    return SynthesisDataModule(str(out), **{"n_documents": 5, "shard_size": 2, **kwargs})


def write_first_shard(plan_: SynthesisDataModule) -> None:
    write_shard(plan_.shard_path(0), [{**item, "text": f"sampled {item['index']}"}
                                      for item in plan_.items if item["shard"] == 0])


def folder_bytes(folder) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_the_first_run_records_the_settings_and_the_same_settings_resume(tmp_path):
    first = plan(tmp_path / "out")
    settings = first.check_settings({**SAMPLER, "_class_path": "zoo.modules.synthesis.LMSampler"})
    recorded = json.loads((tmp_path / "out" / SETTINGS_FILE).read_text())
    assert recorded == settings and recorded["module"] == SAMPLER, "jsonargparse's private keys are left out"
    assert recorded["data"] == {"source": None, "n_documents": 5, "text_field": "text", "world": {}, "split": None,
                                "split_seed": 0, "first": 0, "count": None, "previous_dir": None, "shard_size": 2}
    write_first_shard(first)
    # Another batch size makes the same shards: it is no setting of theirs.
    assert plan(tmp_path / "out", batch_size=3).check_settings(SAMPLER) == settings
    assert plan(tmp_path / "out").pending_shards() == [1, 2]


@pytest.mark.parametrize("module, data, named", [
    ({**SAMPLER, "seed": 1}, {}, "module.seed 0 -> 1"),
    ({**SAMPLER, "temperature": 0.5}, {}, "module.temperature None -> 0.5"),
    (SAMPLER, {"shard_size": 3}, "data.shard_size 2 -> 3"),
    (SAMPLER, {"n_documents": 6}, "data.n_documents 5 -> 6"),
])
def test_other_settings_on_existing_shards_are_refused_naming_them(tmp_path, module, data, named):
    first = plan(tmp_path / "out")
    first.check_settings(SAMPLER)
    write_first_shard(first)
    before = folder_bytes(tmp_path / "out")
    with pytest.raises(ZooError, match="holds shards made with other settings") as error:
        plan(tmp_path / "out", **data).check_settings(module)
    message = str(error.value)
    assert named in message and "pass a fresh --out folder, or delete" in message and "\n" not in message
    assert folder_bytes(tmp_path / "out") == before, "nothing was written or deleted"


def test_nested_settings_are_named_by_their_path_and_dataclasses_compare_as_dicts(tmp_path):
    first = plan(tmp_path / "out")
    first.check_settings({"prior": "p", "editing": EditSettings()})
    write_first_shard(first)
    plan(tmp_path / "out").check_settings({"prior": "p", "editing": dataclasses.asdict(EditSettings())})
    with pytest.raises(ZooError, match=r"module\.editing\.seed 0 -> 1"):
        plan(tmp_path / "out").check_settings({"prior": "p", "editing": EditSettings(seed=1)})


@pytest.mark.parametrize("record", [None, '{"module": ', b"\xff\xfe"])
def test_shards_without_a_readable_settings_record_are_refused(tmp_path, record):
    write_first_shard(plan(tmp_path / "out"))
    if record is not None:
        path = tmp_path / "out" / SETTINGS_FILE
        path.write_bytes(record) if isinstance(record, bytes) else path.write_text(record)
    with pytest.raises(ZooError, match=f"holds shards but no readable {SETTINGS_FILE}.*pass a fresh --out folder"):
        plan(tmp_path / "out").check_settings(SAMPLER)


def test_a_folder_without_shards_takes_the_new_settings(tmp_path):
    plan(tmp_path / "out").check_settings(SAMPLER)  # a run killed before its first shard
    settings = plan(tmp_path / "out").check_settings({**SAMPLER, "seed": 1})
    assert json.loads((tmp_path / "out" / SETTINGS_FILE).read_text()) == settings


def test_an_output_folder_under_a_file_is_a_one_line_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ZooError, match="a file is in the way") as error:
        plan(tmp_path / "file" / "out").check_settings(SAMPLER)
    assert "\n" not in str(error.value)


class Echo(L.LightningModule):
    """A synthesis module that returns its items: what matters here is its ``seed`` hparam."""

    def __init__(self, seed: int = 0):
        super().__init__()
        self.save_hyperparameters()

    def predict_step(self, batch: list[dict], batch_idx: int) -> list[dict]:
        return batch


def test_predict_checks_the_running_modules_settings(tmp_path):
    """``zoo predict`` (no runner to call check_settings) is covered by the DataModule itself."""
    def predict(seed: int):
        trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False,
                            default_root_dir=tmp_path)
        return trainer.predict(Echo(seed), datamodule=plan(tmp_path / "out"))

    assert len(predict(0)) == 3
    assert json.loads((tmp_path / "out" / SETTINGS_FILE).read_text())["module"] == {"seed": 0}
    write_first_shard(plan(tmp_path / "out"))
    assert len(predict(0)) == 2, "the same settings resume: the written shard is skipped"
    with pytest.raises(ZooError, match="module.seed 0 -> 1"):
        predict(1)
    assert [row["text"] for row in read_shards(tmp_path / "out")] == ["sampled 0", "sampled 1"]


def test_shard_rows_may_hold_any_line_separator(tmp_path):
    """Rows end at "\\n" only: U+2028, U+0085 and \\x1c inside a text are no row ends."""
    texts = ["a\u2028b", "c\x85d", "e\x1cf\rg"]
    write_shard(tmp_path / "shard-00000.jsonl", [{"index": i, "text": text} for i, text in enumerate(texts)])
    assert [row["text"] for row in read_shards(tmp_path)] == texts
