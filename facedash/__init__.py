"""facedash: show what a face-recognition embedding model sees.

The package is a plain library: nothing here imports Streamlit (except
``facedash.ui``), loads a model or touches the disk at import time.
"""

__version__ = "0.1.0"
