"""The number a run is judged by: test accuracy (higher is better) for classification tasks, bits per byte
(lower is better) for language modelling. One record per metric says which way is better, how to print it and
the equivalence margin of its verdicts; a run's record names its metric (`result["metric"]`) and holds its value
under `test_<metric>`, so reports and studies read both from the record alone.
"""

import dataclasses

from relu_zoo.run import stats
from relu_zoo.tasks.language import BitsPerByte


@dataclasses.dataclass(frozen=True)
class Metric:
    """How a test metric is compared and printed.

    Attributes:
        name: The key: the result holds `test_<name>`, Keras' history `<name>` and `val_<name>`.
        title: For table headings.
        higher_is_better: Which way a difference is an improvement.
        scale: Printed values are the metric times this (100: accuracy in points).
        unit: The printed unit of a difference ("points", "bits per byte").
        digits: Decimals printed.
        delta: The equivalence margin of verdicts, in the metric's own units.
    """

    name: str
    title: str
    higher_is_better: bool
    scale: float
    unit: str
    digits: int
    delta: float

    def value(self, result):
        """The metric of a finished run's record (None where it diverged)."""
        return result.get(f"test_{self.name}")

    def fmt(self, value, sign=False):
        return "–" if value is None else f"{self.scale * value:{'+' if sign else ''}.{self.digits}f}"


ACCURACY = Metric("accuracy", "test accuracy %", True, 100.0, "points", 2, stats.DELTA)
# 0.01 bits per byte: about the gaps between the GLU variants in Shazeer 2020 (log-perplexity 1.942-1.997 nats per
# token, 0.01-0.08 bits), so a comparison equivalent within it has ruled out differences of that size.
BITS_PER_BYTE = Metric("bits_per_byte", "test bits per byte", False, 1.0, "bits per byte", 4, 0.01)
METRICS = {m.name: m for m in (ACCURACY, BITS_PER_BYTE)}
_BY_MODALITY = {"language": BITS_PER_BYTE}


def for_modality(modality):
    """The metric of a task's modality."""
    return _BY_MODALITY.get(modality, ACCURACY)


def of_results(results):
    """The metric the records of one comparison share (accuracy for records that name none)."""
    names = {r.get("metric", ACCURACY.name) for r in results}
    if len(names) > 1:
        raise ValueError(f"Records of one comparison are scored by different metrics: {', '.join(sorted(names))}.")
    return METRICS[names.pop()] if names else ACCURACY


def compiled(modality):
    """The metrics `model.compile` gets for a task of `modality`: accuracy always (for a language model, of the
    next token), and the task's own where that is another."""
    metric = for_modality(modality)
    return ["accuracy"] + ([BitsPerByte()] if metric is BITS_PER_BYTE else [])
