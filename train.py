#!/usr/bin/env python
"""Compare ReLU-family activations on TensorFlow Datasets. `python train.py --help` for the options.

A thin wrapper: the logic lives in relu_zoo.cli / relu_zoo.run.
"""

import sys

from relu_zoo.cli import main

if __name__ == "__main__":
    sys.exit(main())
