"""Reports of a lower-is-better metric (bits per byte): the paired verdict, P(A > B) and the tables read it the
right way round; accuracy reports are unchanged."""

import pytest

from relu_zoo.run import metrics, report, stats


def _run(act, seed, bpb, acc=0.5):
    return {"run_id": f"imdb_bytes__decoder__{act}__seed{seed}", "task": "imdb_bytes", "model": "decoder",
            "activation": act, "seed": seed, "status": "ok", "diverged_epoch": None, "epochs": 1, "history": [],
            "metric": "bits_per_byte", "test_bits_per_byte": bpb, "test_accuracy": acc, "test_loss": bpb * 0.69,
            "params": 100, "mean_epoch_time": 1.0, "config": {"activations": ["relu", "swiglu", "gelu"]}}


def test_paired_difference_of_a_lower_is_better_metric():
    lower = stats.paired_difference({0: 1.90, 1: 1.91, 2: 1.92}, {0: 2.00, 1: 2.02, 2: 2.01}, lower_is_better=True)
    stats.adjust([lower])
    assert lower["mean_diff"] < 0 and lower["verdict"] == "better" and lower["prob_improvement"] == 1.0
    higher = stats.paired_difference({0: 1.90, 1: 1.91, 2: 1.92}, {0: 2.00, 1: 2.02, 2: 2.01})
    stats.adjust([higher])
    assert higher["verdict"] == "worse" and higher["prob_improvement"] == 0.0


def test_summary_and_tables_of_a_bits_per_byte_comparison():
    runs = ([_run("relu", s, 2.00 + 0.01 * s) for s in range(3)]
            + [_run("swiglu", s, 1.95 + 0.01 * s + 0.001 * (s % 2)) for s in range(3)]
            + [_run("gelu", s, 2.05 + 0.01 * s - 0.001 * (s % 2), acc=0.9) for s in range(3)])
    group, = report.summarize(runs)
    assert group["metric"] == "bits_per_byte"
    rows = {row["activation"]: row for row in group["rows"]}
    assert rows["swiglu"]["vs_baseline"]["verdict"] == "better"  # lower bits per byte
    assert rows["gelu"]["vs_baseline"]["verdict"] == "worse"  # though its accuracy is higher
    assert rows["swiglu"]["score"]["mean"] == pytest.approx(1.9603, abs=1e-4)
    text = report.render_markdown([group], runs, [])
    assert "| activation | runs | test bits per byte (lower is better) | test loss | Δ (bits per byte) |" in text
    assert "| swiglu | 3 | 1.9603 ± 0.0100" in text and "**better**" in text
    assert "Better than relu (Holm-adjusted p < 0.05): swiglu." in text and "Worse than relu: gelu." in text
    with pytest.raises(ValueError, match="different metrics"):
        metrics.of_results([runs[0], {**runs[1], "metric": "accuracy"}])


def test_records_without_a_metric_are_accuracy():
    assert metrics.of_results([{"test_accuracy": 0.9}]) is metrics.ACCURACY
    assert metrics.ACCURACY.value({"test_accuracy": 0.9}) == 0.9
    assert metrics.BITS_PER_BYTE.fmt(1.23456) == "1.2346" and metrics.ACCURACY.fmt(0.5, sign=True) == "+50.00"
