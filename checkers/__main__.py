"""`python -m checkers` runs the proofcheck command line."""

import sys

from checkers.cli import main

sys.exit(main())
