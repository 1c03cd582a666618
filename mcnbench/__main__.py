import sys

from mcnbench.cli import main

sys.exit(main())
