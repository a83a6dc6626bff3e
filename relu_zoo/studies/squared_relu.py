"""Squared ReLU beats GELU: the feed-forward activation of a byte-level language model.

So et al. 2021 (Primer, §4) found by search that squaring the ReLU of a Transformer's feed-forward layer lowers the
language-modelling loss at every size they tried, and more than GELU does; modded-nanogpt's GPT-2 speedruns train
with it. Measured here with the zoo's `decoder` on `imdb_bytes` in test bits per byte: squared ReLU against GELU
(the claim), with ReLU, and xIELU (Huang et al. 2025, which reports beating squared ReLU) where the zoo has it, as
context.
"""

from relu_zoo.studies import bits, common

TITLE = "Squared ReLU beats GELU: FFN activations of a byte-level language model"
CLAIM = ("Squared ReLU in the Transformer's feed-forward layer predicts held-out text better than GELU (So et al. "
         "2021, Primer; the activation of modded-nanogpt).")
SHORT_CLAIM = "Squared ReLU beats GELU (Primer)"
BASELINE = "gelu"
CANDIDATE = "squared_relu"
CONTEXT = ["relu", "xielu"]
QUICK_ACTIVATIONS = [BASELINE, CANDIDATE]


def activations():
    """GELU, squared ReLU, and the context activations the zoo has (xIELU may not be in every version)."""
    from relu_zoo import list_activations

    known = set(list_activations())
    return [BASELINE, CANDIDATE, *(a for a in CONTEXT if a in known)]


def cells(quick):
    return bits.cell(QUICK_ACTIVATIONS if quick else activations(), quick)


def setup(quick):
    return [*bits.setup_lines(quick),
            "- Squared ReLU, ReLU and xIELU against GELU, paired by seed, Holm-adjusted over the comparisons; the "
            "claim is squared ReLU's."]


def analyze(results, quick, work):
    analysis = {"activations": bits.activations_summary(results), "baseline": BASELINE}
    analysis["comparisons"] = compare(analysis, results)
    return analysis


def compare(analysis, runs):
    """Each activation against GELU: GELU's bits per byte minus the activation's, paired by seed."""
    return bits.against_baseline(analysis, runs, BASELINE)


def figures(analysis, dest):
    return bits.figure(analysis["activations"], dest, "bits_per_byte.png",
                       "Test bits per byte per FFN activation (95% CI)")


def findings(analysis):
    acts, found = analysis["activations"], analysis["comparisons"]
    lines = ["| activation | test bits per byte [95% CI] | vs GELU (paired) |", "|---|---|---|"]
    for act, summary in acts.items():
        versus = "baseline" if act == BASELINE else bits.fmt_saved(found.get(act))
        lines.append(f"| {act} | {bits.fmt_bits(summary)} | {versus} |")
    lines += ["", bits.precision_line(found)]
    return lines


def verdict(analysis):
    found = analysis["comparisons"]
    if CANDIDATE not in found:
        return "**Inconclusive**: no squared ReLU and GELU runs to compare"
    words = common.claim_words([(CANDIDATE, common.outcome(found[CANDIDATE], "better"))])
    return (f"{words}: squared ReLU against GELU, {bits.fmt_saved(found[CANDIDATE])}. "
            f"{bits.precision_line(found)}")
