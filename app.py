"""Start the InjectViz web app: ``python app.py`` -> http://127.0.0.1:8080/ (see --help)."""

import sys

from visualizer.app import main

if __name__ == "__main__":
    sys.exit(main())
