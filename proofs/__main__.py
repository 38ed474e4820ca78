"""``python -m proofs`` is ``mstheory``."""

import sys

from proofs.cli import main

sys.exit(main())
