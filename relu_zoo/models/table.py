"""Prints the README's model table: parameter counts per model and task (`python -m relu_zoo.models.table`).

Counts are for `activation="relu"` with each builder's defaults; learnable
activations add their parameters (e.g. PReLU: one per channel per layer),
CReLU widens the layer after it.
"""

from relu_zoo import tasks
from relu_zoo.models import create_model, list_models, model_modalities

# One representative task per input shape; others of the same modality differ only in shape/classes.
TABLE_TASKS = ("mnist", "cifar10", "imdb_reviews", "spoken_digit")
TABLE_ACTIVATIONS = ("relu", "prelu")


def parameter_counts():
    """{(model, task, activation): count} for every model that fits each table task."""
    counts = {}
    for model in list_models():
        for task in TABLE_TASKS:
            spec = tasks.get(task).spec
            if spec.modality not in model_modalities(model):
                continue
            for activation in TABLE_ACTIVATIONS:
                counts[(model, task, activation)] = create_model(model, task=task, activation=activation).count_params()
    return counts


def markdown(counts=None):
    counts = parameter_counts() if counts is None else counts
    header = "| model | " + " | ".join(f"{t} (relu / prelu)" for t in TABLE_TASKS) + " |"
    lines = [header, "|---|" + "---|" * len(TABLE_TASKS)]
    for model in list_models():
        cells = []
        for task in TABLE_TASKS:
            if (model, task, "relu") in counts:
                cells.append(f"{counts[(model, task, 'relu')]:,} / {counts[(model, task, 'prelu')]:,}")
            else:
                cells.append("–")
        lines.append(f"| `{model}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
