"""Command line of the studies (`python -m relu_zoo.studies`, `python train.py study`)."""

import argparse
import sys

from relu_zoo.run.spec import ConfigError


def parser():
    from relu_zoo.studies import list_studies

    p = argparse.ArgumentParser(prog="python -m relu_zoo.studies",
                                description="Measure a claim about ReLU; resumable: re-run to continue.")
    p.add_argument("name", choices=list_studies(), help="the study")
    p.add_argument("--out", help="where results.json, figures/ and README.md go "
                                 "(default benchmarks/reports/studies/NAME, or runs/studies-quick/NAME with --quick)")
    p.add_argument("--work", help="where the runs are trained (default runs/studies/NAME/runs)")
    p.add_argument("--quick", action="store_true", help="a few hundred examples, for tests: seconds, not evidence")
    p.add_argument("--report-only", action="store_true",
                   help="train nothing: write the results of the runs finished so far (marked partial if some are "
                        "missing)")
    p.add_argument("--data-dir", help="TFDS data folder (default TFDS_DATA_DIR)")
    return p


def main(argv=None):
    from relu_zoo.studies import run_study

    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        path = run_study(args.name, out=args.out, work=args.work, quick=args.quick, data_dir=args.data_dir,
                         train=not args.report_only)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"Wrote {path}")
    return 0
