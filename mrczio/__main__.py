import sys

from mrczio.cli import main

sys.exit(main())
