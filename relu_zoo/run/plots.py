"""Report figures (matplotlib, PNG): learning curves, the functions and their derivatives, never-active and dead
units, learned parameter trajectories."""

from collections import defaultdict
from pathlib import Path

import keras
import numpy as np

import relu_zoo
from relu_zoo import _io
from relu_zoo.activation_spec import ActivationSpec
from relu_zoo.diagnostics import gradient_of_sum, unit_fractions
from relu_zoo.plugins import output_shape
from relu_zoo.run.store import final_layers, ordered_layers


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (reports are written on machines without a screen)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path, dpi=110):
    """Writes `fig` as a PNG via a temporary name and a rename, like every other result file, and closes it."""
    try:
        _io.atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, bbox_inches="tight"), suffix=".png")
    finally:
        pyplot().close(fig)



def _ordered_activations(summary):
    seen = []
    for group in summary:
        for row in group["rows"]:
            if row["activation"] not in seen:
                seen.append(row["activation"])
    return seen


def validation_curves(results, summary, path):
    plt = pyplot()
    groups = [(g["task"], g["model"]) for g in summary]
    fig, axes = plt.subplots(1, len(groups), figsize=(6 * len(groups), 4), squeeze=False)
    for ax, (task, model) in zip(axes[0], groups):
        curves = defaultdict(list)
        for r in results:
            if (r["task"], r["model"]) == (task, model) and r["status"] == "ok":
                curves[r["activation"]].append([h.get("val_accuracy", np.nan) for h in r["history"]])
        for act in _ordered_activations(summary):
            if act not in curves:
                continue
            length = min(len(c) for c in curves[act])
            values = np.array([c[:length] for c in curves[act]], dtype="float64") * 100
            # Epochs without validation (validation_every; none at all without a validation split) are left out.
            measured = ~np.isnan(values).all(axis=0)
            if not measured.any():
                continue
            values, epochs = values[:, measured], np.arange(1, length + 1)[measured]
            mean = np.nanmean(values, axis=0)
            line, = ax.plot(epochs, mean, marker="o", label=f"{act} (n={len(values)})")
            if len(values) > 1:
                ax.fill_between(epochs, np.nanmin(values, axis=0), np.nanmax(values, axis=0),
                                color=line.get_color(), alpha=0.15)
        if not ax.lines:
            ax.text(0.5, 0.5, "no validation split: these runs trained on the whole training split",
                    ha="center", va="center", transform=ax.transAxes)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_title(f"{task} · {model}: validation accuracy (mean, band = min–max over seeds)")
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy %")
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    save_figure(fig, path)


def functions_and_derivatives(labels, path):
    """f(x) and f'(x) of each activation at its initial/default parameters (RReLU: inference mode; gated
    units: the gate, f(x) = 1 * gate(x)). An activation that draws on its input's context (its record's `ranks`:
    FReLU, DY-ReLU, meta-ACON) has no curve of x alone and is left out."""
    plt = pyplot()
    x = np.linspace(-4, 4, 801, dtype="float32").reshape(-1, 1)
    fig, (ax_f, ax_d) = plt.subplots(1, 2, figsize=(12, 4))
    for label in labels:
        try:
            if ActivationSpec.parse(label).ranks is not None:
                continue
            layer = relu_zoo.get(label)
        except ValueError:  # a plug-in not importable where a report is rebuilt: left out of this figure only
            continue
        gated = output_shape(layer, (None, 2))[-1] == 1  # GLU variants: a * gate(b)

        def f(xt, layer=layer, gated=gated):
            # A gated unit is drawn as its gate: value a = 1, gate input b = x.
            y = layer(keras.ops.concatenate([keras.ops.ones_like(xt), xt], axis=-1) if gated else xt,
                      training=False)
            if y.shape[-1] != 1:  # CReLU: plot its positive half and the negative half's mirror image
                y = y[:, :1] - y[:, 1:]
            return y

        # Each y_i depends on x_i alone: the gradient of the sum is the derivative at every point.
        dy = gradient_of_sum(f, x)
        ax_f.plot(x[:, 0], keras.ops.convert_to_numpy(f(keras.ops.convert_to_tensor(x)))[:, 0], label=label)
        ax_d.plot(x[:, 0], dy[:, 0], label=label)
    ax_f.set_title("activation f(x) (initial parameters)")
    ax_d.set_title("derivative f'(x)")
    for ax in (ax_f, ax_d):
        ax.axhline(0, color="k", lw=0.5)
        ax.axvline(0, color="k", lw=0.5)
        ax.grid(alpha=0.3)
        ax.set_xlabel("x")
    if ax_f.get_legend_handles_labels()[0]:
        ax_f.legend(fontsize=8)
    save_figure(fig, path)


