"""StyleCLIP beyond global directions: the latent optimizer and the per-prompt latent mapper.

    from stylepaint.styleclip import optimize, train_mapper
    for info in optimize(G, clip, ws, "curly hair", neutral="hair"):   # a job: progress, then the edit
        ...
    step = info["edit"]                  # an EditStep(method="optimize") holding its StyleSpace Δ

Both minimise the same objective (``objective.Objective``); both produce a StyleSpace shift at
α = 1 (``objective.ws_shift`` maps a W+ change to it exactly: the style affines are linear), so
α scales every method the same way and ``directions.apply_steps`` replays them.
"""

from stylepaint.styleclip.mapper import LatentMapper, load_mapper, mapper_path, save_mapper, train_mapper
from stylepaint.styleclip.objective import LossWeights, Objective, ws_shift
from stylepaint.styleclip.optimizer import OptimizeParams, optimize

__all__ = ["LatentMapper", "LossWeights", "Objective", "OptimizeParams", "load_mapper", "mapper_path",
           "optimize", "save_mapper", "train_mapper", "ws_shift"]
