"""The language-model studies (glu_variants, squared_relu): bits per byte compared the right way round, the
verdict's words, the seeds-to-precision target, and the whole path on records and on mock data."""

import json

import numpy as np
import pytest

from relu_zoo.run import stats
from relu_zoo.run.store import atomic_write_json
from relu_zoo.studies import bits, common, glu_variants, restate_study, run_study, squared_relu

CELL = "imdb_bytes_decoder"


def _record(act, seed, bpb):
    return {"run_id": f"imdb_bytes__decoder__{act}__seed{seed}", "task": "imdb_bytes", "model": "decoder",
            "activation": act, "seed": seed, "status": "ok", "diverged_epoch": None, "epochs": 1,
            "metric": "bits_per_byte", "test_bits_per_byte": bpb, "test_accuracy": 0.5, "test_loss": bpb * 0.693,
            "params": 875520, "history": [{"epoch": 0, "val_accuracy": 0.5}], "mean_epoch_time": 1.0}


def _records(means, seeds=(0, 1, 2), noise=0.002):
    """Records whose bits per byte are `means[act]` plus a per-seed shift shared by every activation (what
    common random numbers give) and a little noise of their own."""
    rng = np.random.default_rng(0)
    shared = {s: 0.05 * rng.normal() for s in seeds}
    return [_record(act, s, mean + shared[s] + noise * rng.normal()) for act, mean in means.items() for s in seeds]


def test_lower_bits_per_byte_is_better_and_the_claim_reads_the_gated_units():
    means = {"relu": 2.10, "gelu": 2.09, "silu": 2.10, "glu": 2.10, "bilinear": 2.06, "geglu": 2.03,
             "swiglu": 2.03, "reglu": 2.05}
    analysis = glu_variants.analyze({CELL: _records(means)}, False, None)
    found = analysis["comparisons"]
    assert found["swiglu"]["mean_diff"] == pytest.approx(0.07, abs=0.01)  # bits saved over relu
    assert found["swiglu"]["verdict"] == "better" and found["geglu"]["verdict"] == "better"
    assert found["glu"]["verdict"] != "better"
    verdict = glu_variants.verdict(analysis)
    assert verdict.startswith("**Supported for bilinear and geglu and swiglu and reglu, ")
    assert "best gated unit geglu" in verdict or "best gated unit swiglu" in verdict
    order = glu_variants.ordering(analysis)
    assert order["rho"] > 0.5  # these means follow the paper's order closely
    assert f"The order of the 8 beside the paper's: Spearman's ρ = {order['rho']:+.2f}" in verdict
    worse = glu_variants.analyze({CELL: _records({**means, "swiglu": 2.20, "geglu": 2.20, "reglu": 2.20,
                                                  "bilinear": 2.20, "glu": 2.20})}, False, None)
    assert glu_variants.verdict(worse).startswith("**Not supported here**")


def test_squared_relu_claim_is_against_gelu():
    analysis = squared_relu.analyze({CELL: _records({"gelu": 2.05, "squared_relu": 2.00, "relu": 2.08})}, False, None)
    assert analysis["comparisons"]["squared_relu"]["verdict"] == "better"
    assert analysis["comparisons"]["relu"]["verdict"] == "worse"
    assert squared_relu.verdict(analysis).startswith("**Supported**: squared ReLU against GELU, +0.04")
    tie = squared_relu.analyze({CELL: _records({"gelu": 2.05, "squared_relu": 2.05}, noise=0.0005)}, False, None)
    assert tie["comparisons"]["squared_relu"]["verdict"] == "equivalent"  # within ±0.01 bits per byte
    assert squared_relu.verdict(tie).startswith("**Not supported here**")
    assert set(squared_relu.activations()) >= {"gelu", "squared_relu", "relu"}


def test_seeds_to_precision():
    # t_{0.975, n-1} * 0.01 / sqrt(n) <= 0.01 first at n = 7 (2.447 / 2.646 = 0.92; n = 6: 2.571 / 2.449 = 1.05).
    assert stats.seeds_for(0.01, 0.01) == 7
    assert stats.seeds_for(0.001, 0.01) == 2 and stats.seeds_for(None, 0.01) is None
    narrow = bits.precision({"a": {"half_width": 0.004, "sd": 0.002}})
    assert narrow["reached"] and narrow["widest_half_width"] == 0.004
    wide = bits.precision({"a": {"half_width": 0.03, "sd": 0.02}, "b": {"half_width": 0.005, "sd": 0.001}})
    assert not wide["reached"] and wide["seeds_needed"] == stats.seeds_for(0.02, bits.TARGET_HALF_WIDTH) > 3
    assert "needs about" in bits.precision_line({"a": {"half_width": 0.03, "sd": 0.02}})


def test_full_cells_are_the_preset_and_quick_cells_are_tiny():
    from relu_zoo.run.spec import load_file, preset_path

    preset = load_file(preset_path("imdb_bytes"))
    for module in (glu_variants, squared_relu):
        (cell_id, overrides), = module.cells(False)
        config = common.cell_config(overrides, False, "/tmp/unused", cell_id)
        for key, value in preset.items():
            if key not in ("activations", "seeds"):
                assert getattr(config, key) == value, key
        (_, quick), = module.cells(True)
        assert common.cell_config(quick, True, "/tmp/unused", cell_id).model_kwargs == bits.QUICK_MODEL
    assert glu_variants.cells(False)[0][1]["activations"] == glu_variants.ACTIVATIONS


def test_a_language_study_reports_and_restates_from_its_records(tmp_path):
    records = _records({"relu": 2.10, "swiglu": 2.04}, seeds=(0, 1))
    for r in records:
        atomic_write_json(tmp_path / "work" / CELL / "runs" / r["run_id"] / "result.json", r)
    path = run_study("glu_variants", out=tmp_path / "out", work=tmp_path / "work", quick=True, train=False,
                     log=lambda *_: None)
    text = path.read_text()
    stored = json.loads((tmp_path / "out" / "results.json").read_text())
    assert stored["runs"][CELL][0]["test_bits_per_byte"] == records[0]["test_bits_per_byte"]
    assert f"## Finding\n\n{stored['verdict']}\n\n" in text and "| swiglu |" in text
    assert "Precision:" in text
    again = restate_study("glu_variants", out=tmp_path / "out", quick=True).read_text()
    assert again == text  # the comparisons follow from results.json alone


@pytest.mark.slow
def test_quick_language_study_trains_on_mock_reviews(tmp_path, mock_tfds):
    log = []
    with mock_tfds(60):
        run_study("squared_relu", out=tmp_path / "out", work=tmp_path / "work", quick=True, log=log.append)
    assert sum("bits per byte" in line for line in log) == 4  # gelu, squared_relu x 2 seeds
    analysis = json.loads((tmp_path / "out" / "results.json").read_text())["analysis"]
    assert analysis["activations"]["squared_relu"]["n"] == 2
    assert 0 < analysis["activations"]["gelu"]["mean"] < 9  # random text, a tiny model: near 8 bits
