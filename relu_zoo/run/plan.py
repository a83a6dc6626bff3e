"""The grid of a sweep: one `RunSpec` per (task, model, activation, seed), in a fixed order, and its shards."""

import dataclasses
import re

from relu_zoo.activation_spec import ActivationSpec


@dataclasses.dataclass(frozen=True)
class RunSpec:
    task: str
    model: str
    activation: object  # spec as given (string or mapping)
    seed: int

    @property
    def label(self):
        return ActivationSpec.parse(self.activation).label

    @property
    def run_id(self):
        raw = f"{self.task}__{self.model}__{self.label}__seed{self.seed}"
        return re.sub(r"[^A-Za-z0-9_.=-]+", "-", raw)


def run_grid(config):
    """Every run of the sweep, in a stable order (task, model, seed, activation): seed by seed, so that a sweep
    stopped at any point leaves complete pairs of activations on every seed it finished."""
    return [RunSpec(t, m, a, s) for t in config.tasks for m in config.models for s in config.seeds
            for a in config.activations]


def shard_runs(runs, shard):
    """The runs of shard 'i/n': grid positions i, i+n, i+2n, ... (round-robin: balanced, stable for a grid)."""
    if shard is None:
        return list(runs)
    i, n = (int(p) for p in shard.split("/"))
    return [run for position, run in enumerate(runs) if position % n == i]


def runs_of(config):
    """The runs this process is responsible for: the whole grid, or its shard (`config.shard`)."""
    return shard_runs(run_grid(config), config.shard)
