"""`relu_zoo.compare`: the sweep of `relu-zoo train`, called from Python (a notebook), returning its report.

    report = relu_zoo.compare(activations=["relu", "prelu", swish2], tasks=["mnist"], seeds=5, out="runs/swish2")
    report.rows()          # one dict per (task, model, activation): accuracy, Δ to the baseline, p-value, verdict
    report                 # summary.md, rendered in a notebook

It is the same runner (relu_zoo.run.sweep): the same seeds, pairing, diagnostics, resumption and report files.
"""

import dataclasses
import inspect
import json
from pathlib import Path

import keras

from relu_zoo import plugins
from relu_zoo.activation_spec import ActivationSpec
from relu_zoo.run import spec as spec_lib
from relu_zoo.run.distribute import Distribution
from relu_zoo.run.rounds import sweep_until
from relu_zoo.run.sweep import sweep


@dataclasses.dataclass
class Comparison:
    """A finished sweep's report, as data. `summary` and `runs` are what results.json holds."""

    out: Path           # the sweep's folder (runs/, results.json, results.csv, summary.md, plots/)
    config: object      # the resolved `relu_zoo.run.spec.SweepConfig` (a `run.protocol.Protocol` under one)
    summary: list       # per (task, model): baseline and rows (accuracy statistics, paired test vs the baseline)
    runs: list          # every run's record (runs/<run_id>/result.json)
    plots: dict         # figure file name -> path

    @classmethod
    def read(cls, out, config):
        """The report a finished sweep (or protocol) wrote into `out`."""
        data = json.loads((out / "results.json").read_text())
        return cls(out=out, config=config, summary=data["summary"], runs=data["runs"],
                   plots={p.name: p for p in sorted((out / "plots").glob("*.png"))})

    @property
    def summary_path(self):
        return self.out / "summary.md"

    def rows(self):
        """One flat dict per (task, model, activation), in report order: the table of summary.md as data."""
        flat = []
        for group in self.summary:
            for row in group["rows"]:
                test = row.get("vs_baseline") or {}
                flat.append({"task": group["task"], "model": group["model"], "activation": row["activation"],
                             "baseline": group["baseline"], "runs": row["runs"], "diverged": row["diverged"],
                             "accuracy": row["accuracy"]["mean"], "accuracy_std": row["accuracy"]["std"],
                             "loss": row["loss"]["mean"], "delta_accuracy": test.get("mean_diff"),
                             "p_value": test.get("p_value"), "p_adjusted": test.get("p_adjusted"),
                             "verdict": test.get("verdict"), "dead_fraction": row["dead_fraction"],
                             "never_active_fraction": row["never_active_fraction"],
                             "time_ratio": row["time_ratio"]})
        return flat

    def _repr_markdown_(self):  # Jupyter shows the report itself
        return self.summary_path.read_text()

    def __str__(self):
        return self.summary_path.read_text()


def activation_spec(activation):
    """The spec string a sweep records for `activation`: strings and dicts as given, relu_zoo's own layer
    classes by their registered name, other functions, layer classes and factories as "module:qualname"."""
    if isinstance(activation, (str, dict)):
        return activation
    if inspect.isclass(activation) and issubclass(activation, keras.layers.Layer):
        spec = ActivationSpec.parse(activation)
        if spec.builtin:
            return spec.name
    if isinstance(activation, keras.layers.Layer):
        raise spec_lib.ConfigError(f"Activation {activation!r} is a layer instance; a sweep builds a new layer per "
                                   "use, so pass its class, a factory or a spec string.")
    try:
        return plugins.spec_of(activation)
    except plugins.PluginError as e:
        raise spec_lib.ConfigError(str(e)) from None


def _call_text(values):
    return "relu_zoo.compare(" + ", ".join(f"{k}={v!r}" for k, v in values.items()) + ")"


def compare(activations=None, tasks=None, models=None, seeds=None, out=None, preset=None, config=None, log=print,
            protocol=None, **overrides):
    """Runs (or resumes) a sweep, as `relu-zoo train` does, and returns its report as a `Comparison`.

    With `protocol="standard"` (`relu-zoo compare`): `activations` under that protocol's fixed cells and seeds,
    against its stored baselines (relu_zoo.run.protocol); tasks, models, seeds, preset and config are the
    protocol's, and `overrides` may only be settings that change no result (data_dir, verbose).

    Args:
        activations: Specs ("relu", "leaky_relu:negative_slope=0.2", "my_pkg.acts:swish2", an entry-point
            name), or Python objects: a function tensor -> tensor, a keras Layer class or a factory returning a
            layer, defined at the top level of a module (recorded as "module:qualname"; one defined in a
            notebook is "__main__:name", which a later session resolves once it defines it again). The first
            is the baseline.
        tasks, models: Names (`relu-zoo list`).
        seeds: A count (5 -> seeds 0..4) or a list.
        out: The sweep's folder; calling again with the same folder resumes (finished runs are kept).
        preset, config: A shipped preset's name, a YAML/JSON config file, as for `relu-zoo train`.
        log: Where progress lines go.
        **overrides: Any other key of `relu_zoo.run.spec.SweepConfig` (epochs=1, max_train_examples=512, ...).

    Raises:
        relu_zoo.run.spec.ConfigError (a ValueError): a bad key, value or activation, before any training.
    """
    if protocol is not None:
        return _compare_under(protocol, activations, out, log, tasks=tasks, models=models, seeds=seeds,
                              preset=preset, config=config, **overrides)
    given = {"activations": activations, "tasks": tasks, "models": models, "seeds": seeds, "out": out, **overrides}
    given = {k: v for k, v in given.items() if v is not None}
    if "activations" in given and not isinstance(given["activations"], str):  # a string: "relu,prelu" as on the CLI
        given["activations"] = [activation_spec(a) for a in given["activations"]]
    resolved = spec_lib.resolve(preset, config, given, check=False)
    # Devices and strategies are set up before anything creates a tensor (validation builds layers).
    distribution = Distribution(resolved.distribute, resolved.cpu_devices)
    spec_lib.validate(resolved)
    run = sweep_until if resolved.target_ci is not None else sweep  # seeds added in rounds, as on the command line
    summary_path = run(resolved, log=log, command=_call_text({**({"preset": preset} if preset else {}),
                                                               **({"config": config} if config else {}), **given}),
                       distribution=distribution)
    if summary_path is None:
        raise RuntimeError(f"Some runs of {resolved.out!r} are still being trained by other processes; call "
                           "compare again when they finish to get the report.")
    return Comparison.read(Path(summary_path).parent, resolved)


def _compare_under(protocol, activations, out, log, **fixed):
    from relu_zoo.run import protocol as protocols

    fixed = {k: v for k, v in fixed.items() if v is not None}
    settings = {k: fixed.pop(k) for k in list(fixed) if k in spec_lib.NON_IDENTITY_KEYS}
    if fixed:
        raise spec_lib.ConfigError(f"Protocol {protocol!r} fixes {', '.join(sorted(fixed))}; pass only "
                                   f"activations, out and {', '.join(spec_lib.NON_IDENTITY_KEYS)}.")
    if isinstance(activations, str):
        activations = [a for a in activations.split(",") if a]
    specs = [activation_spec(a) for a in activations or []]
    path = protocols.compare(specs, protocol, out, settings=settings, log=log,
                             command=_call_text({"activations": specs, "protocol": protocol}))
    return Comparison.read(Path(path).parent, protocols.load(protocol) if isinstance(protocol, str) else protocol)
