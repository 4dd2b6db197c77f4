import sys

from stylepaint.cli import main

sys.exit(main())
