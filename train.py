#!/usr/bin/env python
"""Compare ReLU-family activations on TensorFlow Datasets. `python train.py --help` for the options.

`python train.py [options]` is `relu-zoo train [options]`, and `python train.py report|list|study ...` the
other `relu-zoo` commands: the command line is relu_zoo.console, the logic relu_zoo.run.
"""

import sys

from relu_zoo.console import main

if __name__ == "__main__":
    sys.exit(main(prog="train.py"))
