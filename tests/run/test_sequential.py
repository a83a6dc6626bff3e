"""`--target-ci`: the planned looks, the corrected intervals' coverage under the stopping rule (simulated with
the rule's own functions), the rule replayed on records, a real sweep in rounds, and bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from relu_zoo import console
from relu_zoo.run import sequential, spec

ROOT = Path(__file__).parents[2]
TINY = ["--task", "mnist", "--model", "cnn", "--max-train-examples", "512", "--max-eval-examples", "256",
        "--batch-size", "64", "--model-kwargs", '{"filters": [8, 16], "dense_units": 16}', "--verbose", "0",
        "--activations", "relu,prelu", "--epochs", "1", "--no-diagnostics"]

needs_mnist = pytest.mark.skipif(
    not (os.environ.get("TFDS_DATA_DIR") and (Path(os.environ["TFDS_DATA_DIR"]) / "mnist").is_dir())
    and not os.environ.get("CI"),
    reason="real mnist not prepared (set TFDS_DATA_DIR); required when CI is set",
)


def config(**overrides):
    return spec.resolve(overrides={"activations": "relu,prelu", **overrides})


def test_looks_double_up_to_the_cap_and_split_alpha_evenly():
    assert sequential.looks(3, 40) == [3, 6, 12, 24, 40]
    assert sequential.looks(3, 24) == [3, 6, 12, 24]
    assert sequential.looks(5, 5) == [5]
    planned = config(target_ci=0.3, max_seeds=40)
    assert sequential.alpha_per_look(planned) == pytest.approx(0.01)
    # A record holds the configuration its sweep started with: the same level read back from it.
    assert sequential.alpha_per_look(spec.identity(planned)) == pytest.approx(0.01)
    assert sequential.alpha_per_look(config()) == sequential.alpha_per_look(None) == 0.05


def test_half_width_is_the_t_interval_along_the_last_axis():
    from scipy import stats

    d = np.array([[0.3, -0.1, 0.5, 0.2], [1.0, 1.0, 1.0, 1.0]])
    low, high = stats.t.interval(0.99, 3, loc=d[0].mean(), scale=stats.sem(d[0]))
    np.testing.assert_allclose(sequential.half_width(d, 0.01), [(high - low) / 2, 0.0])
    assert sequential.half_width([0.4], 0.05) == np.inf  # one pair: no interval, never narrow enough
    assert list(sequential.target_met([[0.2, 0.3], [0.2, 0.31]], 0.3)) == [True, False]


# -- coverage under the stopping rule ---------------------------------------------------------------------------

REPLICATIONS = 4000
TRUE_MEAN = 0.7
# Three standard errors of a 95% coverage estimated from REPLICATIONS.
SLACK = 3 * np.sqrt(0.95 * 0.05 / REPLICATIONS)


def student_t4(rng, size):
    return rng.standard_t(4, size=size) / np.sqrt(2)  # unit variance, heavy tails


def contaminated(rng, size):
    # 90% of seeds with a narrow spread, 10% far out (a run that trained badly).
    return np.where(rng.random(size) < 0.1, 2.5 * rng.normal(size=size), 0.6 * rng.normal(size=size))


def simulate(draw, initial, max_seeds, target, alpha, seed=0):
    """The rule on one paired comparison per replication: (coverage of the interval reported at the look it
    stopped at, {seeds: share of replications that stopped there})."""
    rng = np.random.default_rng(seed)
    differences = TRUE_MEAN + draw(rng, (REPLICATIONS, max_seeds))
    planned = sequential.looks(initial, max_seeds)
    covered, stopped = np.zeros(REPLICATIONS, bool), np.zeros(REPLICATIONS, int)
    for number, n in enumerate(planned, 1):
        width = sequential.half_width(differences[:, :n], alpha)
        now = (stopped == 0) & (sequential.target_met(width[:, None], target) | (number == len(planned)))
        covered[now] = np.abs(differences[now, :n].mean(axis=1) - TRUE_MEAN) <= width[now]
        stopped[now] = n
    return covered.mean(), {n: float(np.mean(stopped == n)) for n in planned}


SETTINGS = [  # (name, draw, initial seeds, max_seeds, target in units of the differences' spread)
    ("normal", lambda rng, size: rng.normal(size=size), 3, 40, 1.0),
    ("normal", lambda rng, size: rng.normal(size=size), 3, 40, 0.6),
    ("t4", student_t4, 3, 40, 0.6),
    ("contaminated", contaminated, 3, 40, 0.6),
]


@pytest.mark.parametrize("name,draw,initial,max_seeds,target", SETTINGS, ids=[f"{s[0]}-{s[4]}" for s in SETTINGS])
def test_the_corrected_interval_keeps_95_percent_coverage_where_the_naive_one_does_not(name, draw, initial,
                                                                                      max_seeds, target):
    alpha = sequential.alpha_per_look(config(seeds=initial, max_seeds=max_seeds, target_ci=target))
    corrected, stops = simulate(draw, initial, max_seeds, target, alpha)
    # Without the correction: every look at 95%, for the rule and for the interval reported.
    naive, naive_stops = simulate(draw, initial, max_seeds, target, 0.05)
    print(f"{name}, target {target}: corrected {corrected:.3f} (stops {stops}), naive {naive:.3f} "
          f"(stops {naive_stops})")
    assert sum(share >= 0.05 for share in stops.values()) >= 2  # the rule stops at different looks
    assert corrected >= 0.95 - SLACK
    # The test can fail: without the correction the rule often stops early on a small spread, and coverage drops.
    assert naive < corrected and naive < 0.95 - SLACK


# -- the rule on records --------------------------------------------------------------------------------------

def record(activation, seed, accuracy, status="ok"):
    return {"run_id": f"mnist__cnn_small__{activation}__seed{seed}", "task": "mnist", "model": "cnn_small",
            "activation": activation, "seed": seed, "status": status, "test_accuracy": accuracy}


def records(differences, diverged=()):
    """relu at 0.9 on every seed, prelu 0.9 + difference (points / 100); `diverged`: prelu seeds that diverged."""
    found = [record("relu", s, 0.9) for s in range(len(differences))]
    return found + [record("prelu", s, None if s in diverged else 0.9 + d / 100, "diverged" if s in diverged else "ok")
                    for s, d in enumerate(differences)]


def test_progress_stops_at_the_first_look_meeting_the_target():
    sweep = config(seeds=3, max_seeds=12, target_ci=0.3)  # looks 3, 6, 12 at 1 - 0.05/3
    spread = [1.0, -0.4, 0.6] + [0.1, 0.2, 0.1, 0.2, 0.1, 0.2] + [0.15] * 3
    found = sequential.progress(records(spread[:6]), sweep)
    assert [look["seeds"] for look in found["seen"]] == [3, 6] and found["stopped"] is None  # 12 not yet trained
    found = sequential.progress(records(spread), sweep)
    assert found["stopped"] == 3 and found["target_met"]
    widths = [look["widest_half_width"] for look in found["seen"]]
    assert widths[-1] == pytest.approx(sequential.half_width(spread, 0.05 / 3)) and widths[-1] <= 0.3 < widths[0]
    assert "met, stopping" in sequential.look_line(found, found["seen"][-1])


def test_a_diverged_run_leaves_its_seed_out_of_the_pair():
    sweep = config(seeds=3, max_seeds=3, target_ci=0.3)
    found = sequential.progress(records([0.1, 0.5, 0.2], diverged={1}), sweep)
    assert found["seen"][0]["widest_half_width"] == pytest.approx(sequential.half_width([0.1, 0.2], 0.05))
    found = sequential.progress(records([0.1, 0.5, 0.2], diverged={0, 1}), sweep)
    assert found["stopped"] == 1 and not found["target_met"] and found["seen"][0]["widest_half_width"] is None
    assert "not reached at 3 seeds: widest half-width undefined" in sequential.outcome(found)


# -- a real sweep in rounds ------------------------------------------------------------------------------------

def run_cli(args):
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], capture_output=True, text=True,
                          timeout=600, cwd=ROOT)


@pytest.mark.slow
@needs_mnist
def test_a_sweep_adds_seeds_in_rounds_stops_and_resumes(tmp_path):
    # A target no interval meets: both looks (3, then 6 seeds) are trained, and the cap ends the sweep.
    out = tmp_path / "cap"
    argv = TINY + ["--seeds", "3", "--target-ci", "0.001", "--max-seeds", "6", "--out", str(out)]
    proc = run_cli(argv)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    trained = [i for i, line in enumerate(lines) if "] test accuracy" in line]
    first_look = next(i for i, line in enumerate(lines) if line.startswith("look 1/2: 3 seeds"))
    assert len(trained) == 12 and sum(i < first_look for i in trained) == 6  # seeds 0-2, then seeds 3-5
    assert "adding seeds" in lines[first_look] and "not met at the cap of 6 seeds" in proc.stdout
    assert "target 0.001 points not reached at 6 seeds: widest half-width" in proc.stdout
    assert "not reached at 6 seeds" in (out / "summary.md").read_text()
    written = json.loads((out / "sequential.json").read_text())
    assert written["looks"] == [3, 6] and written["alpha_per_look"] == 0.025
    assert written["stopped"] == 2 and written["target_met"] is False
    assert [look["seeds"] for look in written["seen"]] == [3, 6]
    # Every record keeps the configuration the sweep started with, so the report reads the design back from it.
    runs = json.loads((out / "results.json").read_text())["runs"]
    assert {r["seed"] for r in runs} == set(range(6)) and {tuple(r["config"]["seeds"]) for r in runs} == {(0, 1, 2)}
    # The same command again trains nothing and comes to the same decision.
    again = run_cli(argv)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "] test accuracy" not in again.stdout and json.loads((out / "sequential.json").read_text()) == written
    # Another first round would change the planned looks, and with them the intervals' level.
    other = run_cli(TINY + ["--seeds", "4", "--target-ci", "0.001", "--max-seeds", "6", "--out", str(out)])
    assert other.returncode == 2 and "started with --seeds 3" in other.stderr
    # A target the first look meets: only its seeds are trained.
    out = tmp_path / "met"
    proc = run_cli(TINY + ["--seeds", "3", "--target-ci", "1000", "--max-seeds", "6", "--out", str(out)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("] test accuracy") == 6 and "look 1/2: 3 seeds" in proc.stdout
    written = json.loads((out / "sequential.json").read_text())
    assert written["stopped"] == 1 and written["target_met"] is True


# -- bad input -----------------------------------------------------------------------------------------------

BAD_INPUTS = [
    (["--target-ci", "0.3", "--max-seeds", "40", "--seeds", "0,5,7"], "no seeds to add"),
    (["--target-ci", "0.3", "--max-seeds", "2", "--seeds", "3"], "`max_seeds` must be at least"),
    (["--max-seeds", "40"], "give --target-ci too"),
    (["--target-ci", "0.3"], "`target_ci` needs `max_seeds`"),
    (["--target-ci", "-0.3", "--max-seeds", "40"], "`target_ci` must be a number > 0"),
    (["--target-ci", "0.3", "--max-seeds", "40", "--seeds", "2"], "at least 3 seeds"),
    (["--target-ci", "0.3", "--max-seeds", "40", "--activations", "relu"], "at least two activations"),
    (["--target-ci", "0.3", "--max-seeds", "40", "--shard", "0/2"], "does not combine with --shard 0/2"),
    (["--target-ci", "0.3", "--max-seeds", "40", "--jobs", "2"], "without --jobs"),
    (["--target-ci", "0.3", "--max-seeds", "40", "--ray"], "without --ray"),
]


@pytest.mark.parametrize("argv,message", BAD_INPUTS)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, message):
    code = console.main(argv + ["--out", str(tmp_path / "out")], prog="train.py")
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.startswith("error: ") and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


def test_relu_zoo_compare_adds_seeds_in_rounds_as_the_command_line_does(tmp_path, monkeypatch):
    from relu_zoo import comparison

    class Rounds(Exception):
        pass

    def rounds(config, **kwargs):
        raise Rounds(config.target_ci)

    monkeypatch.setattr(comparison, "sweep_until", rounds)
    with pytest.raises(Rounds):
        comparison.compare(["relu", "prelu"], seeds=3, target_ci=0.3, max_seeds=6, out=str(tmp_path / "out"))
