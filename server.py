"""``python server.py run app.py ...``: Streamlit's command line, with the model warm-up started first.

What ``facedash serve`` (and so ``make app``) runs beside ``app.py``, instead of
``python -m streamlit``: the same command line and options, in a process that starts the
warm-up (``facedash.ui.server``; ``FACEDASH_WARM=0``: none) before the server listens.
"""

from facedash.ui.server import main

if __name__ == "__main__":
    main()
