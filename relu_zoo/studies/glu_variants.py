"""GLU variants improve the Transformer: the feed-forward activation of a byte-level language model.

Shazeer 2020 ("GLU Variants Improve Transformer", Table 1) pre-trained T5-base with eight feed-forward activations
at one parameter count (the gated units' hidden width cut to 2/3) and reports the held-out log-perplexity after
65,536 steps: ReLU 1.997, GELU 1.983, Swish 1.994, GLU 1.982, Bilinear 1.960, GEGLU 1.942, SwiGLU 1.944, ReGLU
1.953. Every gated unit beat ReLU. Measured here with the zoo's `decoder` on `imdb_bytes`, the same eight
activations at one parameter count, in test bits per byte.
"""

from scipy import stats as scipy_stats

from relu_zoo.studies import bits, common

TITLE = "GLU variants improve the Transformer: FFN activations of a byte-level language model"
CLAIM = ("Gated linear units in the Transformer's feed-forward layer (GLU, bilinear, GEGLU, SwiGLU, ReGLU) predict "
         "held-out text better than ReLU at the same parameter count (Shazeer 2020).")
SHORT_CLAIM = "GLU variants improve the Transformer (Shazeer 2020)"
BASELINE = "relu"
# Swish with beta 1 is SiLU, the zoo's `silu`.
ACTIVATIONS = ["relu", "gelu", "silu", "glu", "bilinear", "geglu", "swiglu", "reglu"]
GATED = ["glu", "bilinear", "geglu", "swiglu", "reglu"]
QUICK_ACTIVATIONS = ["relu", "swiglu"]
# Shazeer 2020, Table 1: log-perplexity on C4 after 65,536 steps (lower is better).
SHAZEER = {"relu": 1.997, "gelu": 1.983, "silu": 1.994, "glu": 1.982, "bilinear": 1.960, "geglu": 1.942,
           "swiglu": 1.944, "reglu": 1.953}


def cells(quick):
    return bits.cell(QUICK_ACTIVATIONS if quick else ACTIVATIONS, quick)


def setup(quick):
    return [*bits.setup_lines(quick),
            "- Each activation against ReLU, paired by seed, Holm-adjusted over the seven; the claim is the five "
            "gated units'. The order of the eight beside the paper's: Spearman's ρ of the mean bits per byte and "
            "Shazeer's log-perplexities."]


def analyze(results, quick, work):
    analysis = {"activations": bits.activations_summary(results), "baseline": BASELINE, "paper": SHAZEER}
    analysis["comparisons"] = compare(analysis, results)
    return analysis


def compare(analysis, runs):
    """Each activation against ReLU: ReLU's bits per byte minus the activation's, paired by seed."""
    return bits.against_baseline(analysis, runs, BASELINE)


def ordering(analysis):
    """Spearman's ρ (and its p) between the mean bits per byte here and the paper's log-perplexities, over the
    activations both have; None with fewer than three."""
    shared = [a for a, s in analysis["activations"].items() if a in SHAZEER and s.get("mean") is not None]
    if len(shared) < 3:
        return None
    rho, p = scipy_stats.spearmanr([analysis["activations"][a]["mean"] for a in shared], [SHAZEER[a] for a in shared])
    return {"activations": shared, "rho": float(rho), "p": float(p)}


def figures(analysis, dest):
    return bits.figure(analysis["activations"], dest, "bits_per_byte.png",
                       "Test bits per byte per FFN activation (95% CI) beside Shazeer 2020", reference=SHAZEER)


def _parts(analysis):
    found = analysis["comparisons"]
    return [(name, common.outcome(found.get(name), "better")) for name in GATED if name in analysis["activations"]]


def findings(analysis):
    acts, found = analysis["activations"], analysis["comparisons"]
    lines = ["| activation | test bits per byte [95% CI] | vs ReLU (paired) | Shazeer 2020 log-perplexity |",
             "|---|---|---|---|"]
    for act, summary in acts.items():
        versus = "baseline" if act == BASELINE else bits.fmt_saved(found.get(act))
        lines.append(f"| {act} | {bits.fmt_bits(summary)} | {versus} | {SHAZEER.get(act, '–')} |")
    lines.append("")
    order = ordering(analysis)
    if order is not None:
        lines.append(f"Order beside the paper's over {len(order['activations'])} activations: Spearman's ρ = "
                     f"{order['rho']:+.2f} (p = {order['p']:.2g}; +1 is the paper's order).")
    lines.append(bits.precision_line(found))
    return lines


def verdict(analysis):
    parts = _parts(analysis)
    if not parts:
        return "**Inconclusive**: no gated unit and ReLU runs to compare"
    found = analysis["comparisons"]
    best = min((a for a, _ in parts if analysis["activations"][a].get("mean") is not None),
               key=lambda a: analysis["activations"][a]["mean"], default=None)
    detail = f"; best gated unit {best}: {bits.fmt_saved(found.get(best))}" if best else ""
    order = ordering(analysis)
    beside = ("" if order is None else f" The order of the {len(order['activations'])} beside the paper's: "
              f"Spearman's ρ = {order['rho']:+.2f} (p = {order['p']:.2g}).")
    return (f"{common.claim_words(parts)}: gated FFN units against ReLU in test bits per byte{detail}.{beside} "
            f"{bits.precision_line(found)}")
