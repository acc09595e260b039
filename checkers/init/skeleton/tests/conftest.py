"""The tests check this course alone, whatever other courses are installed beside it."""

import os

os.environ.setdefault("PROOFCHECK_PROOFS", "__PACKAGE__")