UNIT_METRICS = (
    ("never active", "units never > 0 on the probe batch, %"),
    ("dead", "units with d out/d in = 0 at every probe input, %"),
)


NO_DEAD_UNITS = ("No unit of any activation layer was never active or dead after training, in any run (0.0 % "
                 "everywhere on the probe batch): there is nothing to plot.")


def dead_units(results, summary, path):
    """Two panels per activation layer after training: never-active units and dead (zero-gradient) units.

    Runs recorded before the metrics were split hold only the never-active fraction (`unit_fractions`); their
    dead fraction is unknown and left out of the second panel, which says so when nothing is left.

    Returns False when no run recorded the fractions, `NO_DEAD_UNITS` (and draws nothing, removing an older
    figure) when every recorded fraction is 0: empty bars on an axis around 0 would only look like a plot."""
    plt = pyplot()
    per_act = [defaultdict(lambda: defaultdict(list)) for _ in UNIT_METRICS]  # metric -> act -> layer -> values
    for r in results:
        if r["status"] != "ok":
            continue
        for i, entry in enumerate(v for v in final_layers(r).values() if unit_fractions(v)[0] is not None):
            for k, value in enumerate(unit_fractions(entry)):
                if value is not None:
                    per_act[k][r["activation"]][i].append(value)
    if not per_act[0]:
        return False
    if not any(v for metric in per_act for layers in metric.values() for values in layers.values() for v in values):
        Path(path).unlink(missing_ok=True)
        return NO_DEAD_UNITS
    acts = [a for a in _ordered_activations(summary) if a in per_act[0]]
    n_layers = max(len(v) for v in per_act[0].values())
    width = 0.8 / len(acts)
    fig, axes = plt.subplots(1, 2, figsize=(2 * max(6, 1.2 * n_layers), 4), sharey=True)
    for ax, metric, (title, ylabel) in zip(axes, per_act, UNIT_METRICS):
        for j, act in enumerate(acts):
            means = [100 * np.mean(metric[act][i]) if metric[act].get(i) else np.nan for i in range(n_layers)]
            ax.bar(np.arange(n_layers) + j * width, means, width, label=act)
        if not metric:
            ax.text(0.5, 0.5, "not recorded by these runs", ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks(np.arange(n_layers) + 0.4 - width / 2)
        ax.set_xticklabels([f"act {i + 1}" for i in range(n_layers)])
        ax.set_ylabel(ylabel)
        ax.set_title(f"{title.capitalize()} units per activation layer after training\n(mean over seeds and tasks)")
        ax.grid(alpha=0.3, axis="y")
        ax.tick_params(labelleft=True)
    axes[0].legend(fontsize=8)
    save_figure(fig, path)
    return True


def learned_parameters(results, summary, path):
    plt = pyplot()
    traj = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))  # act -> (layer, param) -> epoch -> means
    for r in results:
        for record in r.get("diagnostics") or []:
            for i, (layer, entry) in enumerate(ordered_layers(record["layers"]).items()):
                for param, st in entry.get("params", {}).items():
                    traj[r["activation"]][(i, param)][record["epoch"]].append(st["mean"])
    if not traj:
        return False
    acts = [a for a in _ordered_activations(summary) if a in traj]
    fig, axes = plt.subplots(1, len(acts), figsize=(5 * len(acts), 4), squeeze=False)
    for ax, act in zip(axes[0], acts):
        for (i, param), by_epoch in sorted(traj[act].items()):
            epochs = sorted(by_epoch)
            ax.plot([e + 1 for e in epochs], [np.mean(by_epoch[e]) for e in epochs], marker=".",
                    label=f"act {i + 1} {param}")
        ax.set_title(f"{act}: learned parameters (layer mean)")
        ax.set_xlabel("epoch (0 = initial)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    save_figure(fig, path)
    return True


def make_all(results, summary, plot_dir):
    """Draws every figure that the results support; returns [(title, filename or None, note or None)]: a note
    says in words what a figure with nothing to show would have shown."""
    plot_dir = Path(plot_dir)
    made = []
    validation_curves(results, summary, plot_dir / "val_accuracy.png")
    made.append(("Validation accuracy per epoch", "val_accuracy.png", None))
    functions_and_derivatives(_ordered_activations(summary), plot_dir / "activations.png")
    made.append(("The activations and their derivatives", "activations.png", None))
    dead = dead_units(results, summary, plot_dir / "dead_units.png")
    if isinstance(dead, str):
        made.append(("Never-active and dead units per layer", None, dead))
    elif dead:
        made.append(("Never-active and dead units per layer", "dead_units.png", None))
    if learned_parameters(results, summary, plot_dir / "learned_params.png"):
        made.append(("Learned activation parameters", "learned_params.png", None))
    return made
