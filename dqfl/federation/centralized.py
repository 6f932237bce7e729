"""The centralised upper bound: one model trained on the union of every vehicle's data.

No Flower and no uplink; each "round" is ``local_epochs`` epochs over the pooled data, followed by
the same per-exit evaluation as the federated runs, so the histories line up.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from dqfl.config import RunConfig
from dqfl.federation import common
from dqfl.federation.record import RoundRecord
from dqfl.federation.results import RunRecorder
from dqfl.seeds import Stream, int_seed

Progress = Any


def run_centralized(
    cfg: RunConfig, out_dir: Path, progress: Progress = None, point: int = 0, n_points: int = 1
) -> dict[str, Any]:
    import torch

    from dqfl.training import evaluate, train_local

    t_start = time.perf_counter()
    torch.set_num_threads(1)
    recorder = RunRecorder(cfg, out_dir)
    fed = cfg.federation
    parts = [common.partition(cfg, v) for v in range(cfg.data.n_vehicles)]
    x = torch.cat([p[0] for p in parts])
    y = torch.cat([p[1] for p in parts])
    xt, yt = common.test_set(cfg)
    model = common.build(cfg, placed=True)
    initial = [float(a) for a in evaluate(model, xt, yt)]
    for r in range(1, fed.rounds + 1):
        t0 = time.perf_counter()
        lr = fed.learning_rate(r - 1)
        result = train_local(
            model,
            x,
            y,
            epochs=fed.local_epochs,
            batch_size=fed.batch_size,
            lr=lr,
            optimizer=fed.optimizer,
            seed=int_seed(cfg.seed, Stream.CENTRAL_TRAINING, r - 1),
            distill=fed.distill,
        )
        top1 = [float(a) for a in evaluate(model, xt, yt)]
        loss = float(result.loss)
        record = RoundRecord(
            round=r,
            top1=top1,
            fleet_top1=top1[-1],
            fleet_top1_delivered=top1[-1],
            lr=lr,
            train_loss=loss if math.isfinite(loss) else None,
            wall_s=time.perf_counter() - t0,
            max_train_s=float(result.seconds),
        )
        recorder.add_round(record)
        common.emit(progress, common.round_event(record, cfg, point, n_points))
    recorder.save_model(model.state_dict())
    params = common.parameter_split(model)
    return recorder.finish(
        {
            "initial_top1": initial,
            "novel_top1": common.novel_top1(cfg, model),
            "wall_s": time.perf_counter() - t_start,
            "parameters_quantum": params["quantum"],
            "parameters_classical": params["classical"],
            "n_vehicles": cfg.data.n_vehicles,
            "engine": "in-process",
        }
    )
