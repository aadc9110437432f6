"""Photos to aligned faces to embeddings: detection, alignment, reading a set, the embedding pipeline.

Imports the base, ``facedash.data`` and ``facedash.models``. ``facedash.faces.types`` is the
exception: plain types every layer may use, importing nothing of facedash.
"""
