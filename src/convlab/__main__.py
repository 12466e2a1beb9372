"""`python -m convlab …` (and `torchrun -m convlab …`) run the CLI."""

import sys

from .cli import main

sys.exit(main())
