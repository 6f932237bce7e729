"""The centralised upper bound: one model trained on the union of every vehicle's data.

No Flower and no uplink; each "round" is ``local_epochs`` epochs over the pooled data, followed by
the same per-exit evaluation as the federated runs, so the histories line up.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from dqfl.config import RunConfig
from dqfl.federation import common
from dqfl.federation.results import RunRecorder

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
    model = common.build(cfg)
    initial = [float(a) for a in evaluate(model, xt, yt)]
    for r in range(1, fed.rounds + 1):
        t0 = time.perf_counter()
        result = train_local(
            model,
            x,
            y,
            epochs=fed.local_epochs,
            batch_size=fed.batch_size,
            lr=fed.learning_rate(),
            optimizer=fed.optimizer,
            seed=common.seed_for(cfg.seed, r - 1, 0),
            distill=fed.distill,
        )
        top1 = [float(a) for a in evaluate(model, xt, yt)]
        row = {
            "round": r,
            "top1": top1,
            "fleet_top1": top1[-1],
            "fleet_top1_delivered": top1[-1],
            "vehicles": [],
            "delivered_depths": [],
            "bits_sent": 0,
            "energy_j": 0.0,
            "failures": 0,
            "rejected": 0,
            "train_loss": float(result.loss),
            "wall_s": time.perf_counter() - t0,
        }
        recorder.add_round(row)
        if progress is not None:
            progress(
                {
                    "event": "round",
                    "point": point,
                    "n_points": n_points,
                    "label": cfg.run_name(),
                    "round": r,
                    "rounds": fed.rounds,
                    "top1": top1,
                    "fleet_top1": top1[-1],
                    "depths": [],
                    "failures": 0,
                    "rejected": 0,
                    "wall_s": row["wall_s"],
                }
            )
    recorder.save_model(model.state_dict())
    params = common.parameter_split(model)
    return recorder.finish(
        {
            "initial_top1": initial,
            "wall_s": time.perf_counter() - t_start,
            "parameters_quantum": params["quantum"],
            "parameters_classical": params["classical"],
            "n_vehicles": cfg.data.n_vehicles,
            "engine": "in-process",
        }
    )
