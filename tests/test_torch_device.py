"""model.torch_device: names checked, CUDA asked for without CUDA refused clearly, ``cpu`` (and
``auto`` without a GPU) give exactly today's numbers, and Flower gets a GPU share only when a
point trains on CUDA. No test needs a GPU: CUDA's presence is patched where it matters."""

from __future__ import annotations

import pytest
import torch

from dqfl.config import load_config
from dqfl.errors import DqflError
from dqfl.federation import common
from dqfl.federation.harness import backend_config
from dqfl.quantum.config import ModelConfig, resolve_torch_device
from dqfl.training import evaluate, train_local


def _no_cuda(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)


def _cuda(monkeypatch, count: int) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)


@pytest.mark.parametrize("name", ["gpu", "CPU", "cuda:", "cuda:x", "", "mps"])
def test_unknown_names_are_refused_by_validate(name: str) -> None:
    with pytest.raises(DqflError, match="model.torch_device must be one of cpu, cuda, auto"):
        ModelConfig(torch_device=name).validate()


@pytest.mark.parametrize("name", ["cpu", "cuda", "cuda:1", "auto"])
def test_good_names_pass_validate_on_any_machine(name: str, monkeypatch) -> None:
    _no_cuda(monkeypatch)  # a GPU run's saved config stays readable without a GPU
    ModelConfig(torch_device=name).validate()


def test_cuda_without_cuda_is_a_clear_error(monkeypatch) -> None:
    _no_cuda(monkeypatch)
    assert resolve_torch_device("cpu") == "cpu"
    assert resolve_torch_device("auto") == "cpu"
    for name in ("cuda", "cuda:0"):
        with pytest.raises(DqflError, match="no CUDA device on this machine"):
            resolve_torch_device(name)


def test_cuda_index_is_checked_against_the_machine(monkeypatch) -> None:
    _cuda(monkeypatch, 1)
    assert resolve_torch_device("auto") == "cuda"
    assert resolve_torch_device("cuda:0") == "cuda:0"
    with pytest.raises(DqflError, match="has 1 CUDA device"):
        resolve_torch_device("cuda:1")


def _train(cfg, placed: bool):
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(48, 256, generator=gen)
    y = torch.randint(0, 10, (48,), generator=gen)
    model = common.build(cfg, placed=placed)
    result = train_local(model, x, y, epochs=1, batch_size=16, lr=0.05, seed=1, distill=0.1)
    return result, model.state_dict(), evaluate(model, x, y)


def test_cpu_and_auto_without_gpu_give_todays_numbers(monkeypatch) -> None:
    _no_cuda(monkeypatch)
    today = _train(load_config(None, []), placed=False)  # the model as built before the knob
    for name in ("cpu", "auto"):
        result, state, top1 = _train(load_config(None, [f"model.torch_device={name}"]), True)
        assert result.loss == today[0].loss and result.exit_accuracy == today[0].exit_accuracy
        assert top1 == today[2]
        assert all(torch.equal(v, today[1][k]) and v.device.type == "cpu" for k, v in state.items())


def test_flower_gets_a_gpu_share_only_for_cuda_points(monkeypatch, tmp_path) -> None:
    _no_cuda(monkeypatch)
    cpu_points = [(load_config(None, ["model.torch_device=auto"]), tmp_path)]
    conf = backend_config(cpu_points)
    assert conf["client_resources"]["num_gpus"] == 0.0 and conf["init_args"]["num_gpus"] == 0
    _cuda(monkeypatch, 2)
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    cuda = load_config(None, ["model.torch_device=cuda", "federation.num_cpus_per_client=2"])
    conf = backend_config([(cuda, tmp_path)])
    assert conf["init_args"]["num_gpus"] == 2
    assert conf["client_resources"]["num_gpus"] == pytest.approx(0.5)  # 4 actors on 2 GPUs
    conf = backend_config(cpu_points)  # auto with a GPU present trains there too
    assert conf["client_resources"]["num_gpus"] == pytest.approx(0.25)


def test_evaluate_loads_the_model_on_the_chosen_device(monkeypatch, tmp_path) -> None:
    from dqfl.cli.evaluate_cmd import load_model
    from dqfl.federation.results import MODEL, RunRecorder

    _no_cuda(monkeypatch)
    cfg = load_config(None, ["model.torch_device=cuda"])  # trained on a GPU machine
    state = common.build(cfg).state_dict()
    RunRecorder(cfg, tmp_path).save_model(state)
    with pytest.raises(DqflError, match="no CUDA device"):
        load_model(tmp_path / MODEL)  # the run's own device, absent here
    cfg2, model = load_model(tmp_path / MODEL, "auto")
    assert cfg2.model.torch_device == "auto"
    assert all(p.device.type == "cpu" for p in model.parameters())
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    with pytest.raises(DqflError, match="model.torch_device must be one of"):
        load_model(tmp_path / MODEL, "gpu")
