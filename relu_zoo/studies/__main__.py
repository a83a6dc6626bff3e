"""`python -m relu_zoo.studies NAME [--out DIR] [--work DIR] [--quick]`."""

import sys

from relu_zoo.studies.cli import main

if __name__ == "__main__":
    sys.exit(main())
